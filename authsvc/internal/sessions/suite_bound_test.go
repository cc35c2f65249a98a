package sessions_test

import (
	"errors"
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

// testTouch: the current refresh token (or the one just rotated away, within grace)
// proves a live session and slides it at most once per interval; an older token, a
// foreign one or a dead session prove nothing, and nothing is revoked.
func testTouch(t *testing.T, newStore newStoreFunc) {
	f := setup(t, newStore, func(c *sessions.Config) { c.IdleTTL = time.Hour; c.Grace = 10 * time.Second })
	ctx := t.Context()
	s := f.create(t, id("u"))
	f.clock.Advance(5 * time.Minute)
	got, err := f.st.Touch(ctx, s.UserID, s.ID, s.RefreshJTI, time.Minute)
	if err != nil || !got.LastSeen.Equal(f.clock.Now()) {
		t.Fatalf("Touch = %+v, %v; want LastSeen slid to now", got, err)
	}
	f.clock.Advance(30 * time.Second)
	if got, err := f.st.Touch(ctx, s.UserID, s.ID, s.RefreshJTI, time.Minute); err != nil || got.LastSeen.Equal(f.clock.Now()) {
		t.Fatalf("second Touch within the interval slid the session: %+v, %v", got, err)
	}
	next := id("j")
	if _, _, err := f.st.Rotate(ctx, s.UserID, s.ID, s.RefreshJTI, next); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.Touch(ctx, s.UserID, s.ID, s.RefreshJTI, time.Minute); err != nil {
		t.Fatalf("the token rotated away within grace: %v", err)
	}
	f.clock.Advance(time.Minute)
	for name, jti := range map[string]string{"old": s.RefreshJTI, "foreign": id("j")} {
		if _, err := f.st.Touch(ctx, s.UserID, s.ID, jti, time.Minute); !errors.Is(err, sessions.ErrNotFound) {
			t.Fatalf("%s token: %v, want ErrNotFound", name, err)
		}
	}
	if _, err := f.st.Touch(ctx, s.UserID, s.ID, next, time.Minute); err != nil {
		t.Fatalf("nothing may be revoked by Touch: %v", err)
	}
	f.clock.Advance(2 * time.Hour)
	if _, err := f.st.Touch(ctx, s.UserID, s.ID, next, time.Minute); !errors.Is(err, sessions.ErrNotFound) {
		t.Fatalf("idle session: %v", err)
	}
}
