package sessions_test

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/authgate/authsvc/internal/sessions"
	"github.com/authgate/authgate/authsvc/storetest"
)

// TestClaim: of many concurrent claims of one name exactly one wins; the claim lasts its
// ttl, Release gives it back, and names are per user.
func TestClaim(t *testing.T) {
	ctx := t.Context()
	rdb, prefix := storetest.Redis(t)
	st := mustNew(t, rdb, sessions.Config{Prefix: prefix, IdleTTL: time.Hour, MaxTTL: time.Hour, Grace: time.Second,
		Timeout: time.Second, MaxPerUser: 5})
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			ok, err := st.Claim(ctx, "u1", "reset.abc", time.Minute)
			if err != nil {
				t.Error(err)
			}
			if ok {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d concurrent claims won, want 1", wins.Load())
	}
	if ok, err := st.Claim(ctx, "u2", "reset.abc", time.Minute); err != nil || !ok {
		t.Fatalf("another user's claim of the same name: %v %v", ok, err)
	}
	if err := st.Release(ctx, "u1", "reset.abc"); err != nil {
		t.Fatal(err)
	}
	if ok, err := st.Claim(ctx, "u1", "reset.abc", 50*time.Millisecond); err != nil || !ok {
		t.Fatalf("claim after release: %v %v", ok, err)
	}
	time.Sleep(150 * time.Millisecond)
	if ok, err := st.Claim(ctx, "u1", "reset.abc", time.Minute); err != nil || !ok {
		t.Fatalf("claim after the ttl: %v %v", ok, err)
	}
	for _, bad := range [][2]string{{"", "x"}, {"u1", ""}, {"u{1}", "x"}, {"u1", "a:b"}} {
		if _, err := st.Claim(ctx, bad[0], bad[1], time.Minute); !errors.Is(err, sessions.ErrInvalid) {
			t.Errorf("Claim(%q, %q) = %v, want ErrInvalid", bad[0], bad[1], err)
		}
	}
	if _, err := st.Claim(ctx, "u1", "x", 0); !errors.Is(err, sessions.ErrInvalid) {
		t.Errorf("Claim with ttl 0: %v", err)
	}
}
