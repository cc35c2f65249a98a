package server

import (
	"github.com/labstack/echo/v4"

	"github.com/authgate/authgate/gateway/internal/authz"
	"github.com/authgate/authgate/gateway/internal/routing"
)

// forward is the hot path for every path the gateway does not serve itself:
// decide (path check → route → authenticate → authorise) → forward with identity
// headers. Client identity headers were already removed by stripClientHeaders.
func (rt *runtime) forward(s *Server) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		d, err := rt.decider.Decide(r.Context(), authz.Request{
			Method:      r.Method,
			Host:        routing.HostOnly(s.deps.Trust.Host(r)),
			Path:        r.URL.Path,
			EscapedPath: r.URL.EscapedPath(),
			Token:       s.deps.Jar.AccessToken(r),
		})
		if err != nil {
			return err
		}
		if d.Authenticated {
			c.Set(ctxUserID, d.Identity.UserID)
		}
		rt.proxy.Forward(c.Response(), r, d)
		return nil
	}
}
