package routing

import (
	"net/url"
	pathpkg "path"
	"strings"
	"testing"
)

// fuzzRules puts protected rules before the public ones they could be confused
// with, and a public catch-all last.
func fuzzRules() []Rule {
	return []Rule{
		{Path: "/api/users", Upstream: up, Access: Roles, Roles: []string{"admin"}},
		{Path: "/api/reports", Methods: []string{"POST"}, Upstream: up, Access: Authenticated},
		{Path: "/admin", Exact: true, Upstream: up, Access: Roles, Roles: []string{"admin"}},
		{Path: "/\u212Aey", Upstream: up, Access: Authenticated},
		{Path: "/public", Upstream: up, Access: Public},
		{Path: "/api", Methods: []string{"GET"}, Upstream: up, Access: Public},
		{Path: "/", Upstream: up, Access: Public},
	}
}

// equalFoldRegion is the oracle: does path fall under rule's path by
// strings.EqualFold on some segment boundary (exact: the whole path)?
func equalFoldRegion(path string, r *Route) bool {
	if r.Exact {
		return strings.EqualFold(path, r.Path)
	}
	if r.Path == "/" {
		return strings.HasPrefix(path, "/")
	}
	for k := 1; k <= len(path); k++ {
		if (k == len(path) || path[k] == '/') && strings.EqualFold(path[:k], r.Path) {
			return true
		}
	}
	return false
}

func FuzzCheckPathMatch(f *testing.F) {
	for _, s := range []string{
		"/", "/api/users", "/API/Users/42", "/api/usersx", "/public/..%2fapi/users",
		"/public%2F..%2Fapi", "/api//users", "/api/./users", "/api/users;x=1", "/api\\users",
		"/api/%2e%2e/x", "/api%00", "/admin", "/ADMIN/", "/\u212Aey/x", "/key", "/public/x?y=1",
		"/api/%252e", "/a%20b/", "/\uff0fapi",
	} {
		f.Add("GET", s)
		f.Add("POST", s)
	}
	table := mustTable(f, fuzzRules())
	routes := table.Routes()
	f.Fuzz(func(t *testing.T, method, target string) {
		u, err := url.Parse(target)
		if err != nil {
			return
		}
		for _, in := range [][2]string{{u.Path, u.EscapedPath()}, {target, target}} {
			path, escaped := in[0], in[1]
			if CheckPath(path, escaped) != nil {
				continue
			}
			// Accepted paths are clean, modulo one trailing slash.
			if clean := pathpkg.Clean(path); path != clean && path != clean+"/" {
				t.Fatalf("accepted %q (escaped %q), Clean gives %q", path, escaped, clean)
			}
			if p, err := url.PathUnescape(escaped); err != nil || p != path {
				t.Fatalf("accepted escaped %q that decodes to %q, not %q", escaped, p, path)
			}
			// Matching is deterministic.
			m1, ok1 := table.Match(method, "", path)
			m2, ok2 := table.Match(method, "", path)
			if m1.Route != m2.Route || ok1 != ok2 {
				t.Fatalf("Match(%q, %q) is not deterministic", method, path)
			}
			if !ok1 {
				continue
			}
			// The decision is never laxer than a rule the path falls under only by case
			// folding, nor than the rule that serves it (SECURITY.md H10).
			got := accessOf(m1)
			for _, r := range routes {
				exactly := exactRegion(path, r) && methodExact(r, method)
				folded := equalFoldRegion(path, r) && methodListed(r, method)
				if !folded || (exactly && r != m1.Route) {
					continue
				}
				want := access{r.Public(), r.Allows("user"), r.Allows("admin")}
				if (got.anon && !want.anon) || (got.user && !want.user) || (got.admin && !want.admin) {
					t.Fatalf("%s %q lets through %+v, laxer than rule %d (%q) %+v", method, path, got, r.Index, r.Path, want)
				}
			}
		}
	})
}

// exactRegion is equalFoldRegion without folding.
func exactRegion(path string, r *Route) bool {
	if r.Exact {
		return path == r.Path
	}
	if r.Path == "/" {
		return strings.HasPrefix(path, "/")
	}
	return path == r.Path || strings.HasPrefix(path, r.Path+"/")
}

// methodExact is methodListed without folding.
func methodExact(r *Route, method string) bool {
	if len(r.Methods) == 0 {
		return true
	}
	for _, m := range r.Methods {
		if m == method || (m == "GET" && method == "HEAD") {
			return true
		}
	}
	return false
}

// methodListed is the oracle for methods: any, or listed case-insensitively,
// with GET covering HEAD.
func methodListed(r *Route, method string) bool {
	if len(r.Methods) == 0 {
		return true
	}
	for _, m := range r.Methods {
		if strings.EqualFold(m, method) || (m == "GET" && strings.EqualFold(method, "HEAD")) {
			return true
		}
	}
	return false
}
