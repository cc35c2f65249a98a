// Package routing holds the gateway's ordered route table: which upstream a request
// goes to and what access it demands (SECURITY.md H4, H10). Rules match on host, path
// and method; the proxy and every forward-auth adapter decide on this one table.
//
// The hot path is CheckPath (reject ambiguous paths) followed by Table.Match (first
// matching rule wins, with case folding never landing on a laxer rule). Both are
// allocation-free when they accept.
package routing

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// Access is the access level a route demands.
type Access int

// Access levels. The zero value is invalid so that a forgotten field is a
// configuration error rather than an open route.
const (
	// Public routes are forwarded without authentication.
	Public Access = iota + 1
	// Authenticated routes need a valid session, any role.
	Authenticated
	// Roles routes need a valid session whose role is listed in Rule.Roles.
	Roles
)

// String returns the access level's configuration name.
func (a Access) String() string {
	switch a {
	case Public:
		return "public"
	case Authenticated:
		return "authenticated"
	case Roles:
		return "roles"
	default:
		return fmt.Sprintf("Access(%d)", int(a))
	}
}

// Errors of the package; test with errors.Is.
var (
	// ErrInvalidRule is wrapped by every error NewTable returns.
	ErrInvalidRule = errors.New("routing: invalid rule")
	// ErrNoRoute: no rule matches the request (or the matched rule has no upstream to
	// forward to).
	ErrNoRoute = errors.New("routing: no route")
)

// RuleError is one problem NewTable found; it wraps ErrInvalidRule.
type RuleError struct {
	Index  int    // the rule's position
	Path   string // its path, as given
	Field  string // "host", "path", "methods", "upstream", "roles", "policy", "name", "assertion"; "" for the rule as a whole
	Reason string
}

func (e *RuleError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("routing: rule %d (%q) %s", e.Index, e.Path, e.Reason)
	}
	return fmt.Sprintf("routing: rule %d (%q): %s: %s", e.Index, e.Path, e.Field, e.Reason)
}

// Unwrap makes errors.Is(err, ErrInvalidRule) hold.
func (e *RuleError) Unwrap() error { return ErrInvalidRule }

// Rule is one configured route, the input to NewTable.
type Rule struct {
	// Host restricts the rule to one host ("app.example.com") or to the hosts one
	// label below a domain ("*.example.com"); case-insensitive, any port. Empty: any host.
	Host string
	// Path is the decoded path the rule matches; it starts with "/".
	Path string
	// Exact makes the rule match Path only; otherwise Path is a prefix matched on
	// segment boundaries ("/api" matches "/api", "/api/" and "/api/x", not "/apix").
	Exact bool
	// Methods restricts the rule to these methods; empty means any. GET also
	// matches HEAD, as it does on every upstream built on net/http.
	Methods []string
	// Upstream is the absolute http(s) URL requests are forwarded to; its path is a
	// base path the request path is appended to. Empty: the rule only answers forward
	// auth (a proxy in front serves the request); the gateway's own proxy treats it as
	// no route.
	Upstream string
	// Access is the access level the route demands.
	Access Access
	// Roles lists the roles allowed when Access is Roles.
	Roles []string
	// PassAuthorization forwards the client's Authorization header upstream.
	PassAuthorization bool
	// PassCookies forwards the gateway's own cookies upstream.
	PassCookies bool
	// SkipCSRF exempts the rule from the cross-site check of cookie-authenticated
	// unsafe requests.
	SkipCSRF bool
	// Name names the upstream application; it is the audience of the route's identity
	// assertions. Optional.
	Name string
	// Assertion sends a signed identity assertion (X-Auth-Assertion) upstream besides the
	// identity headers, addressed to Audience.
	Assertion bool
}

// Route is a compiled, validated rule. Treat it as immutable: the table and the
// proxy share it between goroutines.
type Route struct {
	Rule
	// Target is the parsed Upstream; nil when the rule has none.
	Target *url.URL
	// Index is the rule's position in the table, for logs.
	Index int
}

// Allows reports whether an authenticated caller with role may use the route. Public
// and Authenticated routes allow every role; Roles routes allow exactly the listed
// roles (case-sensitive). Authentication itself is the caller's job.
func (r *Route) Allows(role string) bool {
	switch r.Access {
	case Public, Authenticated:
		return true
	case Roles:
		return role != "" && slices.Contains(r.Roles, role)
	default:
		return false
	}
}

// Public reports whether the route is forwarded without authentication.
func (r *Route) Public() bool { return r.Access == Public }

// Audience is the "aud" of the route's identity assertions: its Name, or else its Upstream
// exactly as configured.
func (r *Route) Audience() string {
	if r.Name != "" {
		return r.Name
	}
	return r.Upstream
}

// maxNameLen bounds a route name (it travels in every assertion).
const maxNameLen = 200

// Table is an ordered, immutable route table, safe for concurrent use.
type Table struct {
	entries []entry
	// foldStable: no rule path has a letter that case folding could change, so a request
	// path without any either matches exactly what it matches folded (Match's fast path).
	foldStable bool
}

// NewTable validates and compiles rules in order; it is the one place where routes are
// validated. It reports every problem at once: the returned error joins one error per
// problem, each naming the rule index and wrapping ErrInvalidRule. A rule is a problem
// when its host is not a host name or "*." followed by one, its path is not a clean
// absolute path (see CheckPath; a prefix path other than "/" must not end in "/"), a
// method is not an HTTP token, the upstream is set but not an absolute http(s) URL
// without user info, query or fragment, the access level is unknown, Roles is empty for
// Access Roles or set for any other level, or an earlier rule already matches the rule's
// own hosts and path for all its methods (the rule is shadowed).
func NewTable(rules []Rule) (*Table, error) {
	t := &Table{entries: make([]entry, 0, len(rules)), foldStable: true}
	var errs []error
	for i, rule := range rules {
		route, err := compile(i, rule)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		e := newEntry(route)
		for j := range t.entries {
			if t.entries[j].shadows(&e) {
				prev := t.entries[j].route
				errs = append(errs, &RuleError{Index: i, Path: rule.Path, Reason: fmt.Sprintf(
					"is shadowed by rule %d (%q), list the more specific rule first", prev.Index, prev.Path)})
				break
			}
		}
		t.entries = append(t.entries, e)
		t.foldStable = t.foldStable && foldStablePath(route.Path)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return t, nil
}

// Routes returns the compiled routes in table order (a new slice each call; the
// routes are shared). Use it to prepare per-route handlers at start-up.
func (t *Table) Routes() []*Route {
	routes := make([]*Route, len(t.entries))
	for i := range t.entries {
		routes[i] = t.entries[i].route
	}
	return routes
}

// compile validates one rule and returns its route, with the rule's slices
// copied so that later changes by the caller cannot alter the table.
func compile(i int, rule Rule) (*Route, error) {
	fail := func(field, format string, args ...any) error {
		return &RuleError{Index: i, Path: rule.Path, Field: field, Reason: fmt.Sprintf(format, args...)}
	}
	host, err := compileHost(rule.Host)
	if err != nil {
		return nil, fail("host", "%s", err.Error())
	}
	rule.Host = host
	if reason := checkDecoded(rule.Path); reason != "" {
		return nil, fail("path", "%s", reason)
	}
	if strings.ContainsRune(rule.Path, '%') {
		return nil, fail("path", "must be written decoded, without '%%'")
	}
	if !rule.Exact && rule.Path != "/" && strings.HasSuffix(rule.Path, "/") {
		return nil, fail("path", "a prefix path must not end in '/' (%q already matches %q)", strings.TrimSuffix(rule.Path, "/"), rule.Path)
	}
	methods := make([]string, 0, len(rule.Methods))
	for _, m := range rule.Methods {
		if !IsToken(m) {
			return nil, fail("methods", "%q is not an HTTP token", m)
		}
		methods = append(methods, strings.ToUpper(m))
	}
	var target *url.URL
	if rule.Upstream != "" {
		if target, err = parseUpstream(rule.Upstream); err != nil {
			return nil, fail("upstream", "%s", err.Error())
		}
	}
	switch rule.Access {
	case Public, Authenticated:
		if len(rule.Roles) > 0 {
			return nil, fail("roles", "roles are only allowed with access %q, not %q", Roles, rule.Access)
		}
	case Roles:
		if len(rule.Roles) == 0 {
			return nil, fail("roles", "access %q needs at least one role", Roles)
		}
		if slices.Contains(rule.Roles, "") {
			return nil, fail("roles", "empty role name")
		}
	default:
		return nil, fail("policy", "unknown access level %v", rule.Access)
	}
	if len(rule.Name) > maxNameLen || strings.ContainsFunc(rule.Name, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return nil, fail("name", "must be at most %d characters without spaces or control characters", maxNameLen)
	}
	if rule.Assertion {
		switch {
		case rule.Access == Public:
			return nil, fail("assertion", "needs a signed-in caller: a public route has no identity to assert")
		case target == nil:
			return nil, fail("assertion", "needs an upstream: forward-auth answers carry no assertion")
		}
	}
	rule.Methods = methods
	rule.Roles = slices.Clone(rule.Roles)
	return &Route{Rule: rule, Target: target, Index: i}, nil
}

// parseUpstream parses an absolute http(s) URL usable as a forwarding target.
func parseUpstream(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return nil, err
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, errors.New("scheme must be http or https")
	case u.Host == "" || u.Opaque != "":
		return nil, errors.New("host missing")
	case u.User != nil:
		return nil, errors.New("user info is not allowed")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return nil, errors.New("query and fragment are not allowed")
	}
	if u.Path != "" {
		if reason := checkDecoded(u.Path); reason != "" {
			return nil, errors.New("path: " + reason)
		}
	}
	return u, nil
}

// IsToken reports whether s is a non-empty RFC 9110 token (a method or header name).
func IsToken(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
