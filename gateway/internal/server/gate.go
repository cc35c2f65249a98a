package server

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/authgate/authgate/authsvc"
	"github.com/authgate/authgate/gateway/internal/policy"
	"github.com/authgate/authgate/gateway/internal/proxy"
)

// forward is the hot path for every path the gateway does not serve itself:
// path check → route → authenticate → authorise → forward with identity headers.
// Client identity headers were already removed by stripIdentityHeaders.
func (s *Server) forward(c echo.Context) error {
	r := c.Request()
	if err := policy.CheckPath(r.URL.Path, r.URL.EscapedPath()); err != nil {
		return err
	}
	route, ok := s.deps.Routes.Match(r.Method, r.URL.Path)
	if !ok {
		return errRouteNotFound
	}
	if !route.Public() {
		id, err := s.decide(r, route)
		if err != nil {
			return err
		}
		c.Set(ctxUserID, id.UserID)
		r = r.WithContext(proxy.WithIdentity(r.Context(), proxy.Identity{UserID: id.UserID, Role: id.Role}))
	}
	s.proxy.ServeRoute(c.Response(), r, route)
	return nil
}

// decide is the decision core shared by the proxy and (later) the forward-auth
// endpoints: authenticate exactly as the seed did, then apply the route's policy.
// Errors: authsvc.ErrNotLoggedIn, ErrInvalidToken, ErrSessionExpired, ErrUnavailable,
// ErrForbidden.
func (s *Server) decide(r *http.Request, route *policy.Route) (authsvc.Identity, error) {
	id, err := s.deps.Auth.AuthenticateRequest(r)
	if err != nil {
		return authsvc.Identity{}, err
	}
	if !route.Allows(id.Role) {
		return id, authsvc.ErrForbidden
	}
	return id, nil
}
