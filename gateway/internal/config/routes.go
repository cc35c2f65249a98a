package config

import (
	"fmt"
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

// validateRoutes checks what only the configuration knows about each route: the
// names of its match kind and policy. Everything about paths, hosts, methods,
// upstreams, roles and shadowing is the route table's to check (routing.NewTable, run
// as a Check), so that there is one place that validates routes.
func validateRoutes(routes []Route, p *problems) {
	for i, r := range routes {
		key := fmt.Sprintf("routes[%d]", i)
		if r.Match != MatchPrefix && r.Match != MatchExact {
			p.add(key+".match", "must be %s or %s, got %q", MatchPrefix, MatchExact, r.Match)
		}
		validatePolicy(key, r, p)
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

// validateAudiences keeps an assertion's audience apart from the access tokens': an
// upstream that checks only "aud" must never take an access token passed to it
// (pass_authorization) for an assertion.
func validateAudiences(c *Config, p *problems) {
	for i, r := range c.Routes {
		if !r.Assertion {
			continue
		}
		aud, key := r.Name, fmt.Sprintf("routes[%d].name", i)
		if aud == "" {
			aud, key = r.Upstream, fmt.Sprintf("routes[%d].upstream", i)
		}
		if aud != "" && aud == c.Tokens.Audience {
			p.add(key, "is the audience of identity assertions and must differ from tokens.audience (%q)", c.Tokens.Audience)
		}
	}
}
