package sessions_test

import (
	"testing"
	"time"

	"github.com/authgate/authgate/authsvc/internal/sessions"
	"github.com/authgate/authgate/authsvc/storetest"
)

// TestBarrier: after a revocation, Barrier returns once every subscribed replica has
// applied it (each replica's cached copy is gone by then, not a moment later); with no
// subscriber it returns at once; a subscriber that never counts (a replica without
// barriers) makes it wait its limit and report false.
func TestBarrier(t *testing.T) {
	_, prefix := storetest.Redis(t)
	a, b, c := newReplica(t, prefix), newReplica(t, prefix), newReplica(t, prefix)
	ctx := t.Context()
	for round := range 20 {
		s, _, err := a.st.Create(ctx, sessions.Session{ID: id("s"), UserID: id("u"), Role: "user", RefreshJTI: id("j")})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range []*replica{b, c} {
			if _, err := r.cache.Get(ctx, s.UserID, s.ID); err != nil {
				t.Fatal(err)
			}
		}
		if err := a.st.Delete(ctx, s.UserID, s.ID); err != nil {
			t.Fatal(err)
		}
		if !a.st.Barrier(ctx, 2*time.Second) {
			t.Fatalf("round %d: barrier not confirmed", round)
		}
		for _, r := range []*replica{b, c} {
			if _, err := r.cache.Get(ctx, s.UserID, s.ID); err == nil {
				t.Fatalf("round %d: a replica served the revoked session after the barrier", round)
			}
		}
	}

	rdb, other := storetest.Redis(t)
	alone := mustNew(t, rdb, sessions.Config{Prefix: other, IdleTTL: time.Hour, MaxTTL: time.Hour, Grace: time.Second,
		Timeout: 5 * time.Second, MaxPerUser: 50})
	start := time.Now()
	if !alone.Barrier(ctx, time.Second) || time.Since(start) > 500*time.Millisecond {
		t.Fatalf("no subscriber: %v", time.Since(start))
	}
	mute := rdb.Subscribe(ctx, other+"revocations")
	defer func() { _ = mute.Close() }()
	if _, err := mute.Receive(ctx); err != nil { // the subscription's confirmation
		t.Fatal(err)
	}
	start = time.Now()
	if alone.Barrier(ctx, 300*time.Millisecond) || time.Since(start) < 250*time.Millisecond {
		t.Fatalf("a subscriber that never counts: %v", time.Since(start))
	}
}
