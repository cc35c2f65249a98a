package config

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// assertionRoute is a valid authenticated route with assertions, in YAML.
const assertionRoute = "  - path: /api/x\n    upstream: http://127.0.0.1:9000\n    policy: authenticated\n    assertion: true\n"

func TestAssertionSettings(t *testing.T) {
	tests := []struct {
		name string
		in   input
		want string // a problem that must be reported; "" means valid
	}{
		{"ttl zero", input{yaml: "tokens:\n  assertion_ttl: 0s\n"}, "tokens.assertion_ttl: must be whole seconds between 1s and 1m0s"},
		{"ttl over a minute", input{yaml: "tokens:\n  assertion_ttl: 61s\n"}, "tokens.assertion_ttl: must be whole seconds"},
		{"ttl fractional", input{yaml: "tokens:\n  assertion_ttl: 1500ms\n"}, "tokens.assertion_ttl: must be whole seconds"},
		{"ttl a minute", input{yaml: "tokens:\n  assertion_ttl: 1m\n"}, ""},
		{"ttl a second", input{env: map[string]string{"AUTHGATE_TOKENS__ASSERTION_TTL": "1s"}}, ""},
		{"empty previous key", input{yaml: "tokens:\n  assertion_previous_public_keys: [\" \"]\n"}, "tokens.assertion_previous_public_keys[0]: must not be empty"},
		{"name is the access audience", input{yaml: "routes:\n" + assertionRoute + "    name: authgate\n"},
			`routes[0].name: is the audience of identity assertions and must differ from tokens.audience ("authgate")`},
		{"upstream is the access audience", input{yaml: "tokens:\n  audience: http://127.0.0.1:9000\nroutes:\n" + assertionRoute},
			"routes[0].upstream: is the audience of identity assertions"},
		{"same name without assertion ok", input{yaml: "routes:\n  - path: /a\n    upstream: http://x\n    policy: authenticated\n    name: authgate\n"}, ""},
		{"assertion route ok", input{yaml: "routes:\n" + assertionRoute + "    name: users-app\n"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, tc.in)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				return
			}
			if got := problemsOf(t, err); !slices.ContainsFunc(got, func(p string) bool { return strings.HasPrefix(p, tc.want) }) {
				t.Errorf("problems %q do not contain %q", got, tc.want)
			}
		})
	}
}

func TestAssertionRouteFields(t *testing.T) {
	c := mustLoad(t, input{yaml: "routes:\n" + assertionRoute + "    name: users-app\n"})
	if r := c.Routes[0]; !r.Assertion || r.Name != "users-app" || !c.UsesAssertions() {
		t.Fatalf("route %+v", r)
	}
	c = mustLoad(t, input{env: map[string]string{
		"AUTHGATE_ROUTES": `[{"path":"/a","upstream":"http://x","policy":"authenticated","assertion":true,"name":"urn:app"}]`,
	}})
	if r := c.Routes[0]; !r.Assertion || r.Name != "urn:app" {
		t.Fatalf("route from env %+v", r)
	}
	if d := mustLoad(t, input{}); d.UsesAssertions() || d.Tokens.AssertionTTL != 30*time.Second {
		t.Fatalf("defaults: assertions %v, ttl %s", d.UsesAssertions(), d.Tokens.AssertionTTL)
	}
}

// TestAssertionKeysInProduction: the assertion keys are required in production exactly
// when a route sends assertions.
func TestAssertionKeysInProduction(t *testing.T) {
	env := map[string]string{
		"AUTHGATE_MODE": "production", "MONGODB_URI": "mongodb://m", "REDIS_URL": "redis://r",
		"ACCESS_TOKEN_PRIVATE_KEY": "k", "ACCESS_TOKEN_PUBLIC_KEY": "k", "REFRESH_TOKEN_PRIVATE_KEY": "k", "REFRESH_TOKEN_PUBLIC_KEY": "k",
	}
	if _, err := load(t, input{env: env}); err != nil {
		t.Fatalf("production without assertion routes: %v", err)
	}
	_, err := load(t, input{env: env, yaml: "routes:\n" + assertionRoute})
	want := []string{
		"tokens.assertion_private_key: required in production (set it in the YAML file or AUTHGATE_TOKENS__ASSERTION_PRIVATE_KEY)",
		"tokens.assertion_public_key: required in production (set it in the YAML file or AUTHGATE_TOKENS__ASSERTION_PUBLIC_KEY)",
	}
	if got := problemsOf(t, err); !slices.Equal(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	env["AUTHGATE_TOKENS__ASSERTION_PRIVATE_KEY"], env["AUTHGATE_TOKENS__ASSERTION_PUBLIC_KEY"] = "k", "k"
	if _, err := load(t, input{env: env, yaml: "routes:\n" + assertionRoute}); err != nil {
		t.Fatalf("production with assertion keys: %v", err)
	}
}
