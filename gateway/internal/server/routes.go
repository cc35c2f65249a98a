package server

import (
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// routes lists every path the gateway serves itself; anything else, in any method
// (extension methods such as MKCOL too), goes through the route table to an upstream
// (forward.go).
func (s *Server) routes(e *echo.Echo, rt *runtime) {
	e.Pre(s.stripClientHeaders, s.requestID)
	e.Use(s.accessLog, s.recover, middleware.CORSWithConfig(corsConfig(s.deps.CORSOrigins)))

	read := []string{http.MethodGet, http.MethodHead} // Express answers HEAD on GET routes
	e.Match(read, "/healthz", s.healthz)
	e.Match(read, "/readyz", s.readyz)
	e.Match(read, "/api/healthChecker", s.healthChecker)

	a := s.deps.API
	auth := e.Group("/api/auth", middleware.BodyLimit(s.deps.BodyLimit))
	auth.POST("/register", a.Register)
	auth.POST("/login", a.Login)
	auth.GET("/refresh", a.Refresh)
	auth.GET("/logout", a.Logout)
	auth.POST("/logout", a.Logout)
	auth.Match(read, "/me", a.Me)

	e.Any("/*", rt.forward(s))
	e.RouteNotFound("/*", rt.forward(s))
}
