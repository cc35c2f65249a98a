package server

import (
	"github.com/labstack/echo/v4"

	"github.com/authgate/authgate/authsvc"
)

// adminOnly lets through requests of a signed-in admin: the access token (the Bearer
// header, else the cookie) is authenticated like /api/auth/me and its session's role
// must be admin. The request's context then names the admin as the actor of what
// follows (the audit log). Errors: authsvc.ErrNotLoggedIn, ErrInvalidToken,
// ErrSessionExpired (401s), ErrForbidden (403), ErrUnavailable.
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
		c.SetRequest(r.WithContext(authsvc.WithActor(r.Context(), id.UserID)))
		return next(c)
	}
}
