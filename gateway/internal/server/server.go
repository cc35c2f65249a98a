// Package server is the gateway's Echo edge server: the route list (routes.go), the
// middleware chain, the proxy decision (gate.go) and the single error-to-response
// mapping (errors.go).
package server

import (
	"context"
	"log/slog"
	"net/http"
	"sync/atomic"

	"github.com/labstack/echo/v4"

	"github.com/authgate/authgate/authsvc"
	"github.com/authgate/authgate/gateway/internal/policy"
	"github.com/authgate/authgate/gateway/internal/proxy"
)

// Authenticator is what the proxy path needs from the account service.
type Authenticator interface {
	// AuthenticateRequest returns the caller's identity or authsvc.ErrNotLoggedIn,
	// ErrInvalidToken, ErrSessionExpired, ErrUnavailable.
	AuthenticateRequest(r *http.Request) (authsvc.Identity, error)
}

// Check is one readiness probe (Redis, MongoDB, keys).
type Check struct {
	Name string
	Run  func(ctx context.Context) error
}

// Deps are the server's collaborators and settings.
type Deps struct {
	Accounts       *authsvc.Service // mounted under /api/auth
	Auth           Authenticator    // nil → Accounts
	Routes         *policy.Table
	Proxy          proxy.Options // ClientIP and ErrorHandler are set by the server
	Logger         *slog.Logger
	CORSOrigins    []string
	BodyLimit      string   // e.g. "10KB", for /api/auth
	TrustedProxies []string // IPs/CIDRs whose X-Forwarded-For is believed
	Checks         []Check
}

// Server is the gateway's HTTP handler.
type Server struct {
	echo  *echo.Echo
	deps  Deps
	proxy *proxy.Proxy
	log   *slog.Logger
	table []struct {
		err error
		failure
	}
	draining atomic.Bool
}

// New assembles the Echo server. Errors: a trusted proxy entry that does not parse.
func New(d Deps) (*Server, error) {
	if d.Auth == nil {
		d.Auth = d.Accounts
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.BodyLimit == "" {
		d.BodyLimit = "10KB"
	}
	ipx, err := ipExtractor(d.TrustedProxies)
	if err != nil {
		return nil, err
	}
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.IPExtractor = ipx
	s := &Server{echo: e, deps: d, log: d.Logger, table: failures()}
	e.HTTPErrorHandler = s.errorHandler
	popts := d.Proxy
	popts.ClientIP = ipx
	popts.ErrorHandler = s.writeError
	popts.Logger = d.Logger
	s.proxy = proxy.New(popts)
	s.proxy.Prepare(d.Routes.Routes())
	s.routes()
	return s, nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.echo.ServeHTTP(w, r) }

// Drain makes /readyz answer 503 so load balancers stop sending traffic (SIGTERM).
func (s *Server) Drain() { s.draining.Store(true) }
