// Package app wires the gateway: configuration → stores → services → server. The serve
// command and every CLI subcommand share it. Prepare does everything that can find a
// problem in the configuration, without side effects: it reads files and keys but opens,
// creates and writes nothing, so a bad configuration leaves every database untouched.
// Open then connects the stores and builds the services; Handler builds the HTTP server.
package app

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/authgate/authgate/authsvc"
	"github.com/authgate/authgate/gateway/internal/authz"
	"github.com/authgate/authgate/gateway/internal/config"
	"github.com/authgate/authgate/gateway/internal/forwarded"
	"github.com/authgate/authgate/gateway/internal/loginui"
	"github.com/authgate/authgate/gateway/internal/routing"
)

// Options say where the configuration comes from and where logs go.
type Options struct {
	ConfigPath string              // --config; "" means configs/gateway.yaml if it exists
	Getenv     func(string) string // the environment
	Logs       io.Writer           // JSON log lines
	// DefaultFile and DotEnvFile override the default locations (tests).
	DefaultFile, DotEnvFile string
}

// Prepared is a configuration that passed every check, with what the checks built.
type Prepared struct {
	Config  *config.Config
	Routes  *routing.Table
	Trust   *forwarded.Trust
	Headers *authz.Headers
	Log     *slog.Logger
	logs    *bufferedLogs
}

// Prepare loads and validates the configuration, the route table, the trusted proxies
// and the keys in one pass, and returns every problem at once (*config.Errors). It has
// no side effects.
func Prepare(opts Options) (*Prepared, error) {
	p := &Prepared{Headers: &authz.Headers{}}
	cfg, err := config.Load(config.Options{
		Path: opts.ConfigPath, Getenv: opts.Getenv,
		DefaultFile: opts.DefaultFile, DotEnvFile: opts.DotEnvFile,
		Checks: []config.Check{p.checkRoutes, p.checkTrust, p.checkHeaderNames, checkKeys, checkStoreURLs, checkRedirectHosts},
	})
	if err != nil {
		return nil, err
	}
	p.Config = cfg
	logs := opts.Logs
	if logs == nil {
		logs = io.Discard
	}
	p.logs = newBufferedLogs(logs)
	p.Log = slog.New(slog.NewJSONHandler(p.logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	return p, nil
}

// FlushLogs writes out the log lines still buffered; call it before the process ends.
func (p *Prepared) FlushLogs() { _ = p.logs.Flush() }

// checkRoutes compiles the route table: routing.NewTable is the one place routes are
// validated; its problems are reported under the routes[i] keys.
func (p *Prepared) checkRoutes(c *config.Config) []config.Problem {
	table, err := routing.NewTable(Rules(c.Routes))
	if err == nil {
		p.Routes = table
		return nil
	}
	var out []config.Problem
	for _, e := range unjoin(err) {
		var re *routing.RuleError
		if !errors.As(e, &re) {
			out = append(out, config.Problem{Key: "routes", Message: e.Error()})
			continue
		}
		key := fmt.Sprintf("routes[%d]", re.Index)
		if re.Field != "" {
			key += "." + re.Field
		}
		out = append(out, config.Problem{Key: key, Message: re.Reason})
	}
	return out
}

func (p *Prepared) checkTrust(c *config.Config) []config.Problem {
	t, err := forwarded.NewTrust(c.TrustedProxies)
	if err != nil {
		return []config.Problem{{Key: "trusted_proxies", Message: err.Error()}}
	}
	p.Trust = t
	return nil
}

// checkHeaderNames checks the extra header names and builds the identity headers
// (authz.identity_headers, "Header=field").
func (p *Prepared) checkHeaderNames(c *config.Config) []config.Problem {
	var out []config.Problem
	for i, h := range c.Proxy.IdentityHeaderAliases {
		if !routing.IsToken(strings.TrimSuffix(h, "*")) {
			out = append(out, config.Problem{Key: fmt.Sprintf("proxy.identity_header_aliases[%d]", i),
				Message: fmt.Sprintf("%q is not a valid header name (or prefix ending in '*')", h)})
		}
	}
	aliases := make([]authz.Alias, 0, len(c.Authz.IdentityHeaders))
	for i, spec := range c.Authz.IdentityHeaders {
		name, field, ok := strings.Cut(spec, "=")
		name, field = strings.TrimSpace(name), strings.ToLower(strings.TrimSpace(field))
		switch {
		case !ok || !routing.IsToken(name):
			out = append(out, config.Problem{Key: fmt.Sprintf("authz.identity_headers[%d]", i),
				Message: fmt.Sprintf(`%q must be "Header=field", such as "Remote-User=email"`, spec)})
		case field != authz.FieldID && field != authz.FieldRole && field != authz.FieldEmail && field != authz.FieldName:
			out = append(out, config.Problem{Key: fmt.Sprintf("authz.identity_headers[%d]", i),
				Message: fmt.Sprintf("field %q must be id, role, email or name", field)})
		default:
			aliases = append(aliases, authz.Alias{Header: name, Field: field})
		}
	}
	p.Headers = authz.NewHeaders(aliases)
	return out
}

// checkKeys loads every configured key (the files are read, nothing is written):
// unreadable, malformed, too weak or mismatched keys are configuration problems.
func checkKeys(c *config.Config) []config.Problem {
	err := authsvc.CheckKeys(keyConfig(c))
	if err == nil {
		return nil
	}
	var out []config.Problem
	for _, e := range unjoin(err) {
		out = append(out, config.Problem{Key: "tokens", Message: e.Error()})
	}
	return out
}

// checkRedirectHosts checks redirects.allowed_hosts with the sign-in page's own
// validator, so that what passes here is what it accepts.
func checkRedirectHosts(c *config.Config) []config.Problem {
	if _, err := loginui.NewRedirects(c.Redirects.AllowedHosts, nil); err != nil {
		return []config.Problem{{Key: "redirects.allowed_hosts", Message: err.Error()}}
	}
	return nil
}

// checkStoreURLs parses the store addresses without connecting to anything.
func checkStoreURLs(c *config.Config) []config.Problem {
	var out []config.Problem
	if c.MongoDB.URI != "" {
		if err := options.Client().ApplyURI(c.MongoDB.URI).Validate(); err != nil {
			out = append(out, config.Problem{Key: "mongodb.uri", Message: "not a usable MongoDB connection string"})
		}
	}
	if c.Redis.URL != "" {
		rdb, err := newRedisClient(c.Redis.Mode, c.Redis.URL, c.Redis.Timeout)
		if err != nil {
			out = append(out, config.Problem{Key: "redis.url", Message: "not a usable Redis URL for mode " + c.Redis.Mode})
		} else {
			_ = rdb.Close() // never connected: clients dial on first use
		}
	}
	return out
}

// unjoin flattens an errors.Join tree into its leaves.
func unjoin(err error) []error {
	var j interface{ Unwrap() []error }
	if !errors.As(err, &j) {
		return []error{err}
	}
	var out []error
	for _, e := range j.Unwrap() {
		out = append(out, unjoin(e)...)
	}
	return out
}

// Rules turns configured routes into route-table rules.
func Rules(routes []config.Route) []routing.Rule {
	out := make([]routing.Rule, 0, len(routes))
	for _, r := range routes {
		access := routing.Authenticated
		switch r.Policy {
		case config.PolicyPublic:
			access = routing.Public
		case config.PolicyRoles:
			access = routing.Roles
		}
		out = append(out, routing.Rule{
			Host: r.Host, Path: r.Path, Exact: r.Match == config.MatchExact, Methods: r.Methods,
			Upstream: r.Upstream, Access: access, Roles: r.Roles,
			PassAuthorization: r.PassAuthorization, PassCookies: r.PassCookies,
			SkipCSRF: r.CSRF != nil && !*r.CSRF,
			Name:     r.Name, Assertion: r.Assertion,
		})
	}
	return out
}

func keyConfig(c *config.Config) authsvc.KeyConfig {
	t := c.Tokens
	return authsvc.KeyConfig{
		Access:  authsvc.KeySpec{Private: t.AccessPrivateKey, Public: t.AccessPublicKey, Previous: t.AccessPreviousPublicKeys},
		Refresh: authsvc.KeySpec{Private: t.RefreshPrivateKey, Public: t.RefreshPublicKey, Previous: t.RefreshPreviousPublicKeys},
		Assertion: authsvc.KeySpec{
			Private: t.AssertionPrivateKey, Public: t.AssertionPublicKey, Previous: t.AssertionPreviousPublicKeys,
		},
	}
}
