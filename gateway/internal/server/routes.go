package server

import (
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/authgate/authgate/gateway/internal/wellknown"
)

// routes lists every path the gateway serves itself; anything else, in any method
// (extension methods such as MKCOL too), goes through the route table to an upstream
// (forward.go). Every request first passes the edge (edge.go: panics, h2c, identity
// headers, request id, CORS, access log).
func (s *Server) routes(e *echo.Echo, rt *runtime) {
	read := []string{http.MethodGet, http.MethodHead} // Express answers HEAD on GET routes
	e.Match(read, "/healthz", s.healthz)
	e.Match(read, "/readyz", s.readyz)
	e.Match(read, "/api/healthChecker", s.healthChecker)
	// The public keys of access tokens and identity assertions, for upstreams.
	e.Match(read, wellknown.JWKSPath, s.deps.WellKnown.JWKS)

	a := s.deps.API
	auth := e.Group("/api/auth", middleware.BodyLimit(s.deps.BodyLimit), noStore, s.withClient)
	auth.POST("/register", a.Register, s.sameSite)
	auth.POST("/login", a.Login, s.sameSite)
	auth.GET("/refresh", a.Refresh, s.sameSiteState) // GET, but it rotates tokens
	auth.GET("/logout", a.Logout, s.sameSiteState)   // GET, but it ends the session
	auth.POST("/logout", a.Logout, s.sameSite)
	auth.Match(read, "/me", a.Me)
	// Email verification and password reset: the code is in the path (the seed's
	// contract), so these routes log their pattern instead (SECURITY.md E4).
	em := s.deps.Email
	auth.GET("/verifyemail/:verificationCode", em.VerifyEmail, redactPath)
	auth.POST("/forgotpassword", em.ForgotPassword, s.sameSite)
	auth.PATCH("/resetpassword/:resetToken", em.ResetPassword, redactPath, s.sameSite)
	// A signed-in user's own sessions and password: each revocation reaches every
	// replica and closes the revoked sessions' WebSockets.
	acct := s.deps.Account
	auth.Match(read, "/sessions", acct.Sessions)
	auth.DELETE("/sessions/:id", acct.RevokeSession, s.sameSite)
	auth.POST("/logout-all", acct.LogoutAll, s.sameSite)
	auth.POST("/password", acct.ChangePassword, s.sameSite)

	// The browser sign-in page (SECURITY.md H6 for rd): login CSRF is refused like the
	// JSON API's, and a link on another site cannot sign anyone out.
	lu := s.deps.Login
	e.Match(read, "/login", lu.Page)
	e.POST("/login", lu.SignIn, middleware.BodyLimit(s.deps.BodyLimit), s.sameSite, s.withClient)
	e.GET("/logout", lu.Logout, s.sameSiteState, s.withClient)
	e.POST("/logout", lu.Logout, middleware.BodyLimit(s.deps.BodyLimit), s.sameSite, s.withClient)

	// The admin API: a signed-in admin only (admin.go); unsafe methods refuse cross-site
	// requests riding the cookies (SECURITY.md C3).
	// The whole /api/admin prefix is the gateway's: nothing under it is proxied.
	ad := s.deps.Admin
	admin := e.Group("/api/admin", middleware.BodyLimit(s.deps.BodyLimit), noStore, s.withClient, s.adminOnly)
	admin.Match(read, "/users", ad.ListUsers)
	admin.Match(read, "/users/:id", ad.GetUser)
	admin.PATCH("/users/:id", ad.UpdateUser, s.sameSite)
	admin.DELETE("/users/:id", ad.DeleteUser, s.sameSite)
	admin.Match(read, "/users/:id/sessions", ad.ListSessions)
	admin.DELETE("/users/:id/sessions", ad.RevokeSessions, s.sameSite)
	admin.DELETE("/users/:id/sessions/:sid", ad.RevokeSession, s.sameSite)
	admin.Match(read, "/bans", s.deps.Bans.List)
	admin.DELETE("/bans/:id", s.deps.Bans.Lift, s.sameSite)
	admin.Match(read, "/audit", s.deps.Audit.Events)

	// Forward auth for proxies in front (any method: the original's is in the headers).
	fa := rt.forwardAuth
	authz := e.Group("/api/authz", middleware.BodyLimit(s.deps.BodyLimit))
	authz.Any("/auth-request", fa.AuthRequest)
	authz.Any("/forward-auth", fa.ForwardAuth)
	authz.Any("/ext-authz", fa.ExtAuthz)
	authz.Any("/ext-authz/*", fa.ExtAuthz)
	authz.RouteNotFound("/ext-authz/*", fa.ExtAuthz)

	e.Any("/*", rt.forward(s))
	e.RouteNotFound("/*", rt.forward(s))
}
