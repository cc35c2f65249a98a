package app

import (
	"net/http"
	"net/url"
	"slices"

	"github.com/authgate/authgate/gateway/internal/adminapi"
	"github.com/authgate/authgate/gateway/internal/authapi"
	"github.com/authgate/authgate/gateway/internal/cookies"
	"github.com/authgate/authgate/gateway/internal/csrf"
	"github.com/authgate/authgate/gateway/internal/httperr"
	"github.com/authgate/authgate/gateway/internal/loginui"
	"github.com/authgate/authgate/gateway/internal/proxy"
	"github.com/authgate/authgate/gateway/internal/routing"
	"github.com/authgate/authgate/gateway/internal/server"
	"github.com/authgate/authgate/gateway/internal/sockets"
	"github.com/authgate/authgate/gateway/internal/wellknown"
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
	errs := httperr.New(a.Log)
	hosts := cfg.Redirects.AllowedHosts
	if len(hosts) == 0 {
		hosts = defaultRedirectHosts(a.Routes, cfg.CORS.Origins)
	}
	redirects, err := loginui.NewRedirects(hosts, a.Trust)
	if err != nil {
		return nil, err
	}
	login, err := loginui.New(loginui.Deps{
		Sessions: a.Accounts, Visitors: a.Accounts, Jar: jar, Trust: a.Trust, Errors: errs, Redirects: redirects,
	})
	if err != nil {
		return nil, err
	}
	var assertions proxy.Assertions // stays a nil interface without an assertion key
	if a.Assertions != nil {
		assertions = a.Assertions
	}
	admin := adminapi.New(a.Accounts, a.Accounts, a.Log)
	return server.New(server.Deps{
		API:          authapi.New(a.Accounts, a.Accounts, jar, a.Trust, cfg.Passwords.MaxLength),
		Account:      authapi.NewAccountAPI(a.Accounts, a.Accounts, jar, cfg.Passwords.MaxLength),
		Audit:        adminapi.NewAuditAPI(a.Accounts),
		Email:        authapi.NewEmailAPI(a.Accounts, jar, a.Trust, cfg.Passwords.MaxLength),
		Admin:        admin,
		Bans:         adminapi.NewBansAPI(a.Accounts, admin),
		Login:        login,
		Auth:         a.Accounts,
		Routes:       a.Routes,
		Paths:        routing.PathCheck{AllowAmbiguousSegments: cfg.Paths.AllowAmbiguousSegments},
		Trust:        a.Trust,
		Jar:          jar,
		Headers:      a.Headers,
		Errors:       errs,
		CSRF:         cross,
		Tokens:       a.Accounts,
		SignInURL:    cfg.Authz.SignInURL,
		Transport:    transport,
		Sockets:      watcher,
		WellKnown:    wellknown.New(a.Keys),
		Assertions:   assertions,
		StripHeaders: cfg.Proxy.IdentityHeaderAliases,
		CORSOrigins:  cfg.CORS.Origins,
		BodyLimit:    cfg.Server.BodyLimit,
		Checks:       a.Accounts.Ready(),
		Logger:       a.Log,
		AccessLog:    a.logs,
	})
}

// defaultRedirectHosts are the hosts a redirect target may name when
// redirects.allowed_hosts is empty: the hosts the route table serves (rules without a
// host add none) and those of cors.origins, the browser applications of the gateway.
func defaultRedirectHosts(routes *routing.Table, origins []string) []string {
	var hosts []string
	for _, r := range routes.Routes() {
		if r.Host != "" && !slices.Contains(hosts, r.Host) {
			hosts = append(hosts, r.Host)
		}
	}
	for _, o := range origins {
		if u, err := url.Parse(o); err == nil && u.Hostname() != "" && !slices.Contains(hosts, u.Hostname()) {
			hosts = append(hosts, u.Hostname())
		}
	}
	return hosts
}

// NewTransport is the upstream transport the configuration asks for.
func (a *App) NewTransport() *proxy.Transport {
	return proxy.NewTransport(a.Config.Proxy.DialTimeout, a.Config.Proxy.ResponseHeaderTimeout)
}
