package app

import (
	"net/http"
	"slices"

	"github.com/authgate/authgate/gateway/internal/authapi"
	"github.com/authgate/authgate/gateway/internal/cookies"
	"github.com/authgate/authgate/gateway/internal/csrf"
	"github.com/authgate/authgate/gateway/internal/httperr"
	"github.com/authgate/authgate/gateway/internal/proxy"
	"github.com/authgate/authgate/gateway/internal/routing"
	"github.com/authgate/authgate/gateway/internal/server"
	"github.com/authgate/authgate/gateway/internal/sockets"
)

// Handler builds the edge server on the opened app; transport is the upstream
// transport (close its idle connections after serving), watcher tracks WebSockets.
func (a *App) Handler(transport http.RoundTripper, watcher *sockets.Watcher) (*server.Server, error) {
	cfg := a.Config
	jar := cookies.New(cookies.Config{
		AccessTTL: cfg.Tokens.AccessTTL, RefreshTTL: cfg.Tokens.RefreshTTL,
		RefreshPath: cfg.Cookies.RefreshPath, Domain: cfg.Cookies.Domain, HostPrefix: cfg.Cookies.HostPrefix,
		Secure: cfg.Cookies.Secure || cfg.Production(),
	}, a.Trust)
	cross, err := csrf.New(append(slices.Clone(cfg.CORS.Origins), cfg.CSRF.TrustedOrigins...), a.Trust)
	if err != nil {
		return nil, err
	}
	return server.New(server.Deps{
		API:          authapi.New(a.Accounts, a.Accounts, jar, a.Trust, cfg.Passwords.MaxLength),
		Auth:         a.Accounts,
		Routes:       a.Routes,
		Paths:        routing.PathCheck{AllowAmbiguousSegments: cfg.Paths.AllowAmbiguousSegments},
		Trust:        a.Trust,
		Jar:          jar,
		Headers:      a.Headers,
		Errors:       httperr.New(a.Log),
		CSRF:         cross,
		Tokens:       a.Accounts,
		SignInURL:    cfg.Authz.SignInURL,
		Transport:    transport,
		Sockets:      watcher,
		StripHeaders: cfg.Proxy.IdentityHeaderAliases,
		CORSOrigins:  cfg.CORS.Origins,
		BodyLimit:    cfg.Server.BodyLimit,
		Checks:       a.Accounts.Ready(),
		Logger:       a.Log,
	})
}

// NewTransport is the upstream transport the configuration asks for.
func (a *App) NewTransport() *http.Transport {
	return proxy.NewTransport(a.Config.Proxy.DialTimeout, a.Config.Proxy.ResponseHeaderTimeout)
}
