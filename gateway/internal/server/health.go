package server

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/authgate/authgate/authsvc"
)

// healthz is liveness: the process serves HTTP, whatever its dependencies do.
func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "success"})
}

// readyz is readiness: 200 when every check passes, else 503 naming the failing ones;
// 503 while draining (SECURITY.md R3, R4).
func (s *Server) readyz(c echo.Context) error {
	if s.draining.Load() {
		return c.JSON(http.StatusServiceUnavailable, map[string]any{"status": "error", "message": "draining"})
	}
	checks, failing := s.ready.status(c.Request().Context())
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

// readinessTTL is how long a readiness result is reused: probes from several load
// balancers cost one round of checks a second, whatever their rate.
const readinessTTL = time.Second

// readiness runs the dependency checks at most once per readinessTTL (callers in
// between get the cached result) and logs a check only when its state changes, not on
// every probe while a dependency stays down.
type readiness struct {
	checks []authsvc.Check
	log    *slog.Logger

	mu      sync.Mutex
	at      time.Time
	results map[string]string
	failing []string
	down    map[string]bool // state last logged
}

func newReadiness(checks []authsvc.Check, log *slog.Logger) *readiness {
	return &readiness{checks: checks, log: log, down: make(map[string]bool)}
}

// status returns each check's state ("ok" or "down") and the names of the failing ones.
func (r *readiness) status(ctx context.Context) (map[string]string, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.results != nil && time.Since(r.at) < readinessTTL {
		return r.results, r.failing
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	results := make(map[string]string, len(r.checks))
	var failing []string
	for _, ch := range r.checks {
		err := ch.Run(ctx)
		if err != nil {
			results[ch.Name] = "down"
			failing = append(failing, ch.Name)
		} else {
			results[ch.Name] = "ok"
		}
		if was := r.down[ch.Name]; was != (err != nil) {
			r.down[ch.Name] = err != nil
			if err != nil {
				r.log.WarnContext(ctx, "readiness check failing", "check", ch.Name, "error", err)
			} else {
				r.log.InfoContext(ctx, "readiness check recovered", "check", ch.Name)
			}
		}
	}
	r.at, r.results, r.failing = time.Now(), results, failing
	return results, failing
}
