package server

import (
	"net/http"

	"github.com/labstack/echo/v4/middleware"
)

// routes lists every path the gateway serves; anything else goes through the route table
// to an upstream (gate.go).
func (s *Server) routes() {
	e := s.echo
	e.Pre(s.stripIdentityHeaders, s.requestID)
	e.Use(s.recover, s.accessLog, middleware.CORSWithConfig(corsConfig(s.deps.CORSOrigins)))

	read := []string{http.MethodGet, http.MethodHead} // Express answers HEAD on GET routes
	e.Match(read, "/healthz", s.healthz)
	e.Match(read, "/readyz", s.readyz)
	e.Match(read, "/api/healthChecker", s.healthChecker)

	a := s.deps.Accounts
	auth := e.Group("/api/auth", middleware.BodyLimit(s.deps.BodyLimit))
	auth.POST("/register", a.Register)
	auth.POST("/login", a.Login)
	auth.GET("/refresh", a.Refresh)
	auth.GET("/logout", a.Logout)
	auth.POST("/logout", a.Logout)
	auth.Match(read, "/me", a.Me)

	e.Any("/*", s.forward)
}
