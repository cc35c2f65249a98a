package config

import (
	"fmt"
	"net/url"
	"path"
	"slices"
	"strings"
)

// normaliseRoute fills a route's implied values: Match defaults to
// MatchPrefix, Methods are upper-cased, and a route with Roles and no Policy
// gets PolicyRoles.
func normaliseRoute(r *Route) {
	if r.Match == "" {
		r.Match = MatchPrefix
	}
	for i, m := range r.Methods {
		r.Methods[i] = strings.ToUpper(strings.TrimSpace(m))
	}
	if r.Policy == "" && len(r.Roles) > 0 {
		r.Policy = PolicyRoles
	}
}

// validateRoutes checks each route, naming it by index ("routes[1].upstream"),
// and reports routes that an earlier route with the same path, match and an
// overlapping method set would always shadow.
func validateRoutes(routes []Route, p *problems) {
	for i, r := range routes {
		validateRoute(fmt.Sprintf("routes[%d]", i), r, p)
		for j := range i {
			if sameTarget(routes[j], r) {
				p.add(fmt.Sprintf("routes[%d]", i), "duplicates routes[%d] (same path, match and methods)", j)
				break
			}
		}
	}
}

func validateRoute(key string, r Route, p *problems) {
	switch {
	case !strings.HasPrefix(r.Path, "/"):
		p.add(key+".path", `must start with "/", got %q`, r.Path)
	case strings.ContainsAny(r.Path, "?#"):
		p.add(key+".path", "must not contain a query or fragment, got %q", r.Path)
	case path.Clean(r.Path) != r.Path:
		p.add(key+".path", `must be a clean path (no trailing "/", "//", "." or ".."), such as %q`, path.Clean(r.Path))
	}
	if r.Match != MatchPrefix && r.Match != MatchExact {
		p.add(key+".match", "must be %s or %s, got %q", MatchPrefix, MatchExact, r.Match)
	}
	for i, m := range r.Methods {
		if !isToken(m) {
			p.add(fmt.Sprintf("%s.methods[%d]", key, i), "%q is not an HTTP method", m)
		}
	}
	validateUpstream(key+".upstream", r.Upstream, p)
	validatePolicy(key, r, p)
}

// validateUpstream checks an absolute http(s) URL without credentials, query
// or fragment.
func validateUpstream(key, upstream string, p *problems) {
	if upstream == "" {
		p.add(key, "required")
		return
	}
	u, err := url.Parse(upstream)
	switch {
	case err != nil || u.Opaque != "":
		p.add(key, "is not a valid URL")
	case u.Scheme != "http" && u.Scheme != "https":
		p.add(key, `must be an absolute http:// or https:// URL, such as "http://127.0.0.1:8081"`)
	case u.Host == "":
		p.add(key, "must name a host")
	case u.User != nil:
		p.add(key, "must not contain credentials")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.HasSuffix(upstream, "#"):
		p.add(key, "must not have a query or fragment")
	}
}

// validatePolicy checks that a route has exactly one policy: public,
// authenticated, or a non-empty list of roles.
func validatePolicy(key string, r Route, p *problems) {
	switch r.Policy {
	case PolicyPublic, PolicyAuthenticated:
		if len(r.Roles) > 0 {
			p.add(key+".roles", "set together with policy %q; use one of them", r.Policy)
		}
	case PolicyRoles:
		if len(r.Roles) == 0 {
			p.add(key+".roles", "must list at least one role when policy is %q", PolicyRoles)
		}
		for i, role := range r.Roles {
			if strings.TrimSpace(role) == "" {
				p.add(fmt.Sprintf("%s.roles[%d]", key, i), "must not be empty")
			}
		}
	case "":
		p.add(key+".policy", "required: %s, %s, or a list of roles", PolicyPublic, PolicyAuthenticated)
	default:
		p.add(key+".policy", "must be %s, %s, %s or a list of roles, got %q",
			PolicyPublic, PolicyAuthenticated, PolicyRoles, r.Policy)
	}
}

// sameTarget reports whether two routes have the same path and match and
// share a method (an empty list means every method).
func sameTarget(a, b Route) bool {
	if a.Path != b.Path || a.Match != b.Match {
		return false
	}
	if len(a.Methods) == 0 || len(b.Methods) == 0 {
		return true
	}
	for _, m := range a.Methods {
		if slices.Contains(b.Methods, m) {
			return true
		}
	}
	return false
}
