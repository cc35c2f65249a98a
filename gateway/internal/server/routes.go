package server

import (
	"github.com/labstack/echo/v4/middleware"
)

// routes lists every path the gateway serves; anything else goes through the route table
// to an upstream (gate.go).
func (s *Server) routes() {
	e := s.echo
	e.Pre(s.stripIdentityHeaders, s.requestID)
	e.Use(s.recover, s.accessLog, middleware.CORSWithConfig(corsConfig(s.deps.CORSOrigins)))

	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	e.GET("/api/healthChecker", s.healthChecker)

	a := s.deps.Accounts
	auth := e.Group("/api/auth", middleware.BodyLimit(s.deps.BodyLimit))
	auth.POST("/register", a.Register)
	auth.POST("/login", a.Login)
	auth.GET("/refresh", a.Refresh)
	auth.GET("/logout", a.Logout)
	auth.POST("/logout", a.Logout)
	auth.GET("/me", a.Me)

	e.Any("/*", s.forward)
}
