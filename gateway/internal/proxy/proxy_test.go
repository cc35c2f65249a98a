package proxy

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/authgate/authgate/gateway/internal/authz"
	"github.com/authgate/authgate/gateway/internal/forwarded"
	"github.com/authgate/authgate/gateway/internal/routing"
)

func TestIdentityHeadersSet(t *testing.T) {
	t.Parallel()
	up := newUpstream(t)
	tests := []struct {
		name     string
		access   routing.Access
		id       *Identity
		header   map[string][]string
		wantUser []string
		wantRole []string
	}{
		{"identified", routing.Authenticated, &Identity{UserID: "u1", Role: "admin"}, nil, []string{"u1"}, []string{"admin"}},
		{"no role", routing.Authenticated, &Identity{UserID: "u1"}, nil, []string{"u1"}, nil},
		{"anonymous public", routing.Public, nil, nil, nil, nil},
		{"identified on a public route", routing.Public, &Identity{UserID: "u2", Role: "user"}, nil, []string{"u2"}, []string{"user"}},
		// H2: the client lists the gateway's headers as hop-by-hop.
		{"connection names X-User-Id", routing.Authenticated, &Identity{UserID: "u1", Role: "admin"},
			map[string][]string{"Connection": {"close, X-User-Id, X-User-Role, X-Request-Id"}}, []string{"u1"}, []string{"admin"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := newProxy(t, Options{})
			front := newFront(t, p, mustRoute(t, routing.Rule{Upstream: up.URL, Access: tt.access}), tt.id)
			got := do(t, newRequest(t, http.MethodGet, front.URL+"/x", tt.header))
			if u := got.Header["X-User-Id"]; !slices.Equal(u, tt.wantUser) {
				t.Errorf("X-User-Id = %q, want %q", u, tt.wantUser)
			}
			if r := got.Header["X-User-Role"]; !slices.Equal(r, tt.wantRole) {
				t.Errorf("X-User-Role = %q, want %q", r, tt.wantRole)
			}
			if rid := got.Header["X-Request-Id"]; !slices.Equal(rid, []string{"rid-gateway"}) {
				t.Errorf("X-Request-Id = %q, want the gateway's", rid)
			}
		})
	}
}

// TestSpoofedIdentityHeadersNeverReachUpstream covers H1 and H2 on anonymous,
// identified and upgrade requests.
func TestSpoofedIdentityHeadersNeverReachUpstream(t *testing.T) {
	t.Parallel()
	up := newUpstream(t)
	spoofs := map[string][]string{
		"X-User-Id":                       {"admin-id"},
		"x_user_id":                       {"admin-id"},
		"X-USER-ROLE":                     {"admin"},
		"X-Auth-Request-User":             {"admin"},
		"Remote-User":                     {"admin"},
		"X-Forwarded-User":                {"admin"},
		"x-forwarded-email":               {"admin@example.com"},
		"X_Forwarded_Groups":              {"admins"},
		"X-Forwarded-Preferred-Username":  {"admin"},
		"Remote-Groups":                   {"admins"},
		"X-Tenant-Admin":                  {"yes"}, // configured alias
		"X-Real-Ip":                       {"6.6.6.6"},
		"True-Client-Ip":                  {"6.6.6.6"},
		"Cf-Connecting-Ip":                {"6.6.6.6"},
		"X-Webauth-User":                  {"admin"},
		"X-Goog-Authenticated-User-Email": {"accounts.google.com:admin@x"},
		"X-Amzn-Oidc-Identity":            {"admin"},
		"X-Ms-Client-Principal-Name":      {"admin"},
		"X-Forwarded-Roles":               {"admin"},
	}
	with := func(extra map[string][]string) map[string][]string {
		h := map[string][]string{}
		for k, v := range spoofs {
			h[k] = v
		}
		for k, v := range extra {
			h[k] = v
		}
		return h
	}
	tests := []struct {
		name   string
		id     *Identity
		header map[string][]string
	}{
		{"anonymous", nil, with(nil)},
		{"identified", &Identity{UserID: "u1", Role: "user"}, with(nil)},
		{"anonymous hop-by-hop", nil, with(map[string][]string{"Connection": {"close, X-User-Id, Remote-User"}})},
		{"identified hop-by-hop", &Identity{UserID: "u1", Role: "user"}, with(map[string][]string{"Connection": {"X-User-Id, X-User-Role"}})},
		{"websocket upgrade", &Identity{UserID: "u1", Role: "user"}, with(map[string][]string{
			"Connection": {"Upgrade, X-User-Id"}, "Upgrade": {"websocket"}, "Sec-Websocket-Version": {"13"},
			"Sec-Websocket-Key": {"dGhlIHNhbXBsZSBub25jZQ=="},
		})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := newProxy(t, Options{Aliases: []string{"X-Tenant-Admin"}})
			front := newFront(t, p, mustRoute(t, routing.Rule{Upstream: up.URL, Access: routing.Public}), tt.id)
			got := do(t, newRequest(t, http.MethodGet, front.URL+"/x", tt.header))
			for k, v := range got.Header {
				if !reservedOracle(k, p.aliases) {
					continue
				}
				if tt.id != nil && (k == authz.HeaderUserID && slices.Equal(v, []string{tt.id.UserID}) ||
					k == authz.HeaderUserRole && slices.Equal(v, []string{tt.id.Role})) {
					continue
				}
				if k == "X-Real-Ip" && slices.Equal(v, []string{"127.0.0.1"}) {
					continue // the gateway's own, from the socket
				}
				t.Errorf("upstream received %s: %q", k, v)
			}
			if tt.id != nil && got.Header.Get(authz.HeaderUserID) != tt.id.UserID {
				t.Errorf("X-User-Id = %q, want %q", got.Header.Get(authz.HeaderUserID), tt.id.UserID)
			}
		})
	}
}

// TestRequestTrailersCannotCarryIdentity: identity headers declared as request
// trailers are dropped too.
func TestRequestTrailersCannotCarryIdentity(t *testing.T) {
	t.Parallel()
	up := newUpstream(t)
	front := newFront(t, newProxy(t, Options{}), mustRoute(t, routing.Rule{Upstream: up.URL}), nil)
	req := newRequest(t, http.MethodPost, front.URL+"/x", nil)
	req.Body = readCloser{strings.NewReader("body")}
	req.ContentLength = -1
	req.Trailer = http.Header{"X-User-Id": {"admin"}, "X-Other": {"kept"}}
	got := do(t, req)
	if _, ok := got.Trailer["X-User-Id"]; ok {
		t.Errorf("upstream received trailer X-User-Id: %q", got.Trailer)
	}
	if _, ok := got.Trailer["X-Other"]; !ok {
		t.Errorf("ordinary trailer lost: %q", got.Trailer)
	}
}

type readCloser struct{ *strings.Reader }

func (readCloser) Close() error { return nil }

func TestAuthorizationForwarding(t *testing.T) {
	t.Parallel()
	up := newUpstream(t)
	for _, pass := range []bool{false, true} {
		t.Run(map[bool]string{false: "stripped", true: "passed"}[pass], func(t *testing.T) {
			t.Parallel()
			route := mustRoute(t, routing.Rule{Upstream: up.URL, PassAuthorization: pass})
			front := newFront(t, newProxy(t, Options{}), route, nil)
			got := do(t, newRequest(t, http.MethodGet, front.URL+"/x", map[string][]string{
				"authorization": {"Bearer secret"}, // non-canonical on the wire
			}))
			want := []string(nil)
			if pass {
				want = []string{"Bearer secret"}
			}
			if a := got.Header["Authorization"]; !slices.Equal(a, want) {
				t.Errorf("Authorization = %q, want %q", a, want)
			}
		})
	}
}

// TestNonCanonicalKeysFromHandlers: a handler in front of the proxy that sets
// lower-case keys cannot leak Authorization or the gateway's cookies.
func TestNonCanonicalKeysFromHandlers(t *testing.T) {
	t.Parallel()
	up := newUpstream(t)
	p := newProxy(t, Options{})
	route := mustRoute(t, routing.Rule{Upstream: up.URL})
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Header["authorization"] = []string{"Bearer secret"}
		r.Header["cookie"] = []string{"access_token=t; theme=dark"}
		p.Forward(w, r, decision(route, nil))
	}))
	t.Cleanup(front.Close)
	got := do(t, newRequest(t, http.MethodGet, front.URL+"/x", nil))
	if a, ok := got.Header["Authorization"]; ok {
		t.Errorf("Authorization = %q reached the upstream", a)
	}
	if c := got.Header["Cookie"]; !slices.Equal(c, []string{"theme=dark"}) {
		t.Errorf("Cookie = %q, want theme=dark only", c)
	}
}

func TestCookieForwarding(t *testing.T) {
	t.Parallel()
	up := newUpstream(t)
	tests := []struct {
		name   string
		pass   bool
		names  []string
		cookie []string
		want   []string
	}{
		{"gateway cookies removed", false, nil,
			[]string{"access_token=a.b.c; theme=dark; refresh_token=r; logged_in=true; lang=en"}, []string{"theme=dark; lang=en"}},
		{"only gateway cookies", false, nil, []string{"access_token=a; logged_in=true"}, nil},
		{"spaces around names", false, nil, []string{" access_token = a ;other=1;  refresh_token=x"}, []string{"other=1"}},
		{"look-alike names kept", false, nil,
			[]string{"access_token2=a; my_access_token=b; Access_Token=c"}, []string{"access_token2=a; my_access_token=b; Access_Token=c"}},
		{"two cookie headers merged", false, nil, []string{"a=1; access_token=t", "b=2"}, []string{"a=1; b=2"}},
		{"untouched without gateway cookies", false, nil, []string{"a=1", "b=2"}, []string{"a=1", "b=2"}},
		{"PassCookies keeps all", true, nil, []string{"access_token=a; theme=dark"}, []string{"access_token=a; theme=dark"}},
		{"configured names", false, []string{"sid"}, []string{"sid=1; access_token=a"}, []string{"access_token=a"}},
		{"no cookie header", false, nil, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			route := mustRoute(t, routing.Rule{Upstream: up.URL, PassCookies: tt.pass})
			front := newFront(t, newProxy(t, Options{CookieNames: tt.names}), route, nil)
			header := map[string][]string{}
			if tt.cookie != nil {
				header["Cookie"] = tt.cookie
			}
			got := do(t, newRequest(t, http.MethodGet, front.URL+"/x", header))
			if c := got.Header["Cookie"]; !slices.Equal(c, tt.want) {
				t.Errorf("Cookie = %q, want %q", c, tt.want)
			}
		})
	}
}

func TestStripCookiesAllocatesOnlyToRemove(t *testing.T) {
	names := []string{"access_token", "refresh_token", "logged_in"}
	h := http.Header{"Cookie": {"theme=dark; lang=en; session_hint=1"}}
	if allocs := testing.AllocsPerRun(100, func() { stripCookies(h, names) }); allocs != 0 {
		t.Errorf("stripCookies allocates %.1f times without gateway cookies", allocs)
	}
	if got := h["Cookie"]; !slices.Equal(got, []string{"theme=dark; lang=en; session_hint=1"}) {
		t.Errorf("Cookie changed to %q", got)
	}
}

// TestForwardedHeaders: from anyone but a trusted proxy the client's X-Forwarded-* are
// replaced by what the gateway saw; a trusted proxy's chain, scheme and host are kept,
// as Caddy does (SECURITY.md H3, H9).
func TestForwardedHeaders(t *testing.T) {
	t.Parallel()
	up := newUpstream(t)
	spoof := map[string][]string{
		"X-Forwarded-For":   {"6.6.6.6", "7.7.7.7"},
		"X-Forwarded-Host":  {"app.example"},
		"X-Forwarded-Proto": {"https"},
		"Forwarded":         {"for=6.6.6.6;proto=https"},
		"X-Real-Ip":         {"6.6.6.6"},
	}
	trusted, err := forwarded.NewTrust([]string{"127.0.0.0/8"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		trust   *forwarded.Trust
		header  map[string][]string
		wantXFF []string
		realIP  string
		host    string // "" = the request's own Host
		proto   string
	}{
		{"untrusted peer: replaced", nil, spoof, []string{"127.0.0.1"}, "127.0.0.1", "", "http"},
		{"trusted peer: kept and extended", trusted, spoof, []string{"6.6.6.6, 7.7.7.7, 127.0.0.1"}, "7.7.7.7", "app.example", "https"},
		{"trusted peer without headers", trusted, nil, []string{"127.0.0.1"}, "127.0.0.1", "", "http"},
		{"hop-by-hop cannot drop them", nil, map[string][]string{"Connection": {"X-Forwarded-For, X-Forwarded-Host, X-Real-Ip"}},
			[]string{"127.0.0.1"}, "127.0.0.1", "", "http"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := newProxy(t, Options{Trust: tt.trust})
			front := newFront(t, p, mustRoute(t, routing.Rule{Upstream: up.URL}), nil)
			req := newRequest(t, http.MethodGet, front.URL+"/x", tt.header)
			got := do(t, req)
			if xff := got.Header["X-Forwarded-For"]; !slices.Equal(xff, tt.wantXFF) {
				t.Errorf("X-Forwarded-For = %q, want %q", xff, tt.wantXFF)
			}
			if ip := got.Header["X-Real-Ip"]; !slices.Equal(ip, []string{tt.realIP}) {
				t.Errorf("X-Real-Ip = %q, want %q", ip, tt.realIP)
			}
			wantHost := tt.host
			if wantHost == "" {
				wantHost = req.URL.Host
			}
			if h := got.Header["X-Forwarded-Host"]; !slices.Equal(h, []string{wantHost}) {
				t.Errorf("X-Forwarded-Host = %q, want %q", h, wantHost)
			}
			if p := got.Header["X-Forwarded-Proto"]; !slices.Equal(p, []string{tt.proto}) {
				t.Errorf("X-Forwarded-Proto = %q, want %q", p, tt.proto)
			}
			if f, ok := got.Header["Forwarded"]; ok {
				t.Errorf("Forwarded = %q reached the upstream", f)
			}
			if got.Host != strings.TrimPrefix(up.URL, "http://") {
				t.Errorf("Host = %q, want the upstream's", got.Host)
			}
		})
	}
}

func TestPathAndQueryVerbatim(t *testing.T) {
	t.Parallel()
	up := newUpstream(t)
	tests := []struct {
		name, base, target, want string
	}{
		{"root", "", "/", "/"},
		{"plain", "", "/api/users/42", "/api/users/42"},
		{"query verbatim", "", "/a?q=1&q=2&r=https%3A%2F%2Fx.example%2F&e=&f", "/a?q=1&q=2&r=https%3A%2F%2Fx.example%2F&e=&f"},
		{"escapes verbatim", "", "/files/a%20b/Z%C3%BCrich", "/files/a%20b/Z%C3%BCrich"},
		{"trailing slash", "", "/api/users/", "/api/users/"},
		{"base path", "/base", "/x", "/base/x"},
		{"base path slash", "/base/", "/x", "/base/x"},
		{"base path root", "/base", "/", "/base/"},
		{"base path with query", "/base", "/x/y?z=1", "/base/x/y?z=1"},
		{"base path escaped", "/base", "/a%20b?c=%2F", "/base/a%20b?c=%2F"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			front := newFront(t, newProxy(t, Options{}), mustRoute(t, routing.Rule{Upstream: up.URL + tt.base}), nil)
			got := do(t, newRequest(t, http.MethodGet, front.URL+tt.target, nil))
			if got.RequestURI != tt.want {
				t.Errorf("upstream request-target = %q, want %q", got.RequestURI, tt.want)
			}
		})
	}
}

// TestOverrideHeadersNeverReachUpstream (SECURITY.md H9): headers that tell an upstream
// to read another path never pass; method overrides do not pass where the route
// restricts methods (there they would undo the gateway's method check).
func TestOverrideHeadersNeverReachUpstream(t *testing.T) {
	t.Parallel()
	up := newUpstream(t)
	over := map[string][]string{
		"X-Original-Url": {"/admin"}, "X-Rewrite-Url": {"/admin"}, "X-Override-Url": {"/admin"},
		"X-Original-Uri": {"/admin"}, "X-Original-Method": {"DELETE"},
		"X-Http-Method-Override": {"DELETE"}, "X-Http-Method": {"DELETE"}, "X-Method-Override": {"DELETE"},
	}
	for _, restricted := range []bool{false, true} {
		rule := routing.Rule{Upstream: up.URL, Access: routing.Public}
		if restricted {
			rule.Methods = []string{"GET"}
		}
		p := newProxy(t, Options{})
		front := newFront(t, p, mustRoute(t, rule), nil)
		got := do(t, newRequest(t, http.MethodGet, front.URL+"/x", over))
		for _, k := range []string{"X-Original-Url", "X-Rewrite-Url", "X-Override-Url", "X-Original-Uri", "X-Original-Method"} {
			if v, ok := got.Header[k]; ok {
				t.Errorf("restricted=%v: %s %q reached the upstream", restricted, k, v)
			}
		}
		for _, k := range []string{"X-Http-Method-Override", "X-Http-Method", "X-Method-Override"} {
			if _, ok := got.Header[k]; ok == restricted {
				t.Errorf("restricted=%v: %s passed = %v", restricted, k, ok)
			}
		}
	}
}
