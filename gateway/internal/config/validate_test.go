package config

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// route is a valid route in YAML, for tests that change one thing.
const route = "  - path: /api/x\n    upstream: http://127.0.0.1:9000\n    policy: public\n"

func TestLoadReportsEveryProblem(t *testing.T) {
	_, err := load(t, input{yaml: "mode: staging\ntokens:\n  access_ttl: -5m\nroutes:\n  - path: /api/x\n    upstream: ftp://x\n    policy: nobody\n"})
	want := []string{
		"mode: must be development or production",
		"tokens.access_ttl: must be > 0",
		"routes[0].policy: must be public",
	}
	got := problemsOf(t, err)
	if len(got) != len(want) {
		t.Fatalf("got %d problems %q, want %d", len(got), got, len(want))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("problem %d = %q, want prefix %q", i, got[i], want[i])
		}
	}
	if !strings.HasPrefix(err.Error(), "invalid configuration:\n  mode: ") {
		t.Errorf("Error() = %q", err.Error())
	}
}

func TestLoadProductionRequirements(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"nothing set", map[string]string{"AUTHGATE_MODE": "production"}, []string{
			"mongodb.uri: required in production (set it in the YAML file or AUTHGATE_MONGODB__URI or MONGODB_URI)",
			"redis.url: required in production (set it in the YAML file or AUTHGATE_REDIS__URL or REDIS_URL)",
			"tokens.access_private_key: required in production (set it in the YAML file or AUTHGATE_TOKENS__ACCESS_PRIVATE_KEY or ACCESS_TOKEN_PRIVATE_KEY)",
			"tokens.access_public_key: required in production (set it in the YAML file or AUTHGATE_TOKENS__ACCESS_PUBLIC_KEY or ACCESS_TOKEN_PUBLIC_KEY)",
			"tokens.refresh_private_key: required in production (set it in the YAML file or AUTHGATE_TOKENS__REFRESH_PRIVATE_KEY or REFRESH_TOKEN_PRIVATE_KEY)",
			"tokens.refresh_public_key: required in production (set it in the YAML file or AUTHGATE_TOKENS__REFRESH_PUBLIC_KEY or REFRESH_TOKEN_PUBLIC_KEY)",
		}},
		{"only keys missing", map[string]string{"AUTHGATE_MODE": "production", "MONGODB_URI": "mongodb://m", "REDIS_URL": "redis://r",
			"ACCESS_TOKEN_PRIVATE_KEY": "k", "REFRESH_TOKEN_PRIVATE_KEY": "k"}, []string{
			"tokens.access_public_key: required in production (set it in the YAML file or AUTHGATE_TOKENS__ACCESS_PUBLIC_KEY or ACCESS_TOKEN_PUBLIC_KEY)",
			"tokens.refresh_public_key: required in production (set it in the YAML file or AUTHGATE_TOKENS__REFRESH_PUBLIC_KEY or REFRESH_TOKEN_PUBLIC_KEY)",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, input{env: tc.env})
			if got := problemsOf(t, err); !slices.Equal(got, tc.want) {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestLoadUnknownKeys(t *testing.T) {
	tests := []struct {
		name string
		in   input
		want []string
	}{
		{"top level", input{yaml: "listn: \":1\"\n"}, []string{"listn: unknown key"}},
		{"nested", input{yaml: "tokens:\n  acess_ttl: 5m\n  leeway: 1s\n"}, []string{"tokens.acess_ttl: unknown key"}},
		{"inside a route", input{yaml: "routes:\n" + route + "    upstrem: http://x\n"}, []string{"routes[0].upstrem: unknown key"}},
		{"dotted key", input{yaml: "tokens.access_ttl: 5m\n"}, []string{"tokens.access_ttl: unknown key"}},
		{"several, sorted", input{yaml: "zeta: 1\nalpha: 2\n"}, []string{"alpha: unknown key", "zeta: unknown key"}},
		{"route json", input{env: map[string]string{"AUTHGATE_ROUTES": `[{"path":"/a","upstream":"http://a","policy":"public","rolez":["x"]}]`}},
			[]string{"routes[0].rolez: unknown key (in AUTHGATE_ROUTES in the environment)"}},
		{"dotenv variable", input{dotenv: "AUTHGATE_TOKENS__ACESS_TTL=5m\nUNRELATED=1\n"},
			[]string{"AUTHGATE_TOKENS__ACESS_TTL: unknown variable"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, tc.in)
			got := problemsOf(t, err)
			if len(got) != len(tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			for i := range got {
				if !strings.HasPrefix(got[i], tc.want[i]) {
					t.Errorf("problem %d = %q, want prefix %q", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func TestLoadPolicyShortForm(t *testing.T) {
	c := mustLoad(t, input{yaml: "routes:\n  - path: /admin\n    upstream: http://127.0.0.1:9000\n    policy: [admin, editor]\n"})
	r := c.Routes[0]
	if r.Policy != PolicyRoles || !slices.Equal(r.Roles, []string{"admin", "editor"}) || r.Match != MatchPrefix {
		t.Errorf("route = %+v, want roles policy [admin editor], prefix match", r)
	}
}

func TestLoadValidation(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want string // a problem that must be reported; "" means valid
	}{
		{"leeway too big", "tokens:\n  leeway: 61s\n", "tokens.leeway: must be between 0s and 1m0s"},
		{"leeway zero ok", "tokens:\n  leeway: 0s\n", ""},
		{"refresh not longer than access", "tokens:\n  refresh_ttl: 15m\n", "tokens.refresh_ttl: must be greater than tokens.access_ttl"},
		{"bare number duration", "server:\n  read_timeout: 30\n", "server.read_timeout: a duration needs a unit"},
		{"bad duration", "server:\n  read_timeout: soon\n", `server.read_timeout: must be a duration such as "15m"`},
		{"bad int", "passwords:\n  max_length: lots\n", "passwords.max_length: invalid value"},
		{"max below idle", "sessions:\n  idle_ttl: 2h\n  max_ttl: 1h\n", "sessions.max_ttl: must be >= sessions.idle_ttl"},
		{"empty listen", "listen: \"\"\n", "listen: must not be empty"},
		{"listen without port", "listen: localhost\n", "listen: must be host:port"},
		{"cors star", "cors:\n  origins: [\"*\"]\n", `cors.origins[0]: "*" is not allowed`},
		{"cors path", "cors:\n  origins: [\"http://a.example/app\"]\n", "cors.origins[0]: "},
		{"cors not http", "cors:\n  origins: [\"ftp://a.example\"]\n", "cors.origins[0]: "},
		{"cors ok", "cors:\n  origins: [\"https://a.example:8443\", \"http://localhost:3000\"]\n", ""},
		{"max_length small", "passwords:\n  max_length: 4\n", "passwords.max_length: must be between 8 and 1024"},
		{"max_length big", "passwords:\n  max_length: 2000\n", "passwords.max_length: must be between 8 and 1024"},
		{"negative hashes", "passwords:\n  max_concurrent_hashes: -1\n", "passwords.max_concurrent_hashes: must be >= 0"},
		{"hash wait too short", "passwords:\n  max_wait: 10ms\n", "passwords.max_wait: must be between 100ms and 1m"},
		{"hash wait too long", "passwords:\n  max_wait: 2m\n", "passwords.max_wait: must be between 100ms and 1m"},
		{"bootstrap email only", "bootstrap:\n  admin_email: a@b.example\n", "bootstrap.admin_password: required when bootstrap.admin_email is set"},
		{"bootstrap password only", "bootstrap:\n  admin_password: longenough\n", "bootstrap.admin_email: required when bootstrap.admin_password is set"},
		{"bootstrap short password", "bootstrap:\n  admin_email: a@b.example\n  admin_password: short\n", "bootstrap.admin_password: must be at least 8 characters"},
		{"bootstrap bad email", "bootstrap:\n  admin_email: nobody\n  admin_password: longenough\n", "bootstrap.admin_email: "},
		{"bootstrap ok", "bootstrap:\n  admin_email: a@b.example\n  admin_password: longenough\n", ""},
		{"body limit bad", "server:\n  body_limit: lots\n", `server.body_limit: must be a positive size`},
		{"body limit 1MB", "server:\n  body_limit: 1MB\n", ""},
		{"max header bytes", "server:\n  max_header_bytes: 0\n", "server.max_header_bytes: must be > 0"},
		{"mongodb scheme", "mongodb:\n  uri: postgres://x\n", "mongodb.uri: must start with mongodb:// or mongodb+srv://"},
		{"redis scheme", "redis:\n  url: http://x\n", "redis.url: must start with redis://"},
		{"rediss ok", "redis:\n  url: rediss://u:p@h:6380/1\n", ""},
		{"refresh path", "cookies:\n  refresh_path: api\n", "cookies.refresh_path: "},
		{"cookie domain", "cookies:\n  domain: \"localhost:80\"\n", "cookies.domain: "},
		{"cookie domain ok", "cookies:\n  domain: example.com\n", ""},
		{"sessions per user", "sessions:\n  max_per_user: 0\n", "sessions.max_per_user: must be > 0"},
		{"host prefix without secure", "cookies:\n  host_prefix: true\n", "cookies.host_prefix: needs Secure"},
		{"host prefix ok", "cookies:\n  host_prefix: true\n  secure: true\n", ""},
		{"host prefix with domain", "cookies:\n  host_prefix: true\n  secure: true\n  domain: example.com\n", "cookies.host_prefix: "},
		{"csrf origin", "csrf:\n  trusted_origins: [\"https://a.example/x\"]\n", "csrf.trusted_origins[0]: "},
		{"sign-in url relative", "authz:\n  sign_in_url: login\n", "authz.sign_in_url: "},
		{"sign-in url protocol-relative", "authz:\n  sign_in_url: //evil.example/login\n", "authz.sign_in_url: "},
		{"sign-in url absolute", "authz:\n  sign_in_url: https://auth.example.com/login\n", ""},
		{"grpc listen", "authz:\n  grpc_listen: nope\n", "authz.grpc_listen: "},
		{"pprof on loopback", "server:\n  pprof_listen: 127.0.0.1:6060\n", ""},
		{"pprof on localhost", "server:\n  pprof_listen: localhost:6060\n", ""},
		{"pprof on ipv6 loopback", "server:\n  pprof_listen: \"[::1]:6060\"\n", ""},
		{"pprof on all interfaces", "server:\n  pprof_listen: \":6060\"\n", "server.pprof_listen: must listen on loopback"},
		{"pprof on a public address", "server:\n  pprof_listen: 10.0.0.1:6060\n", "server.pprof_listen: must listen on loopback"},
		{"pprof not an address", "server:\n  pprof_listen: nope\n", "server.pprof_listen: must be host:port"},
		{"websocket interval", "proxy:\n  websocket_check_interval: 0s\n", "proxy.websocket_check_interval: must be > 0"},
		{"route csrf off", "routes:\n" + route + "    csrf: false\n", ""},
		{"route match", "routes:\n" + route + "    match: regex\n", "routes[0].match: must be prefix or exact"},
		{"route without policy", "routes:\n  - path: /a\n    upstream: http://x\n", "routes[0].policy: required"},
		{"route unknown policy", "routes:\n  - path: /a\n    upstream: http://x\n    policy: admin\n", "routes[0].policy: must be public"},
		{"route policy and roles", "routes:\n" + route + "    roles: [admin]\n", `routes[0].roles: set together with policy "public"`},
		{"route roles policy empty", "routes:\n  - path: /a\n    upstream: http://x\n    policy: roles\n", "routes[0].roles: must list at least one role"},
		{"route policy list and roles", "routes:\n  - path: /a\n    upstream: http://x\n    policy: [a]\n    roles: [b]\n", "routes[0].policy: a list of roles under policy and roles are both set"},
		{"same path other methods ok", "routes:\n" + route + "    methods: [GET]\n" + route + "    methods: [post]\n", ""},
		{"no routes ok", "routes: []\n", ""},
		{"route not a mapping", "routes: [\"/api\"]\n", "routes[0]: invalid value"},
		{"section not a mapping", "tokens: 5\n", "tokens: invalid value"},
		{"yaml syntax", "listen: [\n", "not valid YAML"},
		{"yaml not a mapping", "- a\n- b\n", "not valid YAML"},
		{"yaml alias bomb", aliasBomb(), "excessive aliasing"},
		{"methods as comma string", "routes:\n" + route + "    methods: \"get, POST\"\n", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, input{yaml: tc.yaml})
			if tc.want == "" {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				return
			}
			got := problemsOf(t, err)
			if !slices.ContainsFunc(got, func(p string) bool { return strings.Contains(p, tc.want) }) {
				t.Errorf("problems %q do not contain %q", got, tc.want)
			}
		})
	}
}

func TestLoadRoutesJSONErrors(t *testing.T) {
	tests := []struct{ name, value, want string }{
		{"not json", "/api", "routes: AUTHGATE_ROUTES in the environment must be a JSON array of route objects"},
		{"object", `{"path":"/a"}`, "routes: AUTHGATE_ROUTES in the environment must be a JSON array"},
		{"invalid route", `[{"path":"/a","upstream":"http://x","policy":"everyone"}]`, `routes[0].policy: must be public`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, input{env: map[string]string{"AUTHGATE_ROUTES": tc.value}})
			got := problemsOf(t, err)
			if !slices.ContainsFunc(got, func(p string) bool { return strings.HasPrefix(p, tc.want) }) {
				t.Errorf("problems %q, want one starting %q", got, tc.want)
			}
		})
	}
}

func TestLoadSecretsNotEchoed(t *testing.T) {
	const secret = "hunter2-secret"
	_, err := load(t, input{env: map[string]string{
		"AUTHGATE_MONGODB__URI":               "postgres://u:" + secret + "@h",
		"AUTHGATE_REDIS__URL":                 "http://u:" + secret + "@h",
		"AUTHGATE_BOOTSTRAP__ADMIN_EMAIL":     "admin@example.com",
		"AUTHGATE_BOOTSTRAP__ADMIN_PASSWORD":  "hunt",
		"AUTHGATE_TOKENS__ACCESS_PRIVATE_KEY": secret,
	}})
	if err == nil || strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "hunt\"") {
		t.Errorf("error must exist and not echo secrets: %v", err)
	}
}

// aliasBomb returns a small YAML document whose aliases expand to 10^9 nodes.
func aliasBomb() string {
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 9; i++ {
		fmt.Fprintf(&b, "a%d: &a%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*a%d,", i-1), 10), ","))
	}
	return b.String()
}

func TestRedisMode(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want string // a problem that must be reported, "" for none
	}{
		{map[string]string{"AUTHGATE_REDIS__MODE": "cluster", "AUTHGATE_REDIS__URL": "redis://a:1?addr=b:2"}, ""},
		{map[string]string{"AUTHGATE_REDIS__MODE": "sentinel", "AUTHGATE_REDIS__URL": "redis://s:26379?master_name=m"}, ""},
		{map[string]string{"AUTHGATE_REDIS__MODE": "sentinel", "AUTHGATE_REDIS__URL": "redis://s:26379"}, "redis.url: sentinel mode needs ?master_name=NAME"},
		{map[string]string{"AUTHGATE_REDIS__MODE": "cluster"}, "redis.mode: cluster needs redis.url"},
		{map[string]string{"AUTHGATE_REDIS__MODE": "ring"}, "redis.mode: must be single, cluster or sentinel"},
	}
	for _, tc := range tests {
		t.Run(tc.env["AUTHGATE_REDIS__MODE"]+tc.want, func(t *testing.T) {
			_, err := Load(Options{Getenv: func(k string) string { return tc.env[k] }, DefaultFile: "-missing-", DotEnvFile: "-missing-"})
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got %v, want a problem %q", err, tc.want)
			}
		})
	}
}

func TestLoadRouteCSRF(t *testing.T) {
	c := mustLoad(t, input{yaml: "routes:\n" + route + "    csrf: false\n" + strings.Replace(route, "/api/x", "/api/y", 1)})
	if c.Routes[0].CSRF == nil || *c.Routes[0].CSRF || c.Routes[1].CSRF != nil {
		t.Fatalf("csrf: %v %v", c.Routes[0].CSRF, c.Routes[1].CSRF)
	}
	c = mustLoad(t, input{env: map[string]string{"AUTHGATE_ROUTES": `[{"path":"/a","upstream":"http://x","policy":"public","csrf":false}]`}})
	if c.Routes[0].CSRF == nil || *c.Routes[0].CSRF {
		t.Fatalf("csrf from env: %v", c.Routes[0].CSRF)
	}
}
