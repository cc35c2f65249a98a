package forwardauth

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/authgate/authgate/authsvc"
	"github.com/authgate/authgate/gateway/internal/authz"
	"github.com/authgate/authgate/gateway/internal/cookies"
	"github.com/authgate/authgate/gateway/internal/csrf"
	"github.com/authgate/authgate/gateway/internal/forwarded"
	"github.com/authgate/authgate/gateway/internal/httperr"
	"github.com/authgate/authgate/gateway/internal/routing"
)

// sessions is an Authenticator over fixed tokens: the adapters' logic under test does
// not depend on how the session store behaves (the gateway's end-to-end tests run the
// same endpoints on real Redis).
type sessions struct{}

var (
	alice = authsvc.Identity{UserID: "u-alice", Role: "user", SessionID: "s1", Email: "alice@example.com", Name: "Alice"}
	root  = authsvc.Identity{UserID: "u-root", Role: "admin", SessionID: "s2", Email: "root@example.com", Name: "Root"}
)

func (sessions) Authenticate(_ context.Context, tok string) (authsvc.Identity, error) {
	switch tok {
	case "":
		return authsvc.Identity{}, authsvc.ErrNotLoggedIn
	case "alice":
		return alice, nil
	case "root":
		return root, nil
	case "down":
		return authsvc.Identity{}, authsvc.ErrUnavailable
	}
	return authsvc.Identity{}, authsvc.ErrInvalidToken
}

func (sessions) AuthenticateRefresh(_ context.Context, tok string) (authsvc.Identity, error) {
	if tok == "alice-refresh" {
		return alice, nil
	}
	return authsvc.Identity{}, authsvc.ErrSessionExpired
}

type tokens struct{}

func (tokens) IssueAccess(id authsvc.Identity) (authsvc.Grant, error) {
	return authsvc.Grant{Identity: id, AccessToken: "fresh-" + id.UserID}, nil
}

// server is the adapters behind a real Echo, the proxy in front trusted at 127.0.0.1.
func server(t *testing.T) *httptest.Server {
	t.Helper()
	table, err := routing.NewTable([]routing.Rule{
		{Host: "admin.example.com", Path: "/", Access: routing.Roles, Roles: []string{"admin"}},
		{Host: "app.example.com", Path: "/public", Access: routing.Public},
		{Host: "app.example.com", Path: "/", Access: routing.Authenticated},
	})
	if err != nil {
		t.Fatal(err)
	}
	trust, _ := forwarded.NewTrust([]string{"127.0.0.1", "::1"})
	cross, _ := csrf.New(nil, trust)
	h := New(Deps{
		Decider:   authz.New(table, routing.PathCheck{}, sessions{}),
		Trust:     trust,
		Jar:       cookies.New(cookies.Config{AccessTTL: time.Minute, RefreshTTL: time.Hour, RefreshPath: "/"}, trust),
		Headers:   authz.NewHeaders([]authz.Alias{{Header: "Remote-User", Field: authz.FieldEmail}, {Header: "Remote-Groups", Field: authz.FieldRole}}),
		CSRF:      cross,
		Errors:    httperr.New(nil),
		Tokens:    tokens{},
		SignInURL: "https://auth.example.com/login",
	})
	e := echo.New()
	errs := httperr.New(nil)
	e.HTTPErrorHandler = func(err error, c echo.Context) { errs.Write(c.Response(), c.Request(), err) }
	e.Any("/api/authz/auth-request", h.AuthRequest)
	e.Any("/api/authz/forward-auth", h.ForwardAuth)
	e.Any("/api/authz/ext-authz/*", h.ExtAuthz)
	s := httptest.NewServer(e)
	t.Cleanup(s.Close)
	return s
}

type check struct {
	name    string
	method  string // of the check request itself ("" = GET)
	path    string // the adapter's endpoint, or the ext-authz path
	host    string // Host header of the check request ("" = the test server's)
	header  map[string]string
	status  int
	user    string // X-User-Id expected on a 200
	signIn  string // expected Location ("" = none)
	message string // expected JSON message on a refusal ("" = not checked)
}

func run(t *testing.T, base string, tests []check) {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := tt.method
			if m == "" {
				m = http.MethodGet
			}
			req, err := http.NewRequest(m, base+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.host != "" {
				req.Host = tt.host
			}
			for k, v := range tt.header {
				if k == "Cookie" {
					req.Header.Add(k, v)
					continue
				}
				req.Header.Set(k, v)
			}
			res, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			var body map[string]any
			_ = json.NewDecoder(res.Body).Decode(&body)
			if res.StatusCode != tt.status {
				t.Fatalf("status %d %v, want %d", res.StatusCode, body, tt.status)
			}
			if got := res.Header.Get("X-User-Id"); got != tt.user {
				t.Errorf("X-User-Id %q, want %q", got, tt.user)
			}
			if got := res.Header.Get("Location"); got != tt.signIn {
				t.Errorf("Location %q, want %q", got, tt.signIn)
			}
			if tt.message != "" && body["message"] != tt.message {
				t.Errorf("message %v, want %q", body["message"], tt.message)
			}
			if tt.status == 200 && tt.user == alice.UserID && (res.Header.Get("Remote-User") != alice.Email || res.Header.Get("Remote-Groups") != "user") {
				t.Errorf("aliases %v", res.Header)
			}
		})
	}
}

func signIn(original string) string {
	return "https://auth.example.com/login?rd=" + url.QueryEscape(original)
}

const page = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"

// TestNginxAuthRequest: nginx auth_request checks (SECURITY.md H5): the original request
// from X-Original-URL (or -URI with X-Forwarded-Host/-Proto) and X-Original-Method, only
// 200/401/403, a browser's 401 naming the sign-in page.
func TestNginxAuthRequest(t *testing.T) {
	s := server(t)
	nginx := func(extra map[string]string) map[string]string {
		h := map[string]string{"X-Original-Method": "GET", "X-Original-URL": "https://app.example.com/dash?tab=1"}
		for k, v := range extra {
			if v == "" {
				delete(h, k)
			} else {
				h[k] = v
			}
		}
		return h
	}
	p := "/api/authz/auth-request"
	run(t, s.URL, []check{
		{name: "signed in", path: p, header: nginx(map[string]string{"Cookie": "access_token=alice"}), status: 200, user: alice.UserID},
		{name: "bearer", path: p, header: nginx(map[string]string{"Authorization": "Bearer alice"}), status: 200, user: alice.UserID},
		{name: "public path, anonymous", path: p, header: nginx(map[string]string{"X-Original-URL": "https://app.example.com/public/x"}), status: 200},
		{name: "anonymous API", path: p, header: nginx(nil), status: 401, message: "You are not logged in"},
		{name: "anonymous browser", path: p, header: nginx(map[string]string{"Accept": page}), status: 401,
			signIn: signIn("https://app.example.com/dash?tab=1")},
		{name: "browser with a live refresh cookie", path: p, header: nginx(map[string]string{"Sec-Fetch-Mode": "navigate", "Cookie": "refresh_token=alice-refresh"}),
			status: 200, user: alice.UserID},
		{name: "API with only a refresh cookie: refresh yourself", path: p, header: nginx(map[string]string{"Cookie": "refresh_token=alice-refresh"}), status: 401},
		{name: "expired token", path: p, header: nginx(map[string]string{"Cookie": "access_token=stale"}), status: 401, message: "Invalid token or user doesn't exist"},
		{name: "wrong role", path: p, header: nginx(map[string]string{"X-Original-URL": "https://admin.example.com/", "Cookie": "access_token=alice"}), status: 403},
		{name: "admin", path: p, header: nginx(map[string]string{"X-Original-URL": "https://admin.example.com/", "Cookie": "access_token=root"}), status: 200, user: root.UserID},
		{name: "unknown host: refused", path: p, header: nginx(map[string]string{"X-Original-URL": "https://other.example.com/", "Cookie": "access_token=root"}), status: 403},
		{name: "traversal into admin decided as the proxy would", path: p, header: nginx(map[string]string{"X-Original-URL": "https://app.example.com/public/../x"}), status: 403},
		{name: "encoded slash", path: p, header: nginx(map[string]string{"X-Original-URL": "https://app.example.com/public/..%2fx"}), status: 403},
		{name: "store down: never a pass, never a 5xx", path: p, header: nginx(map[string]string{"Cookie": "access_token=down"}), status: 403},
		{name: "URI and forwarded host", path: p, header: nginx(map[string]string{"X-Original-URL": "", "X-Original-URI": "/dash", "X-Forwarded-Host": "app.example.com", "X-Forwarded-Proto": "https", "Cookie": "access_token=alice"}), status: 200, user: alice.UserID},
		{name: "URI without host", path: p, header: nginx(map[string]string{"X-Original-URL": "", "X-Original-URI": "/dash", "X-Forwarded-Proto": "https"}), status: 401},
		{name: "missing method", path: p, header: nginx(map[string]string{"X-Original-Method": "", "Cookie": "access_token=alice"}), status: 401},
		{name: "bad method", path: p, header: nginx(map[string]string{"X-Original-Method": "GE T", "Cookie": "access_token=alice"}), status: 401},
		{name: "relative URL", path: p, header: nginx(map[string]string{"X-Original-URL": "/dash", "Cookie": "access_token=alice"}), status: 401},
		{name: "user info", path: p, header: nginx(map[string]string{"X-Original-URL": "https://u:p@app.example.com/", "Cookie": "access_token=alice"}), status: 401},
		{name: "javascript URL", path: p, header: nginx(map[string]string{"X-Original-URL": "javascript:alert(1)", "Cookie": "access_token=alice"}), status: 401},
		{name: "NUL in path", path: p, header: nginx(map[string]string{"X-Original-URL": "https://app.example.com/a%00", "Cookie": "access_token=alice"}), status: 403},
		{name: "cross-site unsafe with cookie", path: p, header: nginx(map[string]string{"X-Original-Method": "POST", "Sec-Fetch-Site": "cross-site", "Cookie": "access_token=alice"}), status: 403},
		{name: "cross-site unsafe with bearer", path: p, header: nginx(map[string]string{"X-Original-Method": "POST", "Sec-Fetch-Site": "cross-site", "Authorization": "Bearer alice"}), status: 200, user: alice.UserID},
	})
}

// TestForwardAuthUntrusted: from a peer that is not a trusted proxy, nothing passes,
// whatever it claims.
func TestForwardAuthUntrusted(t *testing.T) {
	table, _ := routing.NewTable([]routing.Rule{{Path: "/", Access: routing.Public}})
	trust, _ := forwarded.NewTrust([]string{"10.0.0.0/8"}) // not the test's loopback
	cross, _ := csrf.New(nil, trust)
	h := New(Deps{Decider: authz.New(table, routing.PathCheck{}, sessions{}), Trust: trust,
		Jar: cookies.New(cookies.Config{}, trust), Headers: &authz.Headers{}, CSRF: cross, Errors: httperr.New(nil),
		Tokens: tokens{}, SignInURL: "/login"})
	e := echo.New()
	errs := httperr.New(nil)
	e.HTTPErrorHandler = func(err error, c echo.Context) { errs.Write(c.Response(), c.Request(), err) }
	e.Any("/api/authz/auth-request", h.AuthRequest)
	e.Any("/api/authz/forward-auth", h.ForwardAuth)
	e.Any("/api/authz/ext-authz/*", h.ExtAuthz)
	s := httptest.NewServer(e)
	defer s.Close()
	all := map[string]string{
		"X-Original-Method": "GET", "X-Original-URL": "https://app.example.com/public",
		"X-Forwarded-Method": "GET", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "app.example.com", "X-Forwarded-Uri": "/public",
		"Cookie": "access_token=root",
	}
	run(t, s.URL, []check{
		{name: "nginx", path: "/api/authz/auth-request", header: all, status: 401},
		{name: "traefik", path: "/api/authz/forward-auth", header: all, status: 401, message: "Forward-auth request not accepted"},
		{name: "envoy", path: "/api/authz/ext-authz/public", host: "app.example.com", header: all, status: 401},
	})
}

// TestTraefikCaddyForwardAuth: checks shaped as Traefik's forwardAuth and Caddy's
// forward_auth send them; refusals reach the client as they are.
func TestTraefikCaddyForwardAuth(t *testing.T) {
	s := server(t)
	fwd := func(method, host, uri string, extra map[string]string) map[string]string {
		h := map[string]string{"X-Forwarded-Method": method, "X-Forwarded-Proto": "https", "X-Forwarded-Host": host,
			"X-Forwarded-Uri": uri, "X-Forwarded-For": "203.0.113.5"}
		for k, v := range extra {
			if v == "" {
				delete(h, k)
			} else {
				h[k] = v
			}
		}
		return h
	}
	p := "/api/authz/forward-auth"
	run(t, s.URL, []check{
		{name: "signed in GET", path: p, header: fwd("GET", "app.example.com", "/x?y=1", map[string]string{"Cookie": "access_token=alice"}), status: 200, user: alice.UserID},
		{name: "signed in DELETE, same origin", path: p, header: fwd("DELETE", "app.example.com", "/x", map[string]string{"Cookie": "access_token=alice", "Sec-Fetch-Site": "same-origin"}), status: 200, user: alice.UserID},
		{name: "anonymous API", path: p, header: fwd("GET", "app.example.com", "/x", nil), status: 401, message: "You are not logged in"},
		{name: "anonymous browser: 302", path: p, header: fwd("GET", "app.example.com", "/x?y=1", map[string]string{"Sec-Fetch-Mode": "navigate"}), status: 302,
			signIn: signIn("https://app.example.com/x?y=1")},
		{name: "port kept in rd", path: p, header: fwd("GET", "app.example.com:8443", "/x", map[string]string{"Accept": page}), status: 302,
			signIn: signIn("https://app.example.com:8443/x")},
		{name: "wrong role: 403 JSON", path: p, header: fwd("GET", "admin.example.com", "/", map[string]string{"Cookie": "access_token=alice"}), status: 403,
			message: "You are not allowed to perform this action"},
		{name: "store down: 503", path: p, header: fwd("GET", "app.example.com", "/x", map[string]string{"Cookie": "access_token=down"}), status: 503},
		{name: "bad path: 400", path: p, header: fwd("GET", "app.example.com", "/public/..%2f..%2fx", nil), status: 400},
		{name: "missing uri", path: p, header: fwd("GET", "app.example.com", "", nil), status: 401},
		{name: "absolute uri", path: p, header: fwd("GET", "app.example.com", "https://evil.example/", map[string]string{"Cookie": "access_token=alice"}), status: 401},
		{name: "missing host", path: p, header: fwd("GET", "", "/x", map[string]string{"Cookie": "access_token=alice"}), status: 401},
		{name: "host with a path", path: p, header: fwd("GET", "app.example.com/x", "/x", map[string]string{"Cookie": "access_token=alice"}), status: 401},
		{name: "bad scheme", path: p, header: fwd("GET", "app.example.com", "/x", map[string]string{"X-Forwarded-Proto": "gopher", "Cookie": "access_token=alice"}), status: 401},
		{name: "missing method", path: p, header: fwd("", "app.example.com", "/x", map[string]string{"Cookie": "access_token=alice"}), status: 401},
		{name: "CR LF in uri", path: p, header: fwd("GET", "app.example.com", "/x\tX-Injected: 1", map[string]string{"Cookie": "access_token=alice"}), status: 401},
		{name: "unknown host", path: p, header: fwd("GET", "nowhere.example", "/x", map[string]string{"Cookie": "access_token=alice"}), status: 403},
		{name: "case folding onto admin", path: p, header: fwd("GET", "ADMIN.example.com", "/", map[string]string{"Cookie": "access_token=alice"}), status: 403},
	})
}

// TestEnvoyHTTPExtAuthz: Envoy's HTTP ext_authz sends the original method, the original
// path under path_prefix and the original Host.
func TestEnvoyHTTPExtAuthz(t *testing.T) {
	s := server(t)
	run(t, s.URL, []check{
		{name: "signed in", path: "/api/authz/ext-authz/dash?x=1", host: "app.example.com", header: map[string]string{"Cookie": "access_token=alice", "X-Forwarded-Proto": "https"}, status: 200, user: alice.UserID},
		{name: "POST keeps its method", method: "POST", path: "/api/authz/ext-authz/dash", host: "app.example.com", header: map[string]string{"Authorization": "Bearer alice"}, status: 200, user: alice.UserID},
		{name: "public", path: "/api/authz/ext-authz/public/a", host: "app.example.com", status: 200},
		{name: "anonymous API", path: "/api/authz/ext-authz/dash", host: "app.example.com", status: 401, message: "You are not logged in"},
		{name: "anonymous browser", path: "/api/authz/ext-authz/dash", host: "app.example.com", header: map[string]string{"Accept": page, "X-Forwarded-Proto": "https"}, status: 302,
			signIn: signIn("https://app.example.com/dash")},
		{name: "admin host", path: "/api/authz/ext-authz/", host: "admin.example.com", header: map[string]string{"Cookie": "access_token=alice"}, status: 403},
		{name: "traversal", path: "/api/authz/ext-authz/public/%2e%2e/dash", host: "app.example.com", status: 400},
	})
}

// TestOriginalURL: the rd the sign-in page gets back is the original URL, escaped as sent.
func TestOriginalURL(t *testing.T) {
	o := original{scheme: "https", host: "app.example.com:8443", path: "/a b/ü", escapedPath: "/a%20b/%C3%BC", rawQuery: "q=1&r=%2F"}
	if got := o.url(); got != "https://app.example.com:8443/a%20b/%C3%BC?q=1&r=%2F" {
		t.Fatalf("url %q", got)
	}
	if got := SignInURL("/login?x=1", "https://a/b"); got != "/login?x=1&rd=https%3A%2F%2Fa%2Fb" || !strings.HasPrefix(SignInURL("/login", "/"), "/login?rd=") {
		t.Fatalf("SignInURL %q", got)
	}
}
