package server

import (
	"github.com/labstack/echo/v4"

	"github.com/authgate/authgate/authsvc"
)

// withClient puts the client's address (from trusted proxies only, SECURITY.md H3) and
// User-Agent into the request's context, where the account core finds them for the
// audit events the request causes. It is on the gateway's own account routes only:
// proxied requests never pay for it.
func (s *Server) withClient(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		cl := authsvc.Client{IP: s.deps.Trust.ClientIP(r), UserAgent: r.UserAgent()}
		c.SetRequest(r.WithContext(authsvc.WithClient(r.Context(), cl)))
		return next(c)
	}
}
