package server

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

// healthz is liveness: the process serves HTTP, whatever its dependencies do.
func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "success"})
}

// readyz is readiness: 200 when every check passes, else 503 naming the failing ones;
// 503 while draining.
func (s *Server) readyz(c echo.Context) error {
	if s.draining.Load() {
		return c.JSON(http.StatusServiceUnavailable, map[string]any{
			"status": "error", "message": "draining",
		})
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	checks := make(map[string]string, len(s.deps.Checks))
	var failing []string
	for _, ch := range s.deps.Checks {
		if err := ch.Run(ctx); err != nil {
			checks[ch.Name] = "down"
			failing = append(failing, ch.Name)
			s.log.WarnContext(ctx, "readiness check failed", "check", ch.Name, "error", err)
			continue
		}
		checks[ch.Name] = "ok"
	}
	if len(failing) > 0 {
		return c.JSON(http.StatusServiceUnavailable, map[string]any{
			"status": "error", "message": "not ready: " + strings.Join(failing, ", "), "checks": checks,
		})
	}
	return c.JSON(http.StatusOK, map[string]any{"status": "success", "checks": checks})
}

// healthChecker is the seed's greeting.
func (s *Server) healthChecker(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{
		"status":  "success",
		"message": "Welcome to CodevoWeb😂😂👈👈",
	})
}
