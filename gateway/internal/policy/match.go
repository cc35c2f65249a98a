package policy

import (
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"
)

// entry is a route plus what Match compares, laid out for the hot path.
//
// Letter case: a rule that demands authentication matches case-insensitively
// (Unicode simple folding, as strings.EqualFold), so "/API/Users" cannot slip past
// a protected "/api/users" into a later public rule on a case-insensitive upstream.
// A Public rule matches byte-exactly, so "/PUBLIC/x" cannot widen a public
// "/public" over a later protected rule on a case-sensitive upstream. Either way
// a case variant can only land on a stricter rule, never a laxer one. Methods
// follow the same rule.
type entry struct {
	route   *Route
	path    string
	methods []string // upper case; empty = any
	exact   bool
	fold    bool
}

func newEntry(r *Route) entry {
	return entry{route: r, path: r.Path, methods: r.Methods, exact: r.Exact, fold: !r.Public()}
}

// Match returns the first route whose path and method match; ok is false when
// none does. path is the decoded request path (r.URL.Path) already accepted by
// CheckPath; the query string is never part of it. Match does not allocate.
func (t *Table) Match(method, path string) (route *Route, ok bool) {
	for i := range t.entries {
		e := &t.entries[i]
		if e.matchPath(path) && e.matchMethod(method) {
			return e.route, true
		}
	}
	return nil, false
}

// matchPath reports whether path falls under the entry: equal to an exact path,
// or, for a prefix, equal to it or continuing with '/' after it.
func (e *entry) matchPath(path string) bool {
	if e.exact {
		if e.fold {
			return strings.EqualFold(path, e.path)
		}
		return path == e.path
	}
	var n int
	if e.fold {
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
func (e *entry) matchMethod(method string) bool {
	if len(e.methods) == 0 {
		return true
	}
	for _, m := range e.methods {
		if e.equal(m, method) || (m == http.MethodGet && e.equal(http.MethodHead, method)) {
			return true
		}
	}
	return false
}

func (e *entry) equal(a, b string) bool {
	if e.fold {
		return strings.EqualFold(a, b)
	}
	return a == b
}

// shadows reports whether e, listed earlier, already takes every request that
// later would be meant for: e matches later's own path for all of later's
// methods, and later adds no deeper paths e would not also take (e is a prefix
// rule or later is exact). An exact public "/docs" before a protected prefix
// "/docs" is fine; a public prefix "/api" before a protected "/api/admin" is not.
func (e *entry) shadows(later *entry) bool {
	if e.exact && !later.exact {
		return false
	}
	if !e.matchPath(later.path) {
		return false
	}
	if len(later.methods) == 0 {
		return len(e.methods) == 0
	}
	for _, m := range later.methods {
		if !e.matchMethod(m) {
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
