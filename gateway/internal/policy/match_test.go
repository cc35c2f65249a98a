package policy

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

func TestMatch(t *testing.T) {
	t.Parallel()
	table := mustTable(t, testRules())
	tests := []struct {
		name   string
		method string
		path   string
		want   int // rule index, -1 for no match
	}{
		// Exact rules: a trailing slash is a different path.
		{"exact", "GET", "/api/users/me", 0},
		{"exact trailing slash", "GET", "/api/users/me/", 1},
		{"exact longer", "GET", "/api/users/me/x", 1},
		{"exact case folds on protected", "GET", "/API/USERS/ME", 0},
		{"exact public slash", "GET", "/docs/", 6},
		{"exact public without slash", "GET", "/docs", 7},
		{"exact public deeper", "GET", "/docs/a", 7},
		{"exact login", "POST", "/login", 5},
		{"exact login slash", "POST", "/login/", 10},
		// Prefix rules on segment boundaries.
		{"prefix itself", "GET", "/api/users", 1},
		{"prefix slash", "GET", "/api/users/", 1},
		{"prefix child", "DELETE", "/api/users/42", 1},
		{"prefix not a segment", "GET", "/api/usersx", 10},
		{"prefix not a segment 2", "GET", "/api/user", 10},
		{"prefix longer segment", "GET", "/api/users-admin", 10},
		// Case: protected rules fold, so case tricks land on the protected rule...
		{"case upper", "GET", "/API/USERS", 1},
		{"case mixed", "GET", "/Api/Users/42", 1},
		{"case unicode fold", "GET", "/STRASSE", 10}, // simple folding does not expand ß
		{"case unicode sharp s", "GET", "/STRAẞE/x", 8},
		{"case kelvin sign", "GET", "/\u212Aelvin", 9},
		// ...and public rules do not, so case tricks never widen a public rule.
		{"public exact case", "POST", "/LOGIN", 10},
		{"public docs case", "GET", "/DOCS/", 7},
		{"public method case", "get", "/api/posts", 3},
		// Methods: a rule that does not list the method is skipped.
		{"method public GET", "GET", "/api/posts/1", 2},
		{"method public HEAD via GET", "HEAD", "/api/posts/1", 2},
		{"method skipped", "POST", "/api/posts/1", 3},
		{"method protected", "POST", "/api/reports", 4},
		{"method protected folds", "post", "/api/reports/x", 4},
		{"method protected skipped", "GET", "/api/reports", 10},
		// Order: first match wins; the catch-all takes the rest.
		{"root", "GET", "/", 10},
		{"catch-all", "GET", "/anything/else", 10},
		{"no slash no match", "GET", "relative", -1},
		{"empty", "GET", "", -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			route, ok := table.Match(tt.method, tt.path)
			if tt.want < 0 {
				if ok || route != nil {
					t.Fatalf("Match(%q, %q) = rule %d, want no match", tt.method, tt.path, route.Index)
				}
				return
			}
			if !ok || route == nil {
				t.Fatalf("Match(%q, %q) found nothing, want rule %d", tt.method, tt.path, tt.want)
			}
			if route.Index != tt.want {
				t.Errorf("Match(%q, %q) = rule %d (%s), want rule %d", tt.method, tt.path, route.Index, route.Path, tt.want)
			}
		})
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
			if _, ok := table.Match(tt.method, tt.path); ok != tt.ok {
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

func TestMatchDoesNotAllocate(t *testing.T) {
	table := mustTable(t, testRules())
	allocs := testing.AllocsPerRun(100, func() {
		table.Match("GET", "/API/Users/42")
		table.Match("POST", "/\u212Aelvin/x")
		table.Match("GET", "/nothing/here")
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
				if _, ok := table.Match(c.method, c.path); !ok {
					b.Fatal("no match")
				}
			}
		})
	}
}
