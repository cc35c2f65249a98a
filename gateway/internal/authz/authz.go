// Package authz is the gateway's one access decision. The proxy and every forward-auth
// adapter (nginx auth_request, Traefik and Caddy forward auth, Envoy ext_authz) turn
// their request into a transport-neutral Request and call Decide; none of them decides
// anything of its own. Decide checks the path, matches the route table, authenticates
// the credential against its session and applies the route's roles, in that order.
package authz

import (
	"context"

	"github.com/authgate/authgate/authsvc"
	"github.com/authgate/authgate/gateway/internal/routing"
)

// Authenticator verifies an access token and its session.
type Authenticator interface {
	// Authenticate returns the token's identity or authsvc.ErrNotLoggedIn (empty
	// token), ErrInvalidToken, ErrSessionExpired, ErrUnavailable.
	Authenticate(ctx context.Context, accessToken string) (authsvc.Identity, error)
}

// Request is what a decision needs to know about a request, whichever way it arrived.
type Request struct {
	Method string
	Host   string // without port; "" matches only rules without a host
	// Path is the decoded path and EscapedPath the form that is (or was) sent on the
	// wire; CheckPath requires them to agree.
	Path, EscapedPath string
	// Token is the access token (Bearer header or access cookie); "" when none.
	Token string
}

// Decision is the outcome of Decide.
type Decision struct {
	// Match is the route table's answer; Match.Route is set whenever a rule matched,
	// also when access is then refused.
	Match routing.Match
	// Identity is the caller, when Authenticated.
	Identity authsvc.Identity
	// Authenticated is true when the route demanded a login and the caller has one.
	Authenticated bool
}

// Route is the rule that serves the request (nil when none matched).
func (d Decision) Route() *routing.Route { return d.Match.Route }

// Decider makes the decision. It is immutable and safe for concurrent use.
type Decider struct {
	routes *routing.Table
	paths  routing.PathCheck
	auth   Authenticator
}

// New returns a Decider on routes, checking paths with paths and credentials with auth.
func New(routes *routing.Table, paths routing.PathCheck, auth Authenticator) *Decider {
	return &Decider{routes: routes, paths: paths, auth: auth}
}

// Decide returns the decision for req, or the reason access is refused:
// routing.ErrBadPath (the path could mean something else upstream), routing.ErrNoRoute,
// authsvc.ErrNotLoggedIn, ErrInvalidToken, ErrSessionExpired, ErrUnavailable (never
// a pass), ErrForbidden (authenticated, role not allowed). A public route is allowed
// without looking at the token. The returned Decision carries the matched route even
// with an error, so that callers can shape their refusal (a redirect to the sign-in page).
func (d *Decider) Decide(ctx context.Context, req Request) (Decision, error) {
	if err := d.paths.Check(req.Path, req.EscapedPath); err != nil {
		return Decision{}, err
	}
	m, ok := d.routes.Match(req.Method, req.Host, req.Path)
	if !ok {
		return Decision{}, routing.ErrNoRoute
	}
	dec := Decision{Match: m}
	if m.Public() {
		return dec, nil
	}
	if req.Token == "" {
		return dec, authsvc.ErrNotLoggedIn
	}
	id, err := d.auth.Authenticate(ctx, req.Token)
	if err != nil {
		return dec, err
	}
	dec.Identity, dec.Authenticated = id, true
	if !m.Allows(id.Role) {
		return dec, authsvc.ErrForbidden
	}
	return dec, nil
}
