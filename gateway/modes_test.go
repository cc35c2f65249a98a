package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"golang.org/x/crypto/bcrypt"

	"github.com/authgate/authgate/authsvc/storetest"
)

// TestEmbeddedRestartKeepsLogin runs the embedded default (FerretDB + in-process Redis,
// generated keys) twice on one data dir: the user, the keys and the session survive.
func TestEmbeddedRestartKeepsLogin(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{
		"AUTHGATE_LISTEN":                   "127.0.0.1:0",
		"AUTHGATE_DATA_DIR":                 dir,
		"AUTHGATE_EMBEDDED__MONGODB_LISTEN": "127.0.0.1:0",
		"AUTHGATE_ROUTES":                   "[]",
	}
	start := func() (string, func()) {
		ctx, cancel := context.WithCancel(context.Background())
		out := newAddrWriter()
		errc := make(chan error, 1)
		go func() { errc <- run(ctx, nil, func(k string) string { return env[k] }, out, out) }()
		addr := out.wait(t, errc)
		if !strings.Contains(out.String(), "single-node") {
			t.Errorf("no single-node warning in the log:\n%s", out.String())
		}
		return "http://" + addr, func() {
			cancel()
			if err := <-errc; err != nil {
				t.Fatalf("run: %v", err)
			}
		}
	}
	base, stop := start()
	c := newClient(t, base)
	s := &stack{base: base}
	expect(t, s.register(t, c, "Erin", "erin@example.com", "erin-password"), 201, "")
	tok := s.login(t, c, "erin@example.com", "erin-password")
	stop()

	base, stop = start()
	defer stop()
	r := newClient(t, base).do("GET", "/api/auth/me", nil, "Authorization", "Bearer "+tok)
	expect(t, r, 200, "")
	if !strings.Contains(r.Raw, "erin@example.com") {
		t.Fatalf("me after restart: %s", r.Raw)
	}
}

func keyPair(t *testing.T) (priv, pub string) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	pder, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	enc := func(typ string, b []byte) string {
		return base64.StdEncoding.EncodeToString(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}))
	}
	return enc("PRIVATE KEY", der), enc("PUBLIC KEY", pder)
}

// TestProductionMode: refuses the embedded stores and missing keys, naming each; with the
// seed's base64 key variables it runs and every cookie is Secure.
func TestProductionMode(t *testing.T) {
	err := run(context.Background(), nil, func(k string) string {
		return map[string]string{"AUTHGATE_MODE": "production"}[k]
	}, io.Discard, io.Discard)
	if err == nil {
		t.Fatal("production started without stores and keys")
	}
	for _, want := range []string{"mongodb.uri", "redis.url", "access_private_key", "access_public_key", "refresh_private_key", "refresh_public_key"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %s:\n%v", want, err)
		}
	}

	env := gatewayEnv(t, fmt.Sprintf("prod_%d", time.Now().UnixNano()))
	env["AUTHGATE_MODE"] = "production"
	env["ACCESS_TOKEN_PRIVATE_KEY"], env["ACCESS_TOKEN_PUBLIC_KEY"] = keyPair(t)
	env["REFRESH_TOKEN_PRIVATE_KEY"], env["REFRESH_TOKEN_PUBLIC_KEY"] = keyPair(t)
	c := newClient(t, startGateway(t, env))
	s := &stack{base: c.base}
	expect(t, s.register(t, c, "Finn", "finn@example.com", "finn-password"), 201, "")
	r := c.do("POST", "/api/auth/login", map[string]string{"email": "finn@example.com", "password": "finn-password"})
	expect(t, r, 200, "")
	cks := setCookies(t, r)
	if len(cks) != 3 {
		t.Fatalf("cookies: %v", r.Header.Values("Set-Cookie"))
	}
	for name, ck := range cks {
		if !ck.Secure || ck.SameSite != http.SameSiteLaxMode {
			t.Errorf("%s: not Secure in production: %v", name, ck)
		}
	}
	if !cks["refresh_token"].HttpOnly || !cks["access_token"].HttpOnly || cks["logged_in"].HttpOnly {
		t.Errorf("HttpOnly attributes wrong: %v", r.Header.Values("Set-Cookie"))
	}
}

// TestSeedDatabase starts the gateway on a collection shaped like the seed's: its own
// unique "email_1" index, emails as typed, bcrypt hashes. A plain start refuses it
// (registration would otherwise let LEGACY@x in beside Legacy@x) and scans nothing;
// `gateway migrate` normalises the emails (leaving a case-only duplicate alone) and
// reports; then the gateway keeps the index, logs seed users in and pads failed logins so
// that unknown emails look like seed accounts (SECURITY.md P3).
func TestSeedDatabase(t *testing.T) {
	db := fmt.Sprintf("seed_%d", time.Now().UnixNano())
	mc, err := mongo.Connect(options.Client().ApplyURI(storetest.MongoURI(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = mc.Disconnect(context.Background()) }()
	users := mc.Database(db).Collection("users")
	defer func() { _ = mc.Database(db).Drop(context.Background()) }()
	ctx := context.Background()
	if _, err := users.Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys: bson.D{{Key: "email", Value: 1}}, Options: options.Index().SetUnique(true).SetName("email_1"),
	}); err != nil {
		t.Fatal(err)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte("legacy-password"), 10)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	for _, email := range []string{"Legacy@Example.com", "Dup@Example.com", "dup@example.com"} {
		if _, err := users.InsertOne(ctx, bson.M{"name": "Seed", "email": email, "password": string(hash),
			"role": "user", "photo": "default.png", "verified": true, "provider": "local",
			"createdAt": now, "updatedAt": now}); err != nil {
			t.Fatal(err)
		}
	}
	env := gatewayEnv(t, db)
	getenv := func(k string) string { return env[k] }

	var out strings.Builder
	err = run(ctx, nil, getenv, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "gateway migrate") {
		t.Fatalf("start on an unmigrated seed database: %v, want a refusal naming `gateway migrate`", err)
	}
	if n, _ := users.CountDocuments(ctx, bson.M{"email": "legacy@example.com"}); n != 0 {
		t.Fatal("a refused start changed the users")
	}

	var report strings.Builder
	if err := run(ctx, []string{"migrate"}, getenv, io.Discard, &report); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	if !strings.Contains(report.String(), "3 users scanned, 1 emails normalised, 1 left as typed") ||
		!strings.Contains(report.String(), "3 bcrypt hashes remain") {
		t.Fatalf("migration report %q", report.String())
	}

	c := newClient(t, startGateway(t, env))
	s := &stack{base: c.base}
	expect(t, s.register(t, c, "Again", "LEGACY@example.com", "legacy-password"), 409, "Email already exist")

	fail := func(email string) time.Duration {
		start := time.Now()
		expect(t, c.do("POST", "/api/auth/login", map[string]string{"email": email, "password": "wrong-password"}),
			401, "Invalid email or password")
		return time.Since(start)
	}
	// Medians of several tries each, interleaved, so one slow moment of a busy machine
	// does not decide.
	var unknown, seed []time.Duration
	for i := range 7 {
		unknown = append(unknown, fail(fmt.Sprintf("nobody%d@example.com", i)))
		seed = append(seed, fail("Legacy@Example.com"))
	}
	// Without padding the ratio measures about 0.16; 0.5..2 leaves room for a loaded machine.
	if ratio := float64(median(unknown)) / float64(median(seed)); ratio < 0.5 || ratio > 2 {
		t.Errorf("failed logins: unknown emails took %v, a seed account %v (ratio %.2f)", median(unknown), median(seed), ratio)
	}
	s.login(t, c, "legacy@example.com", "legacy-password")

	var doc bson.M
	if err := users.FindOne(ctx, bson.M{"email": "legacy@example.com"}).Decode(&doc); err != nil {
		t.Fatalf("email not normalised: %v", err)
	}
	if n, _ := users.CountDocuments(ctx, bson.M{"email": bson.M{"$in": []string{"Dup@Example.com", "dup@example.com"}}}); n != 2 {
		t.Fatalf("case-only duplicates changed: %d left", n)
	}
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}
