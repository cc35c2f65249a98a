package proxy

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/authgate/authsvc"
	"github.com/authgate/authgate/gateway/internal/authz"
	"github.com/authgate/authgate/gateway/internal/routing"
)

// echoed is what the echo upstream saw.
type echoed struct {
	Method     string
	Path       string
	RequestURI string
	Host       string
	Header     http.Header
	Trailer    http.Header
}

// upstream is a real httptest server that answers every request with the
// request it received, as JSON.
type upstream struct {
	*httptest.Server
	hits atomic.Int64
}

func newUpstream(t testing.TB) *upstream {
	t.Helper()
	u := &upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.hits.Add(1)
		_, _ = io.Copy(io.Discard, r.Body) // trailers arrive after the body
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(echoed{
			Method: r.Method, Path: r.URL.Path, RequestURI: r.RequestURI, Host: r.Host,
			Header: r.Header, Trailer: r.Trailer,
		})
	}))
	t.Cleanup(u.Close)
	return u
}

// mustRoute compiles one rule and returns its route.
func mustRoute(t testing.TB, rule routing.Rule) *routing.Route {
	t.Helper()
	if rule.Access == 0 {
		rule.Access = routing.Public
	}
	if rule.Path == "" {
		rule.Path = "/"
	}
	table, err := routing.NewTable([]routing.Rule{rule})
	if err != nil {
		t.Fatal(err)
	}
	return table.Routes()[0]
}

// Identity is the caller a test decision vouches for.
type Identity = authsvc.Identity

// decision is what authz.Decide would return for route: authenticated as id when id
// is not nil.
func decision(route *routing.Route, id *Identity) authz.Decision {
	d := authz.Decision{Match: routing.Match{Route: route}}
	if id != nil {
		d.Identity, d.Authenticated = *id, true
	}
	return d
}

// newProxy fills the required options a test leaves out: a real transport, an error
// handler that answers 502 with the error text, the seed's cookie names.
func newProxy(t testing.TB, opts Options) *Proxy {
	t.Helper()
	if opts.Transport == nil {
		tr := NewTransport(5*time.Second, 30*time.Second)
		t.Cleanup(tr.CloseIdleConnections)
		opts.Transport = tr
	}
	if opts.ErrorHandler == nil {
		opts.ErrorHandler = func(w http.ResponseWriter, _ *http.Request, err error) {
			http.Error(w, err.Error(), http.StatusBadGateway)
		}
	}
	if opts.CookieNames == nil {
		opts.CookieNames = []string{"access_token", "refresh_token", "logged_in"}
	}
	p, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// front is the gateway side: a real httptest server that sets the request id
// (as the server does) and forwards with the decision for route and id.
func newFront(t testing.TB, p *Proxy, route *routing.Route, id *Identity) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Header.Set("X-Request-Id", "rid-gateway")
		p.Forward(w, r, decision(route, id))
	}))
	t.Cleanup(s.Close)
	return s
}

// do sends req and decodes the echo; it fails the test unless the status is 200.
func do(t testing.TB, req *http.Request) echoed {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", res.StatusCode, body)
	}
	var e echoed
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("decoding %q: %v", body, err)
	}
	return e
}

func newRequest(t testing.TB, method, url string, header map[string][]string) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v // raw keys: "x_user_id" goes on the wire as written
	}
	return req
}

// reservedOracle is an independent restatement of IsIdentityHeader's rules.
// Header names are ASCII tokens (net/http refuses others on both sides), so
// only ASCII letters fold.
func reservedOracle(name string, aliases []string) bool {
	n := asciiLowerDash(name)
	for _, p := range []string{"x-user", "x-auth-", "x-authenticated-", "remote-", "x-remote-", "x-webauth-",
		"x-goog-authenticated-user-", "x-amzn-oidc-", "x-ms-client-principal"} {
		if strings.HasPrefix(n, p) {
			return true
		}
	}
	switch n {
	case "x-auth", "x-forwarded-user", "x-forwarded-email", "x-forwarded-groups", "x-forwarded-roles",
		"x-forwarded-preferred-username", "x-forwarded-access-token",
		"x-real-ip", "true-client-ip", "x-client-ip", "cf-connecting-ip", "fastly-client-ip",
		"x-cluster-client-ip", "forwarded", "x-goog-iap-jwt-assertion":
		return true
	}
	for _, a := range aliases {
		a = asciiLowerDash(a)
		if p, ok := strings.CutSuffix(a, "*"); ok {
			if p != "" && strings.HasPrefix(n, p) {
				return true
			}
		} else if n == a {
			return true
		}
	}
	return false
}

func asciiLowerDash(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return strings.ReplaceAll(string(b), "_", "-")
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}
