package routing

import (
	"strings"
	"testing"
)

// testRules is a realistic table; the comment on each rule is its index.
func testRules() []Rule {
	return []Rule{
		{Path: "/api/users/me", Exact: true, Upstream: up, Access: Authenticated},                                // 0
		{Path: "/api/users", Upstream: up, Access: Roles, Roles: []string{"admin"}},                              // 1
		{Path: "/api/posts", Methods: []string{"GET"}, Upstream: up, Access: Public},                             // 2
		{Path: "/api/posts", Upstream: up, Access: Authenticated},                                                // 3
		{Path: "/api/reports", Methods: []string{"POST"}, Upstream: up, Access: Roles, Roles: []string{"admin"}}, // 4
		{Path: "/login", Exact: true, Upstream: up, Access: Public},                                              // 5
		{Path: "/docs/", Exact: true, Upstream: up, Access: Public},                                              // 6
		{Path: "/docs", Upstream: up, Access: Authenticated},                                                     // 7
		{Path: "/straße", Upstream: up, Access: Authenticated},                                                   // 8
		{Path: "/kelvin", Upstream: up, Access: Authenticated},                                                   // 9
		{Path: "/", Upstream: up, Access: Public},                                                                // 10
	}
}

func mustTable(tb testing.TB, rules []Rule) *Table {
	tb.Helper()
	table, err := NewTable(rules)
	if err != nil {
		tb.Fatal(err)
	}
	return table
}

// access is what a decision lets through: anonymous callers, a "user", an "admin".
type access struct{ anon, user, admin bool }

var (
	open      = access{true, true, true}
	loggedIn  = access{false, true, true}
	adminOnly = access{false, false, true}
)

func accessOf(m Match) access {
	return access{m.Public(), m.Allows("user"), m.Allows("admin")}
}

func TestMatch(t *testing.T) {
	t.Parallel()
	table := mustTable(t, testRules())
	tests := []struct {
		name   string
		method string
		path   string
		want   int // rule index, -1 for no match
		access access
	}{
		// Exact rules: a trailing slash is a different path.
		{"exact", "GET", "/api/users/me", 0, loggedIn},
		{"exact trailing slash", "GET", "/api/users/me/", 1, adminOnly},
		{"exact longer", "GET", "/api/users/me/x", 1, adminOnly},
		{"exact public slash", "GET", "/docs/", 6, open},
		{"exact public without slash", "GET", "/docs", 7, loggedIn},
		{"exact public deeper", "GET", "/docs/a", 7, loggedIn},
		{"exact login", "POST", "/login", 5, open},
		{"exact login slash", "POST", "/login/", 10, open},
		// Prefix rules on segment boundaries.
		{"prefix itself", "GET", "/api/users", 1, adminOnly},
		{"prefix slash", "GET", "/api/users/", 1, adminOnly},
		{"prefix child", "DELETE", "/api/users/42", 1, adminOnly},
		{"prefix not a segment", "GET", "/api/usersx", 10, open},
		{"prefix not a segment 2", "GET", "/api/user", 10, open},
		{"prefix longer segment", "GET", "/api/users-admin", 10, open},
		// Case: a path that matches some rule only under folding must satisfy every
		// rule it matches under folding (SECURITY.md H10).
		{"case: /api/users/ME is not the exact /me rule", "GET", "/api/users/ME", 0, adminOnly},
		{"case: exact rule in capitals", "GET", "/API/USERS/ME", 0, adminOnly},
		{"case upper", "GET", "/API/USERS", 1, adminOnly},
		{"case mixed", "GET", "/Api/Users/42", 1, adminOnly},
		{"case unicode fold", "GET", "/STRASSE", 10, open}, // simple folding does not expand ß
		{"case unicode sharp s", "GET", "/STRAẞE/x", 8, loggedIn},
		{"case kelvin sign", "GET", "/\u212Aelvin", 9, loggedIn},
		{"public exact case", "POST", "/LOGIN", 5, open},
		{"public docs case", "GET", "/DOCS/", 6, loggedIn},
		{"public method case", "get", "/api/posts", 2, loggedIn},
		// Methods: a rule that does not list the method is skipped.
		{"method public GET", "GET", "/api/posts/1", 2, open},
		{"method public HEAD via GET", "HEAD", "/api/posts/1", 2, open},
		{"method skipped", "POST", "/api/posts/1", 3, loggedIn},
		{"method protected", "POST", "/api/reports", 4, adminOnly},
		{"method protected folds", "post", "/api/reports/x", 4, adminOnly},
		{"method protected skipped", "GET", "/api/reports", 10, open},
		// Order: first match wins; the catch-all takes the rest.
		{"root", "GET", "/", 10, open},
		{"catch-all", "GET", "/anything/else", 10, open},
		{"catch-all capitals", "GET", "/Static/App.js", 10, open},
		{"no slash no match", "GET", "relative", -1, access{}},
		{"empty", "GET", "", -1, access{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, ok := table.Match(tt.method, "", tt.path)
			if tt.want < 0 {
				if ok || m.Route != nil {
					t.Fatalf("Match(%q, %q) = rule %d, want no match", tt.method, tt.path, m.Route.Index)
				}
				return
			}
			if !ok || m.Route == nil {
				t.Fatalf("Match(%q, %q) found nothing, want rule %d", tt.method, tt.path, tt.want)
			}
			if m.Route.Index != tt.want {
				t.Errorf("Match(%q, %q) = rule %d (%s), want rule %d", tt.method, tt.path, m.Route.Index, m.Route.Path, tt.want)
			}
			if got := accessOf(m); got != tt.access {
				t.Errorf("Match(%q, %q) lets through %+v, want %+v", tt.method, tt.path, got, tt.access)
			}
		})
	}
}

// TestCaseFoldingNeverLaxer is the design review's two tables: a path that reaches a
// stricter rule's region only by a change of case is decided at least as strictly as
// that rule (SECURITY.md H10).
func TestCaseFoldingNeverLaxer(t *testing.T) {
	t.Parallel()
	tables := []struct {
		name  string
		rules []Rule
		cases map[string]access
	}{
		{
			name: "seed table",
			rules: []Rule{
				{Path: "/api/users/me", Exact: true, Upstream: up, Access: Authenticated},
				{Path: "/api/users", Upstream: up, Access: Roles, Roles: []string{"admin"}},
			},
			cases: map[string]access{
				"/api/users/me": loggedIn, "/api/users/ME": adminOnly, "/API/users/me": adminOnly,
				"/api/users": adminOnly, "/api/users/42": adminOnly,
			},
		},
		{
			name: "admin/me before admin",
			rules: []Rule{
				{Path: "/admin/me", Upstream: up, Access: Authenticated},
				{Path: "/admin", Upstream: "http://127.0.0.1:9", Access: Roles, Roles: []string{"admin"}},
				{Path: "/", Upstream: up, Access: Public},
			},
			cases: map[string]access{
				"/admin/me": loggedIn, "/admin/me/x": loggedIn, "/ADMIN/ME": adminOnly, "/Admin/me": adminOnly,
				"/admin/ME/x": adminOnly, "/ADMIN": adminOnly, "/adminx": open, "/x": open,
			},
		},
	}
	for _, tb := range tables {
		table := mustTable(t, tb.rules)
		for path, want := range tb.cases {
			t.Run(tb.name+" "+path, func(t *testing.T) {
				m, ok := table.Match("GET", "", path)
				if !ok {
					t.Fatalf("no match for %q", path)
				}
				if got := accessOf(m); got != want {
					t.Fatalf("%q lets through %+v, want %+v (route %d, strict %v)", path, got, want, m.Route.Index, m.Strict())
				}
			})
		}
	}
}

func TestMatchHosts(t *testing.T) {
	t.Parallel()
	table := mustTable(t, []Rule{
		{Host: "admin.example.com", Path: "/", Access: Roles, Roles: []string{"admin"}},
		{Host: "*.apps.example.com", Path: "/public", Access: Public},
		{Host: "*.apps.example.com", Path: "/", Access: Authenticated},
		{Host: "Example.COM", Path: "/", Upstream: up, Access: Public},
	})
	tests := []struct {
		host string
		want int
	}{
		{"admin.example.com", 0},
		{"ADMIN.Example.com", 0},
		{"one.apps.example.com", 2},
		{"two.apps.example.com", 2},
		{"a.b.apps.example.com", -1}, // one label only
		{"apps.example.com", -1},
		{"example.com", 3},
		{"evil.com", -1},
		{"", -1},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			m, ok := table.Match("GET", tt.host, "/x")
			got := -1
			if ok {
				got = m.Route.Index
			}
			if got != tt.want {
				t.Fatalf("host %q: rule %d, want %d", tt.host, got, tt.want)
			}
		})
	}
	if m, _ := table.Match("GET", "x.apps.example.com", "/public/a"); m.Route.Index != 1 || !m.Public() {
		t.Fatalf("public path on a wildcard host: %+v", m)
	}
	if m, _ := table.Match("GET", "admin.example.com", "/"); m.Route.Target != nil {
		t.Fatal("a rule without upstream has a target")
	}
}

func TestHostOnly(t *testing.T) {
	for in, want := range map[string]string{
		"example.com": "example.com", "example.com:8443": "example.com", "[::1]:80": "::1", "[::1]": "::1",
		"::1": "::1", "": "",
	} {
		if got := HostOnly(in); got != want {
			t.Errorf("HostOnly(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMatchWithoutCatchAll(t *testing.T) {
	t.Parallel()
	table := mustTable(t, []Rule{{Path: "/api", Methods: []string{"GET"}, Upstream: up, Access: Authenticated}})
	for _, tt := range []struct {
		method, path string
		ok           bool
	}{
		{"GET", "/api", true},
		{"POST", "/api", false},
		{"GET", "/other", false},
		{"GET", "/ap", false},
	} {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			t.Parallel()
			if _, ok := table.Match(tt.method, "", tt.path); ok != tt.ok {
				t.Errorf("Match(%q, %q) ok = %v, want %v", tt.method, tt.path, ok, tt.ok)
			}
		})
	}
}

func TestFoldPrefix(t *testing.T) {
	t.Parallel()
	tests := []struct {
		s, prefix string
		n         int
		ok        bool
	}{
		{"/API/x", "/api", 4, true},
		{"/api", "/api", 4, true},
		{"/ap", "/api", 0, false},
		{"/\u212Aey", "/key", 6, true}, // the Kelvin sign is three bytes
		{"/key", "/\u212Aey", 4, true},
		{"/ÄPFEL", "/äpfel", 7, true},
		{"/apfel", "/äpfel", 0, false},
		{"", "/", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.s+"|"+tt.prefix, func(t *testing.T) {
			t.Parallel()
			n, ok := foldPrefix(tt.s, tt.prefix)
			if n != tt.n || ok != tt.ok {
				t.Errorf("foldPrefix(%q, %q) = %d, %v; want %d, %v", tt.s, tt.prefix, n, ok, tt.n, tt.ok)
			}
			if ok && !strings.EqualFold(tt.s[:n], tt.prefix) {
				t.Errorf("strings.EqualFold disagrees on %q", tt.s[:n])
			}
		})
	}
}

// TestMatchDoesNotAllocate: only a request that matches some rule only under case
// folding (rare, and stricter) allocates its list of rules.
func TestMatchDoesNotAllocate(t *testing.T) {
	table := mustTable(t, testRules())
	allocs := testing.AllocsPerRun(100, func() {
		table.Match("GET", "", "/api/users/42")
		table.Match("POST", "", "/kelvin/x")
		table.Match("GET", "example.com", "/nothing/here")
		table.Match("GET", "", "/Static/App.js")
	})
	if allocs != 0 {
		t.Errorf("Match allocates %.1f times per run", allocs)
	}
}

// BenchmarkMatch runs the eleven-rule testRules table against paths that hit an
// early rule, a late rule, a case variant and the catch-all.
func BenchmarkMatch(b *testing.B) {
	table := mustTable(b, testRules())
	cases := []struct{ name, method, path string }{
		{"first", "GET", "/api/users/me"},
		{"prefix", "DELETE", "/api/users/42"},
		{"case", "GET", "/API/Users/42"},
		{"method-skip", "POST", "/api/posts/1"},
		{"catch-all", "GET", "/static/js/app.0123456789.js"},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, ok := table.Match(c.method, "", c.path); !ok {
					b.Fatal("no match")
				}
			}
		})
	}
}
