package server

import (
	"github.com/labstack/echo/v4"

	"github.com/authgate/authgate/authsvc"
	"github.com/authgate/authgate/gateway/internal/adminapi"
)

// adminOnly lets through only a signed-in admin: the access token from the Bearer
// header or the access cookie, as /api/auth/me reads it, and its live session's role
// (so a demotion or a revocation counts on the very next request). No token: 401 "You
// are not logged in"; a bad token or a gone session: the seed's other 401s; any other
// role: 403. The admin is passed on to the handlers (adminapi.WithActor, for their
// "admin action" lines) and to the core (authsvc.WithActor: the audit log's actor).
func (s *Server) adminOnly(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		id, err := s.deps.Auth.Authenticate(r.Context(), s.deps.Jar.AccessToken(r))
		if err != nil {
			return err
		}
		if id.Role != authsvc.RoleAdmin {
			return authsvc.ErrForbidden
		}
		ctx := authsvc.WithActor(r.Context(), id.UserID)
		c.SetRequest(r.WithContext(adminapi.WithActor(ctx, id)))
		return next(c)
	}
}
