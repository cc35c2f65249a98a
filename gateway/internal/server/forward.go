package server

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/authgate/authgate/gateway/internal/authz"
	"github.com/authgate/authgate/gateway/internal/cookies"
	"github.com/authgate/authgate/gateway/internal/forwardauth"
	"github.com/authgate/authgate/gateway/internal/httperr"
	"github.com/authgate/authgate/gateway/internal/routing"
)

// forward is the hot path for every path the gateway does not serve itself:
// decide (path check → route → authenticate → authorise) → forward with identity
// headers. Client identity headers were already removed by stripClientHeaders.
//
// A browser's page load may be proved by the refresh cookie (the access cookie expires
// with its token): the page loads, and the response carries a new access cookie. An API
// request keeps the seed's 401 "You are not logged in", on which the seed client
// refreshes. A page load that must sign in is sent to the sign-in page and back.
func (rt *runtime) forward(s *Server) echo.HandlerFunc {
	return func(c echo.Context) error {
		r, w := c.Request(), c.Response()
		jar := s.deps.Jar
		_, bearer := cookies.BearerToken(r)
		page := httperr.WantsHTML(r)
		req := authz.Request{
			Method:      r.Method,
			Host:        routing.HostOnly(s.deps.Trust.Host(r)),
			Path:        r.URL.Path,
			EscapedPath: r.URL.EscapedPath(),
			Token:       jar.AccessToken(r),
			CookieAuth:  !bearer,
			CrossSite:   s.deps.CSRF.Check(r) != nil,
		}
		if page {
			req.RefreshToken = jar.RefreshToken(r)
		}
		d, err := rt.decider.Decide(r.Context(), req)
		switch {
		case err == nil:
		case page && authz.SignInNeeded(err):
			w.Header().Set("Cache-Control", "no-store")
			rd := r.URL.RequestURI()
			if !strings.HasPrefix(s.deps.SignInURL, "/") { // a sign-in page on another host needs the way back in full
				rd = s.deps.Trust.Scheme(r) + "://" + s.deps.Trust.Host(r) + rd
			}
			return c.Redirect(http.StatusFound, forwardauth.SignInURL(s.deps.SignInURL, rd))
		default:
			return err
		}
		if d.Authenticated {
			setUserID(w, d.Identity.UserID)
			if d.ByRefresh {
				if g, err := s.deps.Tokens.IssueAccess(d.Identity); err == nil {
					jar.SetGrant(w, r, g)
				}
			}
		}
		// The proxy writes to the writer under Echo's: Echo's Response takes a first
		// WriteHeader as final and would drop the real status after a 103 Early Hints.
		rt.proxy.Forward(w.Writer, r, d)
		return nil
	}
}
