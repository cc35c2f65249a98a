// Package server assembles the gateway's Echo edge server: routes.go lists every route,
// the middleware chain is in middleware.go, the proxied path in forward.go, and every
// error becomes a response through the one table of package httperr.
//
// What a configuration change may replace (the route table, the decision and the
// proxies built on it) lives in one immutable runtime value behind an atomic pointer, so
// a reload swaps one pointer and in-flight requests finish on the value they started with.
package server

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"

	"github.com/labstack/echo/v4"

	"github.com/authgate/authgate/authsvc"
	"github.com/authgate/authgate/gateway/internal/adminapi"
	"github.com/authgate/authgate/gateway/internal/authapi"
	"github.com/authgate/authgate/gateway/internal/authz"
	"github.com/authgate/authgate/gateway/internal/cookies"
	"github.com/authgate/authgate/gateway/internal/csrf"
	"github.com/authgate/authgate/gateway/internal/forwardauth"
	"github.com/authgate/authgate/gateway/internal/forwarded"
	"github.com/authgate/authgate/gateway/internal/httperr"
	"github.com/authgate/authgate/gateway/internal/loginui"
	"github.com/authgate/authgate/gateway/internal/proxy"
	"github.com/authgate/authgate/gateway/internal/routing"
	"github.com/authgate/authgate/gateway/internal/sockets"
	"github.com/authgate/authgate/gateway/internal/wellknown"
)

// Deps are the server's collaborators and settings; every field is required unless it
// says otherwise.
type Deps struct {
	API     *authapi.API        // /api/auth
	Email   *authapi.EmailAPI   // /api/auth verification and password reset
	Account *authapi.AccountAPI // /api/auth: a signed-in user's sessions and password
	Audit   *adminapi.AuditAPI  // /api/admin/audit
	Login   *loginui.Handler    // the sign-in page, /login and /logout
	Admin   *adminapi.API       // /api/admin
	Bans    *adminapi.BansAPI   // /api/admin/bans
	Auth    authz.Authenticator // the account core's Authenticate
	Routes  *routing.Table
	Paths   routing.PathCheck
	Trust   *forwarded.Trust
	Jar     *cookies.Jar
	Headers *authz.Headers
	Errors  *httperr.Table
	CSRF    *csrf.Checker
	Tokens  forwardauth.Tokens // new access tokens for sessions proved by their refresh cookie
	// SignInURL is where browsers that must sign in are sent ("/login").
	SignInURL string
	Transport http.RoundTripper // upstream transport, shared by every runtime
	Sockets   *sockets.Watcher  // upgraded connections of signed-in sessions; optional
	// WellKnown serves /.well-known/jwks.json, the keys upstreams verify with.
	WellKnown *wellknown.Handler
	// Assertions signs the X-Auth-Assertion of routes with assertion; optional (nil: none).
	Assertions proxy.Assertions
	// StripHeaders are extra client header names (or "prefix*") removed before routing,
	// besides the built-in identity headers (SECURITY.md H1). Optional.
	StripHeaders []string
	CORSOrigins  []string // optional
	BodyLimit    string   // Echo body-limit syntax ("10KB") for the gateway's own endpoints
	Checks       []authsvc.Check
	Logger       *slog.Logger
	// AccessLog receives one JSON line per request (the log stream Logger writes to).
	AccessLog io.Writer
}

// Server is the gateway's HTTP handler.
type Server struct {
	deps     Deps
	log      *slog.Logger
	rt       atomic.Pointer[runtime]
	ready    *readiness
	draining atomic.Bool
	idPrefix string        // request ids: this process's random prefix…
	ids      atomic.Uint64 // …and a counter
}

// runtime is everything built from the route table; immutable once built.
type runtime struct {
	handler     http.Handler // the edge, then Echo
	echo        *echo.Echo
	decider     *authz.Decider
	proxy       *proxy.Proxy
	forwardAuth *forwardauth.Handler
}

// New assembles the server. Errors: a required dependency is missing.
func New(d Deps) (*Server, error) {
	if d.API == nil || d.Login == nil || d.Auth == nil || d.Routes == nil || d.Trust == nil || d.Jar == nil || d.Headers == nil ||
		d.Errors == nil || d.CSRF == nil || d.Tokens == nil || d.SignInURL == "" || d.Transport == nil ||
		d.WellKnown == nil || d.BodyLimit == "" || d.Logger == nil || d.AccessLog == nil {
		return nil, errors.New("server: a required dependency is missing")
	}
	if d.Email == nil || d.Admin == nil {
		return nil, errors.New("server: the email or admin API is missing")
	}
	if d.Account == nil || d.Audit == nil || d.Bans == nil {
		return nil, errors.New("server: the account or audit API is missing")
	}
	s := &Server{deps: d, log: d.Logger, ready: newReadiness(d.Checks, d.Logger), idPrefix: idPrefix()}
	if err := s.SetRoutes(d.Routes); err != nil {
		return nil, err
	}
	return s, nil
}

// SetRoutes builds a runtime on routes and swaps it in; requests already running finish
// on the previous one. Errors: the proxy cannot be built.
func (s *Server) SetRoutes(routes *routing.Table) error {
	d := s.deps
	p, err := proxy.New(proxy.Options{
		Transport:    d.Transport,
		Trust:        d.Trust,
		Headers:      d.Headers,
		ErrorHandler: d.Errors.Write,
		Aliases:      d.StripHeaders,
		CookieNames:  d.Jar.Names(),
		Logger:       d.Logger,
		Sockets:      d.Sockets,
		Assertions:   d.Assertions,
	})
	if err != nil {
		return err
	}
	p.Prepare(routes.Routes())
	rt := &runtime{decider: authz.New(routes, d.Paths, d.Auth), proxy: p}
	rt.forwardAuth = forwardauth.New(forwardauth.Deps{
		Decider: rt.decider, Trust: d.Trust, Jar: d.Jar, Headers: d.Headers, CSRF: d.CSRF,
		Errors: d.Errors, Tokens: d.Tokens, SignInURL: d.SignInURL,
	})
	rt.echo = s.newEcho(rt)
	rt.handler = s.newEdge(rt.echo)
	s.rt.Store(rt)
	return nil
}

func (s *Server) newEcho(rt *runtime) *echo.Echo {
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.IPExtractor = s.deps.Trust.ClientIP
	e.HTTPErrorHandler = func(err error, c echo.Context) {
		if !c.Response().Committed {
			s.deps.Errors.Write(c.Response(), c.Request(), err)
		}
	}
	s.routes(e, rt)
	return e
}

// ServeHTTP implements http.Handler on the current runtime.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.rt.Load().handler.ServeHTTP(w, r)
}

// ForwardAuth returns the forward-auth adapters of the runtime in force (the gRPC
// listener asks for them on every check, so a reload reaches it too).
func (s *Server) ForwardAuth() *forwardauth.Handler { return s.rt.Load().forwardAuth }

// Drain makes /readyz answer 503 so load balancers stop sending traffic (SIGTERM).
func (s *Server) Drain() { s.draining.Store(true) }
