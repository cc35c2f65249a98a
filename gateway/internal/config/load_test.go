package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// input is one Load scenario: file contents ("" = no file), environment, --config path.
type input struct {
	yaml   string
	dotenv string
	env    map[string]string
	path   string
	checks []Check
}

// load runs Load on in, with the files written to a fresh directory.
func load(t *testing.T, in input) (*Config, error) {
	t.Helper()
	dir := t.TempDir()
	opts := Options{
		Path:        in.path,
		Checks:      in.checks,
		Getenv:      func(name string) string { return in.env[name] },
		DefaultFile: filepath.Join(dir, "gateway.yaml"),
		DotEnvFile:  filepath.Join(dir, ".env"),
	}
	if in.yaml != "" {
		writeFile(t, opts.DefaultFile, in.yaml)
	}
	if in.dotenv != "" {
		writeFile(t, opts.DotEnvFile, in.dotenv)
	}
	return Load(opts)
}

func mustLoad(t *testing.T, in input) *Config {
	t.Helper()
	c, err := load(t, in)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return c
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// problemsOf returns the problems of a *Errors, failing the test otherwise.
func problemsOf(t *testing.T, err error) []string {
	t.Helper()
	var errs *Errors
	if !errors.As(err, &errs) {
		t.Fatalf("want *Errors, got %v", err)
	}
	return errs.Problems
}

func TestLoadDefaults(t *testing.T) {
	c := mustLoad(t, input{})
	checks := []struct {
		name      string
		got, want any
	}{
		{"listen", c.Listen, ":8000"},
		{"mode", c.Mode, ModeDevelopment},
		{"production", c.Production(), false},
		{"data_dir", c.DataDir, "./data"},
		{"mongodb", c.MongoDB, MongoDB{Database: "authgate", Timeout: 5 * time.Second}},
		{"redis", c.Redis, Redis{KeyPrefix: "authgate:", Timeout: time.Second, Mode: RedisSingle}},
		{"embedded", c.Embedded, Embedded{MongoDBListen: "127.0.0.1:27018", RedisListen: "127.0.0.1:0"}},
		{"access_ttl", c.Tokens.AccessTTL, 15 * time.Minute},
		{"refresh_ttl", c.Tokens.RefreshTTL, 59 * time.Minute},
		{"refresh_grace", c.Tokens.RefreshGrace, 10 * time.Second},
		{"leeway", c.Tokens.Leeway, 30 * time.Second},
		{"issuer", c.Tokens.Issuer, "authgate"},
		{"sessions", c.Sessions, Sessions{IdleTTL: time.Hour, MaxTTL: 168 * time.Hour, MaxPerUser: 50, CacheTTL: 2 * time.Second}},
		{"cookies", c.Cookies, Cookies{RefreshPath: "/"}},
		{"cors", c.CORS.Origins, []string{"http://localhost:3000"}},
		{"passwords", c.Passwords, Passwords{MaxLength: 64, MaxWait: 10 * time.Second}},
		{"bootstrap", c.Bootstrap, Bootstrap{AdminName: "Admin"}},
		{"trusted_proxies", len(c.TrustedProxies), 0},
		{"max_header_bytes", c.Server.MaxHeaderBytes, 65536},
		{"body_limit", c.Server.BodyLimit, "10KB"},
		{"shutdown_timeout", c.Server.ShutdownTimeout, 20 * time.Second},
		{"dial_timeout", c.Proxy.DialTimeout, 5 * time.Second},
		{"routes", len(c.Routes), 2},
		{"route0", [3]string{c.Routes[0].Path, c.Routes[0].Match, c.Routes[0].Policy},
			[3]string{"/api/users/me", MatchExact, PolicyAuthenticated}},
		{"route1", [3]string{c.Routes[1].Path, c.Routes[1].Match, c.Routes[1].Policy},
			[3]string{"/api/users", MatchPrefix, PolicyRoles}},
		{"route1 roles", c.Routes[1].Roles, []string{"admin"}},
	}
	for _, tc := range checks {
		t.Run(tc.name, func(t *testing.T) {
			if !reflect.DeepEqual(tc.got, tc.want) {
				t.Errorf("got %#v, want %#v", tc.got, tc.want)
			}
		})
	}
	if c.Passwords.HashConcurrency() < 2 {
		t.Errorf("HashConcurrency = %d", c.Passwords.HashConcurrency())
	}
}

func TestLoadLayers(t *testing.T) {
	const yamlTTL = "tokens:\n  access_ttl: 1m\n  refresh_ttl: 2h\nlisten: \":9000\"\n"
	tests := []struct {
		name string
		in   input
		want func(*Config) any
		exp  any
	}{
		{"yaml overrides default", input{yaml: yamlTTL},
			func(c *Config) any { return c.Tokens.AccessTTL }, time.Minute},
		{"yaml keeps other defaults", input{yaml: yamlTTL},
			func(c *Config) any { return c.Tokens.Leeway }, 30 * time.Second},
		{"dotenv overrides yaml", input{yaml: yamlTTL, dotenv: "AUTHGATE_TOKENS__ACCESS_TTL=2m\n"},
			func(c *Config) any { return c.Tokens.AccessTTL }, 2 * time.Minute},
		{"env overrides dotenv", input{yaml: yamlTTL, dotenv: "AUTHGATE_TOKENS__ACCESS_TTL=2m\n",
			env: map[string]string{"AUTHGATE_TOKENS__ACCESS_TTL": "3m"}},
			func(c *Config) any { return c.Tokens.AccessTTL }, 3 * time.Minute},
		{"env access ttl", input{env: map[string]string{"AUTHGATE_TOKENS__ACCESS_TTL": "5s"}},
			func(c *Config) any { return c.Tokens.AccessTTL }, 5 * time.Second},
		{"empty env is unset", input{yaml: yamlTTL, env: map[string]string{"AUTHGATE_LISTEN": ""}},
			func(c *Config) any { return c.Listen }, ":9000"},
		{"env top-level key", input{env: map[string]string{"AUTHGATE_LISTEN": "127.0.0.1:1"}},
			func(c *Config) any { return c.Listen }, "127.0.0.1:1"},
		{"env nested key", input{env: map[string]string{"AUTHGATE_MONGODB__URI": "mongodb://db:27017"}},
			func(c *Config) any { return c.MongoDB.URI }, "mongodb://db:27017"},
		{"env int and bool", input{env: map[string]string{"AUTHGATE_PASSWORDS__MAX_LENGTH": "128",
			"AUTHGATE_COOKIES__SECURE": "true"}},
			func(c *Config) any { return [2]any{c.Passwords.MaxLength, c.Cookies.Secure} }, [2]any{128, true}},
		{"env days duration", input{env: map[string]string{"AUTHGATE_SESSIONS__MAX_TTL": "14d"}},
			func(c *Config) any { return c.Sessions.MaxTTL }, 14 * 24 * time.Hour},
		{"yaml null keeps default", input{yaml: "tokens:\nmongodb:\n  database:\n"},
			func(c *Config) any { return [2]any{c.Tokens.AccessTTL, c.MongoDB.Database} },
			[2]any{15 * time.Minute, "authgate"}},
		{"dotenv quoted and export", input{dotenv: "# comment\nexport AUTHGATE_REDIS__KEY_PREFIX=\"x:\"\nOTHER=1\n"},
			func(c *Config) any { return c.Redis.KeyPrefix }, "x:"},
		{"comma list from env", input{env: map[string]string{
			"AUTHGATE_CORS__ORIGINS": "http://a.example, https://B.example:8443,"}},
			func(c *Config) any { return c.CORS.Origins }, []string{"http://a.example", "https://b.example:8443"}},
		{"trusted proxies from dotenv", input{dotenv: "AUTHGATE_TRUSTED_PROXIES=10.0.0.0/8,192.168.1.1\n"},
			func(c *Config) any { return c.TrustedProxies }, []string{"10.0.0.0/8", "192.168.1.1"}},
		{"yaml list replaces default list", input{yaml: "cors:\n  origins: [\"https://app.example\"]\n"},
			func(c *Config) any { return c.CORS.Origins }, []string{"https://app.example"}},
		{"production forces secure cookies", input{env: productionEnv()},
			func(c *Config) any { return [2]bool{c.Production(), c.Cookies.Secure} }, [2]bool{true, true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := mustLoad(t, tc.in)
			if got := tc.want(c); !reflect.DeepEqual(got, tc.exp) {
				t.Errorf("got %#v, want %#v", got, tc.exp)
			}
		})
	}
}

// productionEnv returns an environment that makes a valid production
// configuration.
func productionEnv() map[string]string {
	return map[string]string{
		"AUTHGATE_MODE":                        "production",
		"AUTHGATE_MONGODB__URI":                "mongodb://db:27017",
		"AUTHGATE_REDIS__URL":                  "redis://cache:6379/0",
		"AUTHGATE_TOKENS__ACCESS_PRIVATE_KEY":  "a-priv",
		"AUTHGATE_TOKENS__ACCESS_PUBLIC_KEY":   "a-pub",
		"AUTHGATE_TOKENS__REFRESH_PRIVATE_KEY": "r-priv",
		"AUTHGATE_TOKENS__REFRESH_PUBLIC_KEY":  "r-pub",
	}
}

func TestLoadSeedVariables(t *testing.T) {
	seed := map[string]string{
		"ACCESS_TOKEN_PRIVATE_KEY":  "seed-a-priv",
		"ACCESS_TOKEN_PUBLIC_KEY":   "seed-a-pub",
		"REFRESH_TOKEN_PRIVATE_KEY": "seed-r-priv",
		"REFRESH_TOKEN_PUBLIC_KEY":  "seed-r-pub",
		"MONGODB_URI":               "mongodb://seed:27017",
		"REDIS_URL":                 "redis://seed:6379/0",
	}
	with := func(extra map[string]string) map[string]string {
		out := make(map[string]string)
		for k, v := range seed {
			out[k] = v
		}
		for k, v := range extra {
			out[k] = v
		}
		return out
	}
	keys := func(c *Config) []string {
		return []string{c.Tokens.AccessPrivateKey, c.Tokens.AccessPublicKey, c.Tokens.RefreshPrivateKey,
			c.Tokens.RefreshPublicKey, c.MongoDB.URI, c.Redis.URL}
	}
	tests := []struct {
		name string
		in   input
		want []string
	}{
		{"seed names accepted", input{env: seed},
			[]string{"seed-a-priv", "seed-a-pub", "seed-r-priv", "seed-r-pub", "mongodb://seed:27017", "redis://seed:6379/0"}},
		{"AUTHGATE form wins", input{env: with(map[string]string{
			"AUTHGATE_TOKENS__ACCESS_PRIVATE_KEY": "ag-a-priv",
			"AUTHGATE_TOKENS__REFRESH_PUBLIC_KEY": "ag-r-pub",
			"AUTHGATE_MONGODB__URI":               "mongodb://ag:27017",
			"AUTHGATE_REDIS__URL":                 "redis://ag:6379/1",
		})},
			[]string{"ag-a-priv", "seed-a-pub", "seed-r-priv", "ag-r-pub", "mongodb://ag:27017", "redis://ag:6379/1"}},
		{"alias overrides yaml", input{yaml: "mongodb:\n  uri: mongodb://yaml:1\n", env: map[string]string{"MONGODB_URI": "mongodb://env:2"}},
			[]string{"", "", "", "", "mongodb://env:2", ""}},
		{"seed names in dotenv", input{dotenv: "REDIS_URL=redis://dot:6379\nACCESS_TOKEN_PUBLIC_KEY=LS0tLS1CRUdJTg==\n"},
			[]string{"", "LS0tLS1CRUdJTg==", "", "", "", "redis://dot:6379"}},
		{"environment alias beats dotenv AUTHGATE form", input{
			dotenv: "AUTHGATE_REDIS__URL=redis://dot:6379\n", env: map[string]string{"REDIS_URL": "redis://env:6379"}},
			[]string{"", "", "", "", "", "redis://env:6379"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := keys(mustLoad(t, tc.in)); !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestLoadRoutesFromEnv(t *testing.T) {
	const routes = `[{"path":"/api/a","upstream":"http://a:1","policy":"public","methods":"get, Post"},
		{"path":"/api/b","match":"exact","upstream":"https://b","policy":["admin","editor"],"pass_authorization":true,"pass_cookies":true}]`
	c := mustLoad(t, input{env: map[string]string{"AUTHGATE_ROUTES": routes}})
	want := []Route{
		{Path: "/api/a", Match: MatchPrefix, Methods: []string{"GET", "POST"}, Upstream: "http://a:1", Policy: PolicyPublic},
		{Path: "/api/b", Match: MatchExact, Upstream: "https://b", Policy: PolicyRoles,
			Roles: []string{"admin", "editor"}, PassAuthorization: true, PassCookies: true},
	}
	if len(c.Routes) != len(want) {
		t.Fatalf("got %d routes, want %d", len(c.Routes), len(want))
	}
	for i := range want {
		got := c.Routes[i]
		if got.Path != want[i].Path || got.Match != want[i].Match || !slices.Equal(got.Methods, want[i].Methods) ||
			got.Upstream != want[i].Upstream || got.Policy != want[i].Policy || !slices.Equal(got.Roles, want[i].Roles) ||
			got.PassAuthorization != want[i].PassAuthorization || got.PassCookies != want[i].PassCookies {
			t.Errorf("routes[%d] = %+v, want %+v", i, got, want[i])
		}
	}
}

func TestLoadPath(t *testing.T) {
	dir := t.TempDir()
	custom := filepath.Join(dir, "custom.yaml")
	writeFile(t, custom, "listen: \":7000\"\n")
	tests := []struct {
		name       string
		path       string
		wantListen string
		wantErr    string
	}{
		{"named file beats default file", custom, ":7000", ""},
		{"missing file", filepath.Join(dir, "nope.yaml"), "", "--config: cannot read configuration file"},
		{"directory", dir, "", "--config: cannot read configuration file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := load(t, input{yaml: "listen: \":6000\"\n", path: tc.path})
			if tc.wantErr != "" {
				p := problemsOf(t, err)
				if len(p) != 1 || !strings.Contains(p[0], tc.wantErr) {
					t.Fatalf("problems %q, want one containing %q", p, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Listen != tc.wantListen {
				t.Errorf("listen = %q, want %q", c.Listen, tc.wantListen)
			}
		})
	}
}

// TestLoadChecks: checks owned by other packages report with the configuration's own
// problems, in one list, and do not run on a configuration that failed to decode.
func TestLoadChecks(t *testing.T) {
	ran := 0
	check := func(c *Config) []Problem {
		ran++
		return []Problem{{Key: "routes[0].upstream", Message: "from the route table"}}
	}
	_, err := load(t, input{yaml: "mode: staging\n", checks: []Check{check}})
	got := problemsOf(t, err)
	want := []string{"mode: must be development or production", "routes[0].upstream: from the route table"}
	if !slices.Equal(got, want) || ran != 1 {
		t.Fatalf("problems %q (checks ran %d times), want %q", got, ran, want)
	}
	_, err = load(t, input{yaml: "server:\n  read_timeout: soon\n", checks: []Check{check}})
	if got := problemsOf(t, err); len(got) != 1 || ran != 1 {
		t.Fatalf("checks ran on an undecodable configuration: %q", got)
	}
}

func TestLoadDefaultFileUsedWithoutFlag(t *testing.T) {
	c := mustLoad(t, input{yaml: "listen: \":6000\"\n"})
	if c.Listen != ":6000" {
		t.Errorf("listen = %q, want the default file's :6000", c.Listen)
	}
}

func TestLoadNilGetenvAndZeroOptions(t *testing.T) {
	t.Chdir(t.TempDir()) // no configs/gateway.yaml, no .env here
	c, err := Load(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != ":8000" {
		t.Errorf("listen = %q", c.Listen)
	}
}

func TestErrorsFormat(t *testing.T) {
	err := &Errors{Problems: []string{"mode: bad", "listen: bad"}}
	want := "invalid configuration:\n  mode: bad\n  listen: bad"
	if err.Error() != want {
		t.Errorf("got %q, want %q", err.Error(), want)
	}
}
