// Package authz is the gateway's one access decision. The proxy and every forward-auth
// adapter (nginx auth_request, Traefik and Caddy forward auth, Envoy ext_authz) turn
// their request into a transport-neutral Request and call Decide; none of them decides
// anything of its own. Decide checks the path, matches the route table, authenticates
// the credential against its session and applies the route's roles, in that order.
package authz

import (
	"context"
	"errors"

	"github.com/authgate/authgate/authsvc"
	"github.com/authgate/authgate/gateway/internal/csrf"
	"github.com/authgate/authgate/gateway/internal/routing"
)

// Authenticator verifies a credential and its session.
type Authenticator interface {
	// Authenticate returns the access token's identity or authsvc.ErrNotLoggedIn
	// (empty token), ErrInvalidToken, ErrSessionExpired, ErrUnavailable.
	Authenticate(ctx context.Context, accessToken string) (authsvc.Identity, error)
	// AuthenticateRefresh accepts a live session's refresh token as proof, with the
	// same errors.
	AuthenticateRefresh(ctx context.Context, refreshToken string) (authsvc.Identity, error)
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
	// RefreshToken, when set, is accepted as proof of a live session if Token is
	// missing or no longer valid. Adapters set it only for a browser's page loads, so
	// API clients still get the 401 that makes them refresh.
	RefreshToken string
	// CookieAuth says the credential came from a cookie (not an Authorization header),
	// so a cross-site request could be riding it.
	CookieAuth bool
	// CrossSite says the request is a cross-site browser request with an unsafe
	// method (csrf.Checker); cookie-authenticated, it is refused (SECURITY.md C3).
	CrossSite bool
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
	// ByRefresh is true when the refresh token proved the session (the access token
	// was missing or expired); the caller may hand out a new access token.
	ByRefresh bool
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
// a pass), ErrForbidden (authenticated, role not allowed), csrf.ErrCrossSite (a
// cross-site request riding a cookie). A public route is allowed without looking at the
// credential. The returned Decision carries the matched route even with an error, so
// that callers can shape their refusal (a redirect to the sign-in page).
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
	id, byRefresh, err := d.authenticate(ctx, req)
	if err != nil {
		return dec, err
	}
	dec.Identity, dec.Authenticated, dec.ByRefresh = id, true, byRefresh
	if req.CrossSite && (req.CookieAuth || byRefresh) && m.CSRF() {
		return dec, csrf.ErrCrossSite
	}
	if !m.Allows(id.Role) {
		return dec, authsvc.ErrForbidden
	}
	return dec, nil
}

// authenticate checks the access token, and the refresh token when the access token is
// missing or invalid (never when the store is unavailable: that is never a pass).
func (d *Decider) authenticate(ctx context.Context, req Request) (authsvc.Identity, bool, error) {
	err := authsvc.ErrNotLoggedIn
	if req.Token != "" {
		var id authsvc.Identity
		if id, err = d.auth.Authenticate(ctx, req.Token); err == nil {
			return id, false, nil
		}
	}
	if req.RefreshToken == "" || (!errors.Is(err, authsvc.ErrNotLoggedIn) && !errors.Is(err, authsvc.ErrInvalidToken)) {
		return authsvc.Identity{}, false, err
	}
	id, rerr := d.auth.AuthenticateRefresh(ctx, req.RefreshToken)
	switch {
	case rerr == nil:
		return id, true, nil
	case errors.Is(rerr, authsvc.ErrUnavailable):
		return authsvc.Identity{}, false, rerr
	default:
		return authsvc.Identity{}, false, err // the access token's answer, as without a refresh token
	}
}

// SignInNeeded reports whether a Decide error asks the caller to sign in (no credential,
// an invalid one, a session that ended), as opposed to a refusal whoever they are.
func SignInNeeded(err error) bool {
	return errors.Is(err, authsvc.ErrNotLoggedIn) || errors.Is(err, authsvc.ErrInvalidToken) ||
		errors.Is(err, authsvc.ErrSessionExpired)
}
