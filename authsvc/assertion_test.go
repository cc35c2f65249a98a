package authsvc_test

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/authgate/authgate/authsvc"
)

// manualClock is a settable clock, safe for concurrent readers.
type manualClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *manualClock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *manualClock) Set(t time.Time)     { c.mu.Lock(); defer c.mu.Unlock(); c.now = t }
func (c *manualClock) Add(d time.Duration) { c.Set(c.Now().Add(d)) }

// newAssertions builds Assertions on a fresh assertion key of alg (EdDSA when ""), with a
// clock at a whole second; pub verifies what it signs.
func newAssertions(t testing.TB, alg string, maxEntries int) (*authsvc.Assertions, *manualClock, crypto.PublicKey) {
	t.Helper()
	if alg == "" {
		alg = authsvc.EdDSA
	}
	kp := mustPair(t, alg)
	keys, err := authsvc.LoadKeys(authsvc.KeyConfig{
		Access:    authsvc.KeySpec{Private: string(mustPair(t, authsvc.EdDSA).PrivatePEM)},
		Refresh:   authsvc.KeySpec{Private: string(mustPair(t, authsvc.EdDSA).PrivatePEM)},
		Assertion: authsvc.KeySpec{Private: string(kp.PrivatePEM)},
	}, "")
	if err != nil {
		t.Fatal(err)
	}
	c := &manualClock{now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	a, err := authsvc.NewAssertions(keys, authsvc.AssertionConfig{TTL: 30 * time.Second, Issuer: "authgate", MaxEntries: maxEntries, Clock: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(kp.PublicPEM)
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return a, c, pub
}

// verify checks tok with the jwt library alone at now and returns its claims.
func verify(t testing.TB, tok string, pub crypto.PublicKey, aud string, now time.Time) jwt.MapClaims {
	t.Helper()
	claims := jwt.MapClaims{}
	parsed, err := jwt.NewParser(jwt.WithValidMethods([]string{authsvc.EdDSA}), jwt.WithAudience(aud), jwt.WithIssuer("authgate"),
		jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithTimeFunc(func() time.Time { return now })).
		ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) { return pub, nil })
	if err != nil {
		t.Fatalf("assertion does not verify: %v", err)
	}
	if parsed.Header["typ"] != "id+jwt" {
		t.Fatalf("typ %v", parsed.Header["typ"])
	}
	return claims
}

func mustFor(t testing.TB, a *authsvc.Assertions, aud string, id authsvc.Identity) string {
	t.Helper()
	tok, err := a.For(aud, id)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestAssertionsReuse: an assertion is reused while more than half of its lifetime is
// left, then replaced; another audience, session or role never gets it.
func TestAssertionsReuse(t *testing.T) {
	a, clk, pub := newAssertions(t, "", 0)
	alice := authsvc.Identity{UserID: "u1", Role: "user", SessionID: "s1", Email: "a@x.io", Name: "Alice"}
	start := clk.Now()

	first := mustFor(t, a, "users-app", alice)
	c := verify(t, first, pub, "users-app", clk.Now())
	for k, v := range map[string]any{"sub": "u1", "role": "user", "sid": "s1", "iat": float64(start.Unix()),
		"nbf": float64(start.Unix()), "exp": float64(start.Unix() + 30)} {
		if c[k] != v {
			t.Errorf("claim %s = %v, want %v", k, c[k], v)
		}
	}
	if _, ok := c["email"]; ok {
		t.Error("the assertion carries the email")
	}

	clk.Add(15*time.Second - time.Nanosecond) // 15s+1ns left of 30s: still more than half
	if got := mustFor(t, a, "users-app", alice); got != first {
		t.Error("not reused with more than half its lifetime left")
	}
	clk.Add(time.Nanosecond) // exactly half left
	second := mustFor(t, a, "users-app", alice)
	if second == first {
		t.Fatal("reused with only half its lifetime left")
	}
	if c := verify(t, second, pub, "users-app", clk.Now()); c["iat"] != float64(start.Unix()+15) {
		t.Errorf("renewed assertion iat %v", c["iat"])
	}
	if got := mustFor(t, a, "users-app", alice); got != second {
		t.Error("the renewed assertion is not reused")
	}

	// The role comes from the session on every request: a change is never served the old one.
	admin := alice
	admin.Role = "admin"
	promoted := mustFor(t, a, "users-app", admin)
	if promoted == second || verify(t, promoted, pub, "users-app", clk.Now())["role"] != "admin" {
		t.Error("a role change was served the old assertion")
	}
	if got := mustFor(t, a, "users-app", alice); got == second || got == promoted {
		t.Error("a role change back reused an assertion of another role")
	}

	other := mustFor(t, a, "billing", alice)
	if verify(t, other, pub, "billing", clk.Now())["aud"] != "billing" {
		t.Error("wrong audience")
	}
	bob := authsvc.Identity{UserID: "u2", Role: "user", SessionID: "s2"}
	if got := mustFor(t, a, "users-app", bob); verify(t, got, pub, "users-app", clk.Now())["sub"] != "u2" {
		t.Error("another session got alice's assertion")
	}
	// A session id is never shared between users; if one were, the user id still decides.
	mallory := authsvc.Identity{UserID: "u3", Role: "user", SessionID: "s1"}
	if got := mustFor(t, a, "users-app", mallory); verify(t, got, pub, "users-app", clk.Now())["sub"] != "u3" {
		t.Error("another user with the same session id got alice's assertion")
	}
}

// TestAssertionsConcurrent: requests that miss at once on one session share one signature;
// many sessions at once stay within the bound (run with -race).
func TestAssertionsConcurrent(t *testing.T) {
	a, clk, _ := newAssertions(t, "", 64)
	id := authsvc.Identity{UserID: "u1", Role: "user", SessionID: "s1"}
	var wg sync.WaitGroup
	got := make([]string, 32)
	for i := range got {
		wg.Go(func() { got[i] = mustFor(t, a, "app", id) })
	}
	wg.Wait()
	for _, tok := range got {
		if tok != got[0] {
			t.Fatal("concurrent misses signed more than once")
		}
	}
	for g := range 8 {
		wg.Go(func() {
			for i := range 100 {
				mustFor(t, a, "app", authsvc.Identity{UserID: "u", Role: "user", SessionID: fmt.Sprintf("s-%d-%d", g, i)})
				if i%10 == 0 {
					clk.Add(time.Second)
				}
			}
		})
	}
	wg.Wait()
	if n := a.Len(); n > 64 {
		t.Errorf("%d assertions cached, bound 64", n)
	}
}

func TestAssertionsErrors(t *testing.T) {
	a, _, _ := newAssertions(t, "", 0)
	for _, tc := range []struct {
		aud string
		id  authsvc.Identity
	}{
		{"", authsvc.Identity{UserID: "u", SessionID: "s"}},
		{"app", authsvc.Identity{SessionID: "s"}},
		{"app", authsvc.Identity{UserID: "u"}},
	} {
		if _, err := a.For(tc.aud, tc.id); !errors.Is(err, authsvc.ErrAssertionIdentity) {
			t.Errorf("For(%q, %+v) = %v, want ErrAssertionIdentity", tc.aud, tc.id, err)
		}
	}
	if n := a.Len(); n != 0 {
		t.Errorf("%d entries cached by refused calls", n)
	}
	keys, err := authsvc.LoadKeys(authsvc.KeyConfig{}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, cfg := range []authsvc.AssertionConfig{
		{TTL: 0, Issuer: "authgate"}, {TTL: authsvc.MaxAssertionTTL + time.Second, Issuer: "authgate"},
		{TTL: 1500 * time.Millisecond, Issuer: "authgate"}, {TTL: time.Second},
	} {
		if _, err := authsvc.NewAssertions(keys, cfg); err == nil {
			t.Errorf("NewAssertions(%+v) accepted", cfg)
		}
	}
	if _, err := authsvc.NewAssertions(nil, authsvc.AssertionConfig{TTL: time.Second, Issuer: "x"}); !errors.Is(err, authsvc.ErrNoAssertionKey) {
		t.Errorf("NewAssertions(nil) = %v", err)
	}
}

// BenchmarkAssertions: a reused assertion (the hot path) against a signature per request.
func BenchmarkAssertions(b *testing.B) {
	for _, alg := range []string{authsvc.RS256, authsvc.EdDSA} {
		a, clk, _ := newAssertions(b, alg, 0)
		id := authsvc.Identity{UserID: "65f1c0ffee0000000000beef", Role: "user", SessionID: "c2Vzc2lvbi1pZC0xMjM0NTY"}
		b.Run(alg+"/reused", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := a.For("users-app", id); err != nil {
						b.Error(err)
					}
				}
			})
		})
		b.Run(alg+"/signed", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				clk.Add(time.Minute) // every call misses
				if _, err := a.For("users-app", id); err != nil {
					b.Error(err)
				}
			}
		})
	}
}
