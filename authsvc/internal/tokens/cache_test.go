package tokens_test

import (
	"errors"
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
