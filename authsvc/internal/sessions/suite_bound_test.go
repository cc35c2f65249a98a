package sessions_test

import (
	"slices"
	"testing"
	"time"

	"github.com/authgate/authgate/authsvc/internal/sessions"
)

// testMaxPerUser: a user never has more than MaxPerUser sessions; a new login evicts the
// least recently used one (the one refreshed longest ago), reports it, and leaves the
// others and other users alone.
func testMaxPerUser(t *testing.T, newStore newStoreFunc) {
	f := setup(t, newStore, func(c *sessions.Config) { c.MaxPerUser = 3 })
	ctx := t.Context()
	alice, bob := id("u"), id("u")
	other := f.create(t, bob)
	var ids []string
	for range 3 {
		ids = append(ids, f.create(t, alice).ID)
		f.clock.Advance(time.Second)
	}
	// The first session is used (rotated): it becomes the most recently used.
	first := f.get(t, alice, ids[0])
	if _, _, err := f.st.Rotate(ctx, alice, first.ID, first.RefreshJTI, id("j")); err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	f.clock.Advance(time.Second)

	s, evicted, err := f.st.Create(ctx, newSession(alice))
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if !slices.Equal(evicted, []string{ids[1]}) {
		t.Fatalf("evicted %v, want the least recently used %s", evicted, ids[1])
	}
	f.wantGone(t, alice, ids[1])
	if rec, idx := f.rawState(t, alice, ids[1]); rec || idx {
		t.Fatalf("evicted session: record %v, index %v; want neither", rec, idx)
	}
	list, err := f.st.List(ctx, alice)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, x := range list {
		got = append(got, x.ID)
	}
	slices.Sort(got)
	want := []string{ids[0], ids[2], s.ID}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("sessions %v, want %v", got, want)
	}
	f.get(t, bob, other.ID)
}

// testRotateSlidesScore: a rotation moves the index score to the record's new expiry.
func testRotateSlidesScore(t *testing.T, newStore newStoreFunc) {
	f := setup(t, newStore, nil)
	ctx, rdb := t.Context(), f.st.RawClient()
	s := f.create(t, id("u"))
	f.clock.Advance(10 * time.Minute)
	if _, _, err := f.st.Rotate(ctx, s.UserID, s.ID, s.RefreshJTI, id("j")); err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	score, err := rdb.ZScore(ctx, f.st.IndexKey(s.UserID), s.ID).Result()
	if want := f.clock.Now().Add(f.cfg.IdleTTL).UnixMilli(); err != nil || int64(score) != want {
		t.Fatalf("score after rotate %v (%v), want %d", score, err, want)
	}
}

// testCreatePrunesByScore: entries whose record expired leave the index at the next
// login, without the script looking at any record.
func testCreatePrunesByScore(t *testing.T, newStore newStoreFunc) {
	f := setup(t, newStore, func(c *sessions.Config) { c.IdleTTL = time.Minute })
	ctx, rdb := t.Context(), f.st.RawClient()
	user := id("u")
	old := f.create(t, user)
	f.clock.Advance(2 * time.Minute)
	f.create(t, user)
	if err := rdb.ZScore(ctx, f.st.IndexKey(user), old.ID).Err(); err == nil {
		t.Fatalf("expired entry %s still indexed", old.ID)
	}
}
