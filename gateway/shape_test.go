package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/authgate/authgate/authsvc/storetest"
)

// TestBadConfigTouchesNothing: every problem (a shadowed route, a bad upstream, a
// too-weak key, a bad trusted proxy, a bad mode) is reported together, and no store is
// opened, created or written: the database does not exist afterwards, Redis holds no key
// under the prefix and the data directory was never made.
func TestBadConfigTouchesNothing(t *testing.T) {
	db := fmt.Sprintf("badcfg_%d", time.Now().UnixNano())
	weak, err := rsa.GenerateKey(rand.Reader, 1024) //nolint:gosec // the point: a key too weak to be accepted
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(weak)
	if err != nil {
		t.Fatal(err)
	}
	env := gatewayEnv(t, db)
	dataDir := filepath.Join(t.TempDir(), "never")
	env["AUTHGATE_DATA_DIR"] = dataDir
	env["AUTHGATE_MODE"] = "staging"
	env["AUTHGATE_TRUSTED_PROXIES"] = "10.0.0.0/8,not-an-ip"
	env["ACCESS_TOKEN_PRIVATE_KEY"] = string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	env["AUTHGATE_ROUTES"] = `[{"path":"/","upstream":"http://127.0.0.1:9","policy":"public"},` +
		`{"path":"/api","upstream":"http://127.0.0.1:9","policy":"authenticated"},` +
		`{"path":"/x","upstream":"ftp://nope","policy":"public"}]`
	err = run(context.Background(), nil, func(k string) string { return env[k] }, io.Discard, io.Discard)
	if err == nil {
		t.Fatal("run accepted a bad configuration")
	}
	for _, want := range []string{
		"mode: must be development or production",
		`routes[1]: is shadowed by rule 0 ("/")`,
		"routes[2].upstream: scheme must be http or https",
		`trusted_proxies: not an IP address or CIDR: "not-an-ip"`,
		"tokens: access private key: tokens: unusable key: RSA keys must have at least 2048 bits",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("problems do not include %q:\n%v", want, err)
		}
	}

	mc, err := mongo.Connect(options.Client().ApplyURI(storetest.MongoURI(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = mc.Disconnect(context.Background()) }()
	names, err := mc.ListDatabaseNames(context.Background(), map[string]any{})
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(names, db) {
		t.Errorf("database %s was created by a refused start", db)
	}
	rdb, _ := storetest.Redis(t)
	keys, err := rdb.Keys(context.Background(), env["AUTHGATE_REDIS__KEY_PREFIX"]+"*").Result()
	if err != nil || len(keys) != 0 {
		t.Errorf("redis keys %v (%v) after a refused start", keys, err)
	}
	if _, err := os.Stat(dataDir); !os.IsNotExist(err) {
		t.Errorf("data dir made by a refused start: %v", err)
	}
}

// TestCommandLine: `gateway` with no command serves (the other tests), --help prints the
// commands and succeeds, `config check` validates, mistakes are errors.
func TestCommandLine(t *testing.T) {
	ctx := context.Background()
	env := gatewayEnv(t, "cli")
	getenv := func(k string) string { return env[k] }
	var out strings.Builder
	if err := run(ctx, []string{"--help"}, getenv, &out, &out); err != nil || !strings.Contains(out.String(), "migrate") ||
		!strings.Contains(out.String(), "config check") {
		t.Fatalf("--help: %v\n%s", err, out.String())
	}
	out.Reset()
	if err := run(ctx, []string{"config", "check"}, getenv, &out, io.Discard); err != nil || out.String() != "configuration OK\n" {
		t.Fatalf("config check: %v %q", err, out.String())
	}
	env["AUTHGATE_REDIRECTS__ALLOWED_HOSTS"] = "a.example:443"
	if err := run(ctx, []string{"config", "check"}, getenv, io.Discard, io.Discard); err == nil ||
		!strings.Contains(err.Error(), "redirects.allowed_hosts") {
		t.Fatalf("config check accepted a redirect host the sign-in page refuses: %v", err)
	}
	delete(env, "AUTHGATE_REDIRECTS__ALLOWED_HOSTS")
	env["AUTHGATE_TOKENS__ACCESS_TTL"] = "soon"
	if err := run(ctx, []string{"config", "check"}, getenv, io.Discard, io.Discard); err == nil ||
		!strings.Contains(err.Error(), "tokens.access_ttl") {
		t.Fatalf("config check of a bad config: %v", err)
	}
	for _, args := range [][]string{{"--verbose"}, {"frobnicate"}, {"--config"}, {"--config", filepath.Join(t.TempDir(), "nope.yaml"), "config", "check"}} {
		if err := run(ctx, args, getenv, io.Discard, io.Discard); err == nil {
			t.Errorf("run(%q) succeeded", args)
		}
	}
}

// TestTrustedProxyHeaders (SECURITY.md H3): behind a trusted proxy the gateway keeps its
// X-Forwarded-For chain, -Proto and -Host, and sets Secure cookies for an https client;
// without trust the same headers are replaced by what the gateway saw.
func TestTrustedProxyHeaders(t *testing.T) {
	up := echoUpstream(t)
	for _, trusted := range []bool{true, false} {
		t.Run(fmt.Sprintf("trusted=%v", trusted), func(t *testing.T) {
			db := fmt.Sprintf("trust_%d", time.Now().UnixNano())
			env := gatewayEnv(t, db)
			env["AUTHGATE_ROUTES"] = `[{"path":"/echo","upstream":"` + up + `","policy":"public"}]`
			if trusted {
				env["AUTHGATE_TRUSTED_PROXIES"] = "127.0.0.1,::1"
			}
			c := newClient(t, startGateway(t, env))
			fwd := []string{"X-Forwarded-For", "198.51.100.7", "X-Forwarded-Proto", "https", "X-Forwarded-Host", "app.example"}
			r := c.do("GET", "/echo/x", nil, fwd...)
			expect(t, r, 200, "")
			h := r.Body["headers"].(map[string]any)
			got := fmt.Sprint(h["X-Forwarded-For"], h["X-Forwarded-Proto"], h["X-Forwarded-Host"], h["X-Real-Ip"])
			want := "[198.51.100.7, 127.0.0.1] [https] [app.example] [198.51.100.7]"
			if !trusted {
				want = "[127.0.0.1] [http] [" + strings.TrimPrefix(c.base, "http://") + "] [127.0.0.1]"
			}
			if got != want {
				t.Fatalf("upstream saw %s, want %s", got, want)
			}
			s := &stack{base: c.base}
			expect(t, s.register(t, c, "Tess", "tess@example.com", "tess-password"), 201, "")
			login := c.do("POST", "/api/auth/login", map[string]string{"email": "tess@example.com", "password": "tess-password"}, fwd...)
			expect(t, login, 200, "")
			for name, ck := range setCookies(t, login) {
				if ck.Secure != trusted {
					t.Errorf("%s Secure = %v over a (trusted=%v) https proxy", name, ck.Secure, trusted)
				}
			}
		})
	}
}
