package tokens_test

import (
	"crypto"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/authsvc/internal/tokens"
)

func TestCacheBehavesLikeParse(t *testing.T) {
	keys := newKeyring(t)
	c, clock := newCodec(t, tokens.Access, keys.rsa("a"))
	other, _ := newCodec(t, tokens.Refresh, keys.rsa("b"))
	cache := tokens.NewCache(c, 4)
	tok := mustIssue(t, c)

	for i := range 3 {
		cl, err := cache.Parse(tok)
		if err != nil || cl.Subject != "user-1" || cl.SessionID != "session-1" {
			t.Fatalf("parse %d: %+v %v", i, cl, err)
		}
	}
	if cache.Len() != 1 {
		t.Fatalf("Len = %d, want 1", cache.Len())
	}

	// Invalid tokens are never cached, however often they come.
	for _, bad := range []string{"garbage", mustIssue(t, other), tok + "x", tok[:len(tok)-2]} {
		for range 2 {
			if _, err := cache.Parse(bad); !errors.Is(err, tokens.ErrInvalid) {
				t.Fatalf("Parse(%.20q) = %v, want ErrInvalid", bad, err)
			}
		}
	}
	if cache.Len() != 1 {
		t.Fatalf("invalid tokens cached: Len = %d", cache.Len())
	}

	// A cached token expires exactly when Parse would reject it (exp + leeway).
	clock.now = t0().Add(15*time.Minute + 30*time.Second - time.Nanosecond)
	if _, err := cache.Parse(tok); err != nil {
		t.Fatalf("just before exp+leeway: %v", err)
	}
	clock.now = t0().Add(15*time.Minute + 30*time.Second)
	if _, err := cache.Parse(tok); !errors.Is(err, tokens.ErrInvalid) {
		t.Fatalf("at exp+leeway: %v, want ErrInvalid", err)
	}
	if cache.Len() != 0 {
		t.Fatalf("expired token still cached")
	}
}

func TestCacheIsBounded(t *testing.T) {
	keys := newKeyring(t)
	c, _ := newCodec(t, tokens.Access, keys.key("e", tokens.EdDSA))
	cache := tokens.NewCache(c, 8)
	for i := range 50 {
		tok, _, err := c.Issue("user-1", "session-1", string(rune('a'+i%26))+string(rune('a'+i/26)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cache.Parse(tok); err != nil {
			t.Fatal(err)
		}
		if cache.Len() > 8 {
			t.Fatalf("cache grew to %d > 8", cache.Len())
		}
	}
}

func BenchmarkCacheParse(b *testing.B) {
	keys := newKeyring(b)
	c, _ := newCodec(b, tokens.Access, keys.rsa("a"))
	cache := tokens.NewCache(c, 0)
	tok := mustIssue(b, c)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := cache.Parse(tok); err != nil {
			b.Fatal(err)
		}
	}
}

// TestCacheRemembersRefusals: a refused token is answered from memory with Parse's own
// error (a client retrying a forged token costs no second signature check); a token that
// may become valid (iat ahead of this clock) is not remembered; a key-set change forgets
// every refusal, so a token of a newly added key is accepted at once.
func TestCacheRemembersRefusals(t *testing.T) {
	keys := newKeyring(t)
	set, err := tokens.NewKeySet(keys.rsa("a"), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{now: t0()}
	c, err := tokens.New(tokens.Config{Type: tokens.Access, Issuer: testIssuer, Audience: testAudience,
		TTL: 15 * time.Minute, Leeway: 30 * time.Second, Keys: set, Clock: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	cache := tokens.NewCache(c, 0)
	good := mustIssue(t, c)
	forged := good[:len(good)-4] + "AAAA"
	_, want := c.Parse(forged)
	for range 3 {
		if _, err := cache.Parse(forged); err == nil || err.Error() != want.Error() {
			t.Fatalf("forged token: %v, want %v", err, want)
		}
	}
	if cache.Rejected() != 1 || cache.Len() != 0 {
		t.Fatalf("remembered %d refusals and %d tokens, want 1 and 0", cache.Rejected(), cache.Len())
	}

	// Issued by a clock two minutes ahead: refused now, valid once this clock catches up.
	ahead, aheadClock := newCodec(t, tokens.Access, keys.rsa("a"))
	aheadClock.now = t0().Add(2 * time.Minute)
	early := mustIssue(t, ahead)
	if _, err := cache.Parse(early); !errors.Is(err, tokens.ErrInvalid) {
		t.Fatalf("token from the future: %v", err)
	}
	if cache.Rejected() != 1 {
		t.Fatalf("a not-yet-valid token was remembered (%d refusals)", cache.Rejected())
	}
	clock.now = t0().Add(2 * time.Minute)
	if _, err := cache.Parse(early); err != nil {
		t.Fatalf("once valid: %v", err)
	}

	// A token of a key not in the set yet: refused, then accepted right after the key
	// is added.
	newer, newerClock := newCodec(t, tokens.Access, keys.key("b", tokens.EdDSA))
	newerClock.now = clock.now
	other := mustIssue(t, newer)
	if _, err := cache.Parse(other); !errors.Is(err, tokens.ErrInvalid) {
		t.Fatalf("unknown key: %v", err)
	}
	if err := set.Replace(keys.rsa("a"), nil, []crypto.PublicKey{keys.key("b", tokens.EdDSA).Public()}); err != nil {
		t.Fatal(err)
	}
	if _, err := cache.Parse(other); err != nil {
		t.Fatalf("after the key was added: %v", err)
	}
}

// TestExpiredRefusedBeforeSignature: an expired token is refused for its exp whatever
// its signature (no public-key operation), and after the header checks.
func TestExpiredRefusedBeforeSignature(t *testing.T) {
	keys := newKeyring(t)
	c, clock := newCodec(t, tokens.Access, keys.rsa("a"))
	tok := mustIssue(t, c)
	clock.now = t0().Add(time.Hour)
	for _, tc := range []struct{ name, token, reason string }{
		{"valid signature", tok, "token is expired"},
		{"forged signature", tok[:len(tok)-4] + "AAAA", "token is expired"},
	} {
		_, err := c.Parse(tc.token)
		if !errors.Is(err, tokens.ErrInvalid) || !strings.Contains(err.Error(), tc.reason) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.reason)
		}
	}
	other, _ := newCodec(t, tokens.Access, keys.rsa("b"))
	if _, err := c.Parse(mustIssue(t, other)); err == nil || !strings.Contains(err.Error(), "unknown key id") {
		t.Errorf("expired token of another key: %v, want the header's refusal first", err)
	}
}
