package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// generated is what one `gateway keys generate` printed.
type generated struct {
	kid  string
	vars map[string]string // NAME → value
}

func keysGenerate(t *testing.T, args ...string) (generated, error) {
	t.Helper()
	var out strings.Builder
	err := run(context.Background(), append([]string{"keys", "generate"}, args...), func(string) string { return "" }, &out, io.Discard)
	g := generated{vars: map[string]string{}}
	for line := range strings.SplitSeq(strings.TrimSpace(out.String()), "\n") {
		if kid, ok := strings.CutPrefix(line, "# kid: "); ok {
			g.kid = kid
		}
		if name, value, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			g.vars[name] = value
		}
	}
	return g, err
}

// TestKeysGenerate: `gateway keys generate` writes a PKCS#8 private key (0600) and its
// PKIX public key, prints both base64-encoded under every variable name that sets them and
// the kid, and never overwrites a file; the printed lines are a production key
// configuration the gateway accepts as they are, assertion key included.
func TestKeysGenerate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	access, err := keysGenerate(t, "--kind", "access", "--alg", "ES256", "--out", dir)
	if err != nil {
		t.Fatal(err)
	}
	privPath, pubPath := filepath.Join(dir, "access_token_private.pem"), filepath.Join(dir, "access_token_public.pem")
	for path, want := range map[string]string{privPath: "PRIVATE KEY", pubPath: "PUBLIC KEY"} {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if block, _ := pem.Decode(data); block == nil || block.Type != want {
			t.Errorf("%s: want a %q PEM block", path, want)
		}
		fi, _ := os.Stat(path)
		if path == privPath && fi.Mode().Perm() != 0o600 || fi.Mode().Perm()&0o022 != 0 {
			t.Errorf("%s: mode %v", path, fi.Mode())
		}
		for _, name := range map[string][]string{
			"PRIVATE KEY": {"ACCESS_TOKEN_PRIVATE_KEY", "AUTHGATE_TOKENS__ACCESS_PRIVATE_KEY"},
			"PUBLIC KEY":  {"ACCESS_TOKEN_PUBLIC_KEY", "AUTHGATE_TOKENS__ACCESS_PUBLIC_KEY"},
		}[want] {
			if decoded, err := base64.StdEncoding.DecodeString(access.vars[name]); err != nil || string(decoded) != string(data) {
				t.Errorf("%s is not the base64 of %s: %v", name, path, err)
			}
		}
	}
	if len(access.vars) != 4 || len(access.kid) != 16 {
		t.Fatalf("printed variables %v, kid %q", access.vars, access.kid)
	}

	before, _ := os.ReadFile(privPath)
	if _, err := keysGenerate(t, "--kind", "access", "--out", dir); err == nil || !strings.Contains(err.Error(), "refusing to overwrite") {
		t.Fatalf("second generate into the same directory: %v", err)
	}
	if after, _ := os.ReadFile(privPath); string(after) != string(before) {
		t.Fatal("an existing key was overwritten")
	}
	if _, err := keysGenerate(t, "--alg", "HS256", "--out", t.TempDir()); err == nil {
		t.Error("HS256 accepted")
	}

	refresh, err := keysGenerate(t, "--kind", "refresh", "--alg", "EdDSA", "--out", dir)
	if err != nil {
		t.Fatal(err)
	}
	assertion, err := keysGenerate(t, "--kind", "assertion", "--out", dir) // RS256, the default
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := assertion.vars["AUTHGATE_TOKENS__ASSERTION_PRIVATE_KEY"]; !ok || len(assertion.vars) != 2 {
		t.Fatalf("assertion variables %v", assertion.vars)
	}

	routes, _ := json.Marshal([]map[string]any{{"path": "/a", "upstream": "http://127.0.0.1:1", "policy": "authenticated", "assertion": true}})
	env := map[string]string{
		"AUTHGATE_MODE": "production", "AUTHGATE_MONGODB__URI": "mongodb://127.0.0.1:1/", "AUTHGATE_REDIS__URL": "redis://127.0.0.1:1/0",
		"AUTHGATE_ROUTES": string(routes),
	}
	var out strings.Builder
	getenv := func(k string) string { return env[k] }
	if err := run(context.Background(), []string{"config", "check"}, getenv, &out, io.Discard); err == nil ||
		!strings.Contains(err.Error(), "tokens.assertion_private_key") {
		t.Fatalf("config check without keys: %v", err)
	}
	for _, g := range []generated{access, refresh, assertion} {
		for k, v := range g.vars {
			if strings.HasPrefix(k, "AUTHGATE_") {
				env[k] = v
			}
		}
	}
	if err := run(context.Background(), []string{"config", "check"}, getenv, &out, io.Discard); err != nil || out.String() != "configuration OK\n" {
		t.Fatalf("config check with the generated keys: %v %q", err, out.String())
	}
	env["AUTHGATE_TOKENS__ACCESS_PRIVATE_KEY"], env["AUTHGATE_TOKENS__ACCESS_PUBLIC_KEY"] = "", ""
	env["ACCESS_TOKEN_PRIVATE_KEY"], env["ACCESS_TOKEN_PUBLIC_KEY"] = access.vars["ACCESS_TOKEN_PRIVATE_KEY"], access.vars["ACCESS_TOKEN_PUBLIC_KEY"]
	out.Reset()
	if err := run(context.Background(), []string{"config", "check"}, getenv, &out, io.Discard); err != nil {
		t.Fatalf("config check with the seed variable names: %v", err)
	}
}
