package routing

import (
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"
)

// entry is a route plus what Match compares, laid out for the hot path.
type entry struct {
	route   *Route
	host    string // compiled: lower case, "" = any
	path    string
	methods []string // upper case; empty = any
	exact   bool
}

func newEntry(r *Route) entry {
	return entry{route: r, host: r.Host, path: r.Path, methods: r.Methods, exact: r.Exact}
}

// Match is the outcome of Table.Match: the route that serves the request and what the
// caller must be allowed.
//
// Letter case: an upstream may read a path case-sensitively (net/http, most routers) or
// not (IIS, ASP.NET, some static servers), so the gateway cannot know which rule "owns"
// a path that matches some rule only under case folding. Such a request is served by
// the first rule it matches under folding (Unicode simple folding, as strings.EqualFold),
// and the caller must also satisfy every other rule it matches under folding: the
// decision is at least as strict as each of them, whatever the upstream does
// (SECURITY.md H10). When every rule the request matches under folding also matches it
// byte-exactly (the common case), the first match decides alone.
type Match struct {
	// Route serves the request: its upstream and options apply.
	Route *Route
	// also are further rules whose access the caller must meet; nil on the common path.
	also []*Route
}

// Public reports whether the request may pass without authentication: every rule that
// decides it is public.
func (m Match) Public() bool {
	if m.Route == nil || !m.Route.Public() {
		return false
	}
	for _, r := range m.also {
		if !r.Public() {
			return false
		}
	}
	return true
}

// Allows reports whether an authenticated caller with role may pass: every rule that
// decides the request allows the role.
func (m Match) Allows(role string) bool {
	if m.Route == nil || !m.Route.Allows(role) {
		return false
	}
	for _, r := range m.also {
		if !r.Allows(role) {
			return false
		}
	}
	return true
}

// CSRF reports whether cookie-authenticated unsafe requests must pass the cross-site
// check: unless every rule that decides the request opts out.
func (m Match) CSRF() bool {
	if m.Route == nil || !m.Route.SkipCSRF {
		return true
	}
	for _, r := range m.also {
		if !r.SkipCSRF {
			return true
		}
	}
	return false
}

// Strict reports whether rules other than Route take part in the decision (the request
// matches some rule only under case folding).
func (m Match) Strict() bool { return len(m.also) > 0 }

// Match returns how the table decides a request; ok is false when no rule matches.
// host is the request's host without port ("" matches only rules without a host), path
// the decoded request path (r.URL.Path) already accepted by CheckPath; the query string
// is never part of it. Match does not allocate, except when a request matches some
// rule only under case folding.
func (t *Table) Match(method, host, path string) (m Match, ok bool) {
	if t.foldStable && foldStablePath(path) && foldStableMethod(method) {
		// No letter of the path or any rule can fold: exact matching is folded matching.
		for i := range t.entries {
			if e := &t.entries[i]; e.match(method, host, path, false) {
				return Match{Route: e.route}, true
			}
		}
		return Match{}, false
	}
	var first *entry
	nExact, nFolded := 0, 0
	for i := range t.entries {
		e := &t.entries[i]
		if !e.match(method, host, path, true) {
			continue
		}
		nFolded++
		if first == nil {
			first = e
		}
		if e.match(method, host, path, false) {
			nExact++
		}
	}
	switch nFolded {
	case 0:
		return Match{}, false
	case nExact:
		return Match{Route: first.route}, true
	}
	m.Route = first.route
	m.also = make([]*Route, 0, nFolded-1)
	for i := range t.entries {
		e := &t.entries[i]
		if e.route != m.Route && e.match(method, host, path, true) {
			m.also = append(m.also, e.route)
		}
	}
	return m, true
}

// match reports whether the entry takes the request, comparing path and method
// byte-exactly or under Unicode simple case folding. Hosts always compare
// case-insensitively.
func (e *entry) match(method, host, path string, fold bool) bool {
	return matchHost(e.host, host) && e.matchPath(path, fold) && e.matchMethod(method, fold)
}

// matchPath reports whether path falls under the entry: equal to an exact path, or,
// for a prefix, equal to it or continuing with '/' after it.
func (e *entry) matchPath(path string, fold bool) bool {
	if e.exact {
		if fold {
			return strings.EqualFold(path, e.path)
		}
		return path == e.path
	}
	var n int
	if fold {
		var ok bool
		if n, ok = foldPrefix(path, e.path); !ok {
			return false
		}
	} else {
		if !strings.HasPrefix(path, e.path) {
			return false
		}
		n = len(e.path)
	}
	// The root "/" is the only prefix that ends in '/'; it matches every path.
	return n == len(path) || path[n] == '/' || e.path[len(e.path)-1] == '/'
}

// matchMethod reports whether method is allowed by the entry; GET allows HEAD.
func (e *entry) matchMethod(method string, fold bool) bool {
	if len(e.methods) == 0 {
		return true
	}
	eq := func(a, b string) bool { return a == b || (fold && strings.EqualFold(a, b)) }
	for _, m := range e.methods {
		if eq(m, method) || (m == http.MethodGet && eq(http.MethodHead, method)) {
			return true
		}
	}
	return false
}

// shadows reports whether e, listed earlier, already takes every request that later
// would be meant for: e covers later's hosts, matches later's own path (in any case:
// the first rule matching under folding serves a request) for all of later's methods,
// and later adds no deeper paths e would not also take (e is a prefix rule or later is
// exact). An exact public "/docs" before a protected prefix "/docs" is fine; a public
// prefix "/api" before a protected "/api/admin" is not, nor "/api" before "/API/x".
func (e *entry) shadows(later *entry) bool {
	if e.exact && !later.exact {
		return false
	}
	if !hostCovers(e.host, later.host) || !e.matchPath(later.path, true) {
		return false
	}
	if len(later.methods) == 0 {
		return len(e.methods) == 0
	}
	for _, m := range later.methods {
		if !e.matchMethod(m, true) {
			return false
		}
	}
	return true
}

// foldStablePath reports whether no byte of s can fold into another: no ASCII capital
// and nothing outside ASCII.
func foldStablePath(s string) bool {
	for i := range len(s) {
		if c := s[i]; c >= utf8.RuneSelf || ('A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

// foldStableMethod reports whether method equals its upper-case form in ASCII (rules'
// methods are upper case, so no other spelling can fold onto them).
func foldStableMethod(m string) bool {
	for i := range len(m) {
		if c := m[i]; c >= utf8.RuneSelf || ('a' <= c && c <= 'z') {
			return false
		}
	}
	return true
}

// foldPrefix reports whether s begins with prefix under Unicode simple case
// folding, comparing rune by rune exactly as strings.EqualFold does, and returns
// the length in bytes of the matched part of s.
func foldPrefix(s, prefix string) (n int, ok bool) {
	i, j := 0, 0
	for j < len(prefix) {
		if i >= len(s) {
			return 0, false
		}
		a, b := s[i], prefix[j]
		if a < utf8.RuneSelf && b < utf8.RuneSelf {
			if a != b && lowerASCII(a) != lowerASCII(b) {
				return 0, false
			}
			i++
			j++
			continue
		}
		r1, n1 := utf8.DecodeRuneInString(s[i:])
		r2, n2 := utf8.DecodeRuneInString(prefix[j:])
		if !foldEqual(r1, r2) {
			return 0, false
		}
		i += n1
		j += n2
	}
	return i, true
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// foldEqual reports whether r1 and r2 are equal under Unicode simple case
// folding (the loop strings.EqualFold uses).
func foldEqual(r1, r2 rune) bool {
	if r1 == r2 {
		return true
	}
	if r2 < r1 {
		r1, r2 = r2, r1
	}
	if r2 < utf8.RuneSelf {
		return 'A' <= r1 && r1 <= 'Z' && r2 == r1+'a'-'A'
	}
	r := unicode.SimpleFold(r1)
	for r != r1 && r < r2 {
		r = unicode.SimpleFold(r)
	}
	return r == r2
}
