// Package forwardauth answers the checks of proxies that someone else runs: nginx
// auth_request, Traefik forwardAuth and Caddy forward_auth, and Envoy ext_authz (HTTP
// here, gRPC in grpc.go). Each adapter only turns the proxy's description of the
// original request into an authz.Request and the decision into the proxy's answer: the
// decision is authz.Decide, exactly the one the gateway's own proxy makes, on the same
// route table, path checks and sessions.
//
// The forwarded headers are believed only from trusted_proxies; from anyone else, or
// when missing or malformed, the answer is 401 and never 2xx (SECURITY.md H5).
package forwardauth

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/authgate/authgate/authsvc"
	"github.com/authgate/authgate/gateway/internal/authz"
	"github.com/authgate/authgate/gateway/internal/cookies"
	"github.com/authgate/authgate/gateway/internal/csrf"
	"github.com/authgate/authgate/gateway/internal/forwarded"
	"github.com/authgate/authgate/gateway/internal/httperr"
	"github.com/authgate/authgate/gateway/internal/routing"
)

// Tokens hands a browser whose session was proved by its refresh cookie a new access
// token.
type Tokens interface {
	IssueAccess(id authsvc.Identity) (authsvc.Grant, error)
}

// Deps are the adapters' collaborators; all are required.
type Deps struct {
	Decider *authz.Decider
	Trust   *forwarded.Trust
	Jar     *cookies.Jar
	Headers *authz.Headers
	CSRF    *csrf.Checker
	Errors  *httperr.Table
	Tokens  Tokens
	// SignInURL is where browsers are sent: "/login" or an absolute URL.
	SignInURL string
}

// Handler holds the adapters. It is immutable and safe for concurrent use.
type Handler struct{ d Deps }

// New returns the adapters.
func New(d Deps) *Handler { return &Handler{d: d} }

// original is the request a proxy asks about.
type original struct {
	method, scheme, host string
	path, escapedPath    string
	rawQuery             string
	header               http.Header // the client's headers, as the proxy passed them
}

// url is the original request's absolute URL, for the sign-in page's rd.
func (o original) url() string {
	u := url.URL{Scheme: o.scheme, Host: o.host, RawPath: o.escapedPath, Path: o.path, RawQuery: o.rawQuery}
	return u.String()
}

// outcome is what Decide said, with the original request for shaping the answer.
type outcome struct {
	o       original
	dec     authz.Decision
	err     error
	browser bool
}

// decide runs the one decision on o. A browser's page load may be proved by the refresh
// cookie, so that an active user is not sent to sign in between access-token lifetimes;
// an API client gets the 401 that makes it refresh. No rule matching is a refusal: the
// proxy in front serves what the gateway does not know.
func (h *Handler) decide(ctx context.Context, r *http.Request, o original) outcome {
	jar := h.d.Jar
	browser := httperr.WantsHTML(&http.Request{Header: o.header})
	req := authz.Request{
		Method: o.method, Host: routing.HostOnly(o.host), Path: o.path, EscapedPath: o.escapedPath,
		Token: jar.AccessToken(r),
	}
	_, bearer := cookies.BearerToken(r)
	req.CookieAuth = !bearer
	req.CrossSite = h.d.CSRF.CheckOriginal(o.method, o.host, o.header) != nil
	if browser {
		req.RefreshToken = jar.RefreshToken(r)
	}
	dec, err := h.d.Decider.Decide(ctx, req)
	if errors.Is(err, routing.ErrNoRoute) {
		err = authsvc.ErrForbidden
	}
	return outcome{o: o, dec: dec, err: err, browser: browser}
}

// HeaderEnvoyRemove is how an HTTP ext_authz service names the request headers Envoy
// must remove before the request goes upstream (comma-separated).
const HeaderEnvoyRemove = "X-Envoy-Auth-Headers-To-Remove"

// allow answers 2xx with the identity headers for the proxy to pass upstream. For
// Envoy (envoy) it also names every identity header the answer does not set: Envoy
// only adds the answer's headers, so a client's own copies (on a public path, all of
// them) would otherwise reach the upstream (SECURITY.md H1).
func (h *Handler) allow(w http.ResponseWriter, r *http.Request, out outcome, envoy bool) {
	hdr := w.Header()
	hdr.Set("Cache-Control", "no-store")
	if out.dec.Authenticated {
		h.d.Headers.Set(hdr, out.dec.Identity)
	}
	if envoy {
		if rm := h.unset(hdr); len(rm) > 0 {
			hdr.Set(HeaderEnvoyRemove, strings.Join(rm, ", "))
		}
	}
	if out.dec.Authenticated && out.dec.ByRefresh {
		// A proxy that passes Set-Cookie on (Traefik with addAuthCookiesToResponse,
		// nginx with auth_request_set) renews the browser's access cookie; one that
		// does not (Caddy) keeps working on the refresh cookie.
		if g, err := h.d.Tokens.IssueAccess(out.dec.Identity); err == nil {
			h.d.Jar.SetGrant(w, r, g)
		}
	}
	w.WriteHeader(http.StatusOK)
}

// unset returns, lower-case, the identity header names (Headers.Names) that hdr does
// not carry: the ones a proxy must remove from the client's request. Envoy applies
// removals after the headers it sets, so a name the answer sets is never listed.
func (h *Handler) unset(hdr http.Header) []string {
	var out []string
	for _, name := range h.d.Headers.Names() {
		if _, ok := hdr[name]; !ok {
			out = append(out, strings.ToLower(name))
		}
	}
	return out
}

// signIn is the sign-in URL that returns to the original request.
func (h *Handler) signIn(o original) string { return SignInURL(h.d.SignInURL, o.url()) }

// SignInURL is the sign-in page signIn with rd, the page to come back to.
func SignInURL(signIn, rd string) string {
	sep := "?"
	if strings.Contains(signIn, "?") {
		sep = "&"
	}
	return signIn + sep + "rd=" + url.QueryEscape(rd)
}

// fromTrusted checks that r came from a trusted proxy.
func (h *Handler) fromTrusted(r *http.Request) error {
	if !h.d.Trust.FromTrusted(r) {
		return httperr.ErrForwardedRequest
	}
	return nil
}

// parseTarget reads a request-target (path and query, as on the request line) of the
// original request. Errors: httperr.ErrForwardedRequest for anything but an origin-form target
// free of control characters.
func parseTarget(target string) (path, escaped, rawQuery string, err error) {
	if target == "" || target[0] != '/' || strings.ContainsFunc(target, isCtl) || strings.ContainsRune(target, '#') {
		return "", "", "", httperr.ErrForwardedRequest
	}
	u, perr := url.ParseRequestURI(target)
	if perr != nil || u.Host != "" || u.Scheme != "" {
		return "", "", "", httperr.ErrForwardedRequest
	}
	return u.Path, u.EscapedPath(), u.RawQuery, nil
}

// parseMethod reads the original method: an HTTP token.
func parseMethod(m string) (string, error) {
	if !routing.IsToken(m) {
		return "", httperr.ErrForwardedRequest
	}
	return m, nil
}

// parseScheme reads the original scheme: http or https.
func parseScheme(s string) (string, error) {
	switch s = strings.ToLower(strings.TrimSpace(s)); s {
	case "http", "https":
		return s, nil
	}
	return "", httperr.ErrForwardedRequest
}

// parseHost reads the original host (with its port, if any).
func parseHost(h string) (string, error) {
	if !forwarded.ValidHost(h) {
		return "", httperr.ErrForwardedRequest
	}
	return h, nil
}

func isCtl(r rune) bool { return r < 0x20 || r == 0x7f }
