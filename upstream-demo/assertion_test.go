package main

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// clock is a settable clock, safe for concurrent readers.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.now = c.now.Add(d) }

// signingKey is a test key with the kid and method the JWKS server publishes it under.
type signingKey struct {
	kid    string
	method jwt.SigningMethod
	priv   crypto.Signer
}

func jwkOf(k signingKey) map[string]string {
	b64 := base64.RawURLEncoding.EncodeToString
	j := map[string]string{"kid": k.kid, "alg": k.method.Alg(), "use": "sig"}
	switch pub := k.priv.Public().(type) {
	case *rsa.PublicKey:
		j["kty"], j["n"], j["e"] = "RSA", b64(pub.N.Bytes()), b64(big.NewInt(int64(pub.E)).Bytes())
	case *ecdsa.PublicKey:
		raw, _ := pub.Bytes()
		j["kty"], j["crv"], j["x"], j["y"] = "EC", "P-256", b64(raw[1:33]), b64(raw[33:])
	case ed25519.PublicKey:
		j["kty"], j["crv"], j["x"] = "OKP", "Ed25519", b64(pub)
	}
	return j
}

// jwksServer publishes keys (changeable) and counts fetches.
type jwksServer struct {
	*httptest.Server
	mu      sync.Mutex
	keys    []signingKey
	down    bool
	fetches atomic.Int32
}

func newJWKSServer(t testing.TB, keys ...signingKey) *jwksServer {
	s := &jwksServer{keys: keys}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s.fetches.Add(1)
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.down {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		set := []map[string]string{}
		for _, k := range s.keys {
			set = append(set, jwkOf(k))
		}
		set = append(set, map[string]string{"kid": "hs", "kty": "oct", "alg": "HS256", "k": "c2VjcmV0"}) // skipped
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": set})
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(keys ...signingKey) { s.mu.Lock(); defer s.mu.Unlock(); s.keys = keys }
func (s *jwksServer) setDown(down bool)      { s.mu.Lock(); defer s.mu.Unlock(); s.down = down }

func testKeys(t testing.TB) (rsaKey, ecKey, edKey signingKey) {
	t.Helper()
	r, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	e, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, d, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return signingKey{"rsa-1", jwt.SigningMethodRS256, r}, signingKey{"ec-1", jwt.SigningMethodES256, e},
		signingKey{"ed-1", jwt.SigningMethodEdDSA, d}
}

// claimsAt is a valid assertion's claim set issued at now.
func claimsAt(now time.Time) jwt.MapClaims {
	return jwt.MapClaims{
		"iss": "authgate", "aud": "users-app", "sub": "65f1c0ffee0000000000beef", "role": "admin", "sid": "s1",
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(30 * time.Second).Unix(), "jti": "j1",
	}
}

// sign signs claims as k (header kid and typ "id+jwt"); header entries override or, when
// nil, remove members.
func sign(t testing.TB, k signingKey, claims jwt.MapClaims, header map[string]any) string {
	t.Helper()
	tok := jwt.NewWithClaims(k.method, claims)
	tok.Header["kid"], tok.Header["typ"] = k.kid, "id+jwt"
	for name, v := range header {
		if v == nil {
			delete(tok.Header, name)
		} else {
			tok.Header[name] = v
		}
	}
	s, err := tok.SignedString(k.priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// demo is upstream-demo's identify in front of a handler that answers the caller it got.
type demo struct {
	t     *testing.T
	h     http.Handler
	clock *clock
}

func newDemo(t *testing.T, jwksURL string) *demo {
	c := &clock{now: time.Now().Truncate(time.Second)}
	v, err := newVerifierAt(jwksURL, "authgate", "users-app", slog.New(slog.DiscardHandler), c.Now)
	if err != nil {
		t.Fatal(err)
	}
	a := &app{log: slog.New(slog.DiscardHandler), assertions: v}
	h := a.identify(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"id": callerOf(r).id, "role": callerOf(r).role})
	})
	return &demo{t: t, h: h, clock: c}
}

// get sends a request with the assertion (if any) and spoofed identity headers.
func (d *demo) get(assertion string) (int, map[string]string) {
	d.t.Helper()
	r := httptest.NewRequest(http.MethodGet, "/api/users/me", nil)
	r.Header.Set("X-User-Id", "spoofed-id")
	r.Header.Set("X-User-Role", "admin")
	if assertion != "" {
		r.Header.Set("X-Auth-Assertion", assertion)
	}
	w := httptest.NewRecorder()
	d.h.ServeHTTP(w, r)
	var body map[string]string
	_ = json.Unmarshal(w.Body.Bytes(), &body)
	return w.Code, body
}

// TestAssertionAccepted: a valid assertion of every algorithm the gateway uses is accepted
// and its sub and role replace the X-User-* headers; the keys are fetched once.
func TestAssertionAccepted(t *testing.T) {
	rsaKey, ecKey, edKey := testKeys(t)
	jwks := newJWKSServer(t, rsaKey, ecKey, edKey)
	d := newDemo(t, jwks.URL)
	for _, k := range []signingKey{rsaKey, ecKey, edKey} {
		claims := claimsAt(d.clock.Now())
		claims["role"] = "user"
		status, body := d.get(sign(t, k, claims, nil))
		if status != http.StatusOK || body["id"] != "65f1c0ffee0000000000beef" || body["role"] != "user" {
			t.Errorf("%s: %d %v", k.kid, status, body)
		}
	}
	aud := claimsAt(d.clock.Now())
	aud["aud"] = []string{"other", "users-app"}
	if status, _ := d.get(sign(t, edKey, aud, nil)); status != http.StatusOK {
		t.Errorf("an audience list naming us: %d", status)
	}
	if n := jwks.fetches.Load(); n != 1 {
		t.Errorf("%d JWKS fetches, want 1", n)
	}
}

// TestAssertionRejected: everything but a valid assertion is 401 "You are not logged in",
// whatever the X-User-* headers say.
func TestAssertionRejected(t *testing.T) {
	rsaKey, ecKey, edKey := testKeys(t)
	jwks := newJWKSServer(t, rsaKey, ecKey, edKey)
	d := newDemo(t, jwks.URL)
	now := d.clock.Now()
	with := func(change func(jwt.MapClaims)) jwt.MapClaims { c := claimsAt(now); change(c); return c }
	_, _, stranger := testKeys(t)
	stranger.kid = edKey.kid // the gateway's kid, someone else's key
	hs := jwt.NewWithClaims(jwt.SigningMethodHS256, claimsAt(now))
	hs.Header["kid"], hs.Header["typ"] = rsaKey.kid, "id+jwt"
	hsToken, _ := hs.SignedString([]byte("public key as secret"))
	none := jwt.NewWithClaims(jwt.SigningMethodNone, claimsAt(now))
	none.Header["kid"], none.Header["typ"] = edKey.kid, "id+jwt"
	noneToken, _ := none.SignedString(jwt.UnsafeAllowNoneSignatureType)

	tests := map[string]string{
		"missing":                "",
		"garbage":                "not.a.jwt",
		"too long":               strings.Repeat("a", maxTokenBytes+1),
		"wrong audience":         sign(t, edKey, with(func(c jwt.MapClaims) { c["aud"] = "billing" }), nil),
		"no audience":            sign(t, edKey, with(func(c jwt.MapClaims) { delete(c, "aud") }), nil),
		"wrong issuer":           sign(t, edKey, with(func(c jwt.MapClaims) { c["iss"] = "evil" }), nil),
		"expired beyond leeway":  sign(t, edKey, with(func(c jwt.MapClaims) { c["exp"] = now.Add(-leeway - time.Second).Unix() }), nil),
		"no exp":                 sign(t, edKey, with(func(c jwt.MapClaims) { delete(c, "exp") }), nil),
		"not yet valid":          sign(t, edKey, with(func(c jwt.MapClaims) { c["nbf"] = now.Add(leeway + 2*time.Second).Unix() }), nil),
		"issued in the future":   sign(t, edKey, with(func(c jwt.MapClaims) { c["iat"] = now.Add(leeway + 2*time.Second).Unix() }), nil),
		"no iat":                 sign(t, edKey, with(func(c jwt.MapClaims) { delete(c, "iat") }), nil),
		"lives two minutes":      sign(t, edKey, with(func(c jwt.MapClaims) { c["exp"] = now.Add(2 * time.Minute).Unix() }), nil),
		"no sub":                 sign(t, edKey, with(func(c jwt.MapClaims) { delete(c, "sub") }), nil),
		"no sid":                 sign(t, edKey, with(func(c jwt.MapClaims) { delete(c, "sid") }), nil),
		"access token typ":       sign(t, edKey, claimsAt(now), map[string]any{"typ": "at+jwt"}),
		"no typ":                 sign(t, edKey, claimsAt(now), map[string]any{"typ": nil}),
		"unknown kid":            sign(t, edKey, claimsAt(now), map[string]any{"kid": "nope"}),
		"no kid":                 sign(t, edKey, claimsAt(now), map[string]any{"kid": nil}),
		"another key, our kid":   sign(t, stranger, claimsAt(now), nil),
		"EC kid, RSA signature":  sign(t, rsaKey, claimsAt(now), map[string]any{"kid": ecKey.kid}),
		"HS256 with a known kid": hsToken,
		"alg none":               noneToken,
		"tampered payload": func() string {
			parts := strings.Split(sign(t, edKey, claimsAt(now), nil), ".")
			p, _ := json.Marshal(with(func(c jwt.MapClaims) { c["role"] = "superadmin" }))
			return parts[0] + "." + base64.RawURLEncoding.EncodeToString(p) + "." + parts[2]
		}(),
	}
	for name, tok := range tests {
		t.Run(name, func(t *testing.T) {
			status, body := d.get(tok)
			if status != http.StatusUnauthorized || body["status"] != "fail" || body["message"] != "You are not logged in" || len(body) != 2 {
				t.Fatalf("got %d %v", status, body)
			}
		})
	}
	if status, _ := d.get(sign(t, edKey, with(func(c jwt.MapClaims) { c["exp"] = now.Add(-leeway + time.Second).Unix() }), nil)); status != http.StatusOK {
		t.Errorf("expired within the leeway: %d", status)
	}
}

// TestJWKSCache: keys are fetched once and kept; an unknown kid fetches again at most once
// per jwksMinInterval (a rotation is picked up, a flood of made-up kids is not passed on);
// a set older than jwksMaxAge is fetched again, so a retired key stops; when the gateway is
// unreachable the keys already known keep working.
func TestJWKSCache(t *testing.T) {
	rsaKey, ecKey, edKey := testKeys(t)
	jwks := newJWKSServer(t, edKey)
	d := newDemo(t, jwks.URL)
	ok := func(k signingKey) bool {
		t.Helper()
		status, _ := d.get(sign(t, k, claimsAt(d.clock.Now()), nil))
		return status == http.StatusOK
	}
	fetches := func(want int32) {
		t.Helper()
		if n := jwks.fetches.Load(); n != want {
			t.Fatalf("%d JWKS fetches, want %d", n, want)
		}
	}
	for range 5 {
		if !ok(edKey) {
			t.Fatal("valid assertion refused")
		}
	}
	fetches(1)

	// The gateway rotates to a new key: the first assertion with its kid fetches the set.
	jwks.set(edKey, ecKey)
	d.clock.Add(jwksMinInterval)
	if !ok(ecKey) {
		t.Fatal("the new key was not fetched")
	}
	fetches(2)
	// Made-up kids right after: no fetch within the interval.
	for range 10 {
		if ok(signingKey{kid: "made-up", method: rsaKey.method, priv: rsaKey.priv}) {
			t.Fatal("unknown kid accepted")
		}
	}
	fetches(2)
	d.clock.Add(jwksMinInterval)
	ok(signingKey{kid: "made-up", method: rsaKey.method, priv: rsaKey.priv})
	fetches(3)

	// The gateway is down: known keys go on, even once the set is old.
	jwks.setDown(true)
	d.clock.Add(jwksMaxAge)
	if !ok(edKey) || !ok(ecKey) {
		t.Fatal("known keys refused while the JWKS is unreachable")
	}
	fetches(4) // one attempt, then the interval
	jwks.setDown(false)

	// The old key is retired: once the set is refetched its assertions fail.
	jwks.set(ecKey)
	d.clock.Add(jwksMaxAge)
	if ok(edKey) {
		t.Fatal("a retired key still verifies after the set was refreshed")
	}
	if !ok(ecKey) {
		t.Fatal("the current key was refused")
	}
}

// TestAssertionFlags: the two flags go together and the URL must be http(s); without them
// upstream-demo takes X-User-Id/X-User-Role as before.
func TestAssertionFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--jwks-url", "http://127.0.0.1:1/.well-known/jwks.json"},
		{"--audience", "users-app"},
		{"--jwks-url", "file:///etc/passwd", "--audience", "users-app"},
	} {
		if err := run(context.Background(), args, func(string) string { return "" }, io.Discard); err == nil ||
			!strings.Contains(err.Error(), "jwks-url") {
			t.Errorf("run(%q) = %v", args, err)
		}
	}
	env := map[string]string{"UPSTREAM_JWKS_URL": "http://127.0.0.1:1/jwks", "UPSTREAM_AUDIENCE": ""}
	if err := run(context.Background(), nil, func(k string) string { return env[k] }, io.Discard); err == nil ||
		!strings.Contains(err.Error(), "audience") {
		t.Errorf("UPSTREAM_JWKS_URL alone: %v", err)
	}

	a := &app{log: slog.New(slog.DiscardHandler)}
	h := a.identify(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"id": callerOf(r).id, "role": callerOf(r).role})
	})
	r := httptest.NewRequest(http.MethodGet, "/api/users/me", nil)
	r.Header.Set("X-User-Id", "u1")
	r.Header.Set("X-User-Role", "user")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"id":"u1"`) {
		t.Errorf("without assertions: %d %s", w.Code, w.Body)
	}
}

// TestHealthzNeedsNoAssertion: the liveness probe is answered without an assertion; every
// other path (unknown ones too) needs one.
func TestHealthzNeedsNoAssertion(t *testing.T) {
	jwks := newJWKSServer(t)
	v, err := newVerifier(jwks.URL, "authgate", "users-app", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	h := (&app{log: slog.New(slog.DiscardHandler), assertions: v}).routes()
	for path, want := range map[string]int{"/healthz": 200, "/api/users": 401, "/api/users/me": 401, "/nope": 401} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		if w.Code != want {
			t.Errorf("%s: %d, want %d", path, w.Code, want)
		}
	}
}

// FuzzAssertion: no input makes verification panic, and whatever it accepts says exactly
// what the one genuine assertion of the corpus says: no mutation changes the caller.
func FuzzAssertion(f *testing.F) {
	_, _, edKey := testKeys(f)
	jwks := newJWKSServer(f, edKey)
	c := &clock{now: time.Unix(1_900_000_000, 0)}
	v, err := newVerifierAt(jwks.URL, "authgate", "users-app", slog.New(slog.DiscardHandler), c.Now)
	if err != nil {
		f.Fatal(err)
	}
	genuine := sign(f, edKey, claimsAt(c.Now()), nil)
	f.Add(genuine)
	f.Add(genuine + "=")
	f.Add(strings.Replace(genuine, ".", "..", 1))
	f.Add("eyJhbGciOiJub25lIiwidHlwIjoiaWQrand0In0.e30.")
	f.Fuzz(func(t *testing.T, tok string) {
		claims, err := v.verify(context.Background(), tok)
		if err != nil {
			return
		}
		if claims.Subject != "65f1c0ffee0000000000beef" || claims.Role != "admin" || claims.SessionID != "s1" {
			t.Fatalf("accepted a forged caller %+v from %q", claims, tok)
		}
	})
}
