package sessions_test

import (
	"context"
	"crypto/rand"
	"errors"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/authgate/authgate/authsvc/internal/sessions"
)

// newStoreFunc returns a Store on a fresh namespace of some Redis-protocol server,
// configured with cfg (the suite sets the clock and TTLs; the function may set Prefix).
type newStoreFunc func(t *testing.T, cfg sessions.Config) *sessions.Store

// runStoreTests is the conformance suite every Redis-protocol backend of the session
// store must pass. Each case gets its own Store, namespace and fake clock.
func runStoreTests(t *testing.T, newStore newStoreFunc) {
	t.Helper()
	tests := []struct {
		name string
		run  func(t *testing.T, newStore newStoreFunc)
	}{
		{"create and get round trip", testCreateGet},
		{"invalid arguments change nothing", testInvalidArguments},
		{"raw keys: record and index together (R5)", testRawKeys},
		{"many sessions per user, listed newest first", testListNewestFirst},
		{"another user's session id is not found", testOtherUser},
		{"idle expiry: key TTL and clock", testIdleExpiry},
		{"idle expiry: the server drops the record and List prunes the index", testIdleExpiryOnServer},
		{"absolute maximum caps the TTL and ends the session", testAbsoluteMax},
		{"rotate happy path", testRotate},
		{"grace replay within the window", testGraceReplay},
		{"replay after the window revokes the session", testReplayAfterWindow},
		{"replay of an older token or a foreign one revokes", testReplayOlder},
		{"concurrent rotation of one token rotates once", testConcurrentRotate},
		{"delete is idempotent and cleans the index", testDelete},
		{"delete all counts and revokes", testDeleteAll},
		{"delete others keeps one session", testDeleteOthers},
		{"set role changes every live session", testSetRole},
		{"ping", testPing},
		{"sessions per user are bounded: least recently used evicted", testMaxPerUser},
		{"rotation slides the index score", testRotateSlidesScore},
		{"create prunes expired entries by score", testCreatePrunesByScore},
		{"touch proves and slides without rotating", testTouch},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, newStore)
		})
	}
}

// fakeClock is an injectable clock that starts at the real time (so that key TTLs
// computed from it agree with the server's clock) and moves only when told.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *fakeClock {
	return &fakeClock{now: time.UnixMilli(time.Now().UnixMilli())}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// fixture is one Store with its clock and configuration.
type fixture struct {
	st    *sessions.Store
	clock *fakeClock
	cfg   sessions.Config
}

// setup returns a fixture with short but realistic limits; change applies overrides.
func setup(t *testing.T, newStore newStoreFunc, change func(*sessions.Config)) fixture {
	t.Helper()
	clock := newClock()
	cfg := sessions.Config{
		IdleTTL:    time.Hour,
		MaxTTL:     24 * time.Hour,
		Grace:      10 * time.Second,
		Timeout:    5 * time.Second, // generous: -race on a busy machine
		MaxPerUser: 50,
		Clock:      clock.Now,
	}
	if change != nil {
		change(&cfg)
	}
	return fixture{st: newStore(t, cfg), clock: clock, cfg: cfg}
}

func id(prefix string) string { return prefix + rand.Text() }

func newSession(userID string) sessions.Session {
	return sessions.Session{
		ID: id("s"), UserID: userID, Role: "user", RefreshJTI: id("j"),
		IP: "192.0.2.7", UserAgent: "Mozilla/5.0 (suite)",
	}
}

// create stores a new session of userID and fails the test on error.
func (f fixture) create(t *testing.T, userID string) sessions.Session {
	t.Helper()
	s, _, err := f.st.Create(t.Context(), newSession(userID))
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return s
}

// wantGone fails unless Get reports ErrNotFound for the session.
func (f fixture) wantGone(t *testing.T, userID, sessionID string) {
	t.Helper()
	if s, err := f.st.Get(t.Context(), userID, sessionID); !errors.Is(err, sessions.ErrNotFound) {
		t.Fatalf("Get(%s, %s) = %+v, %v; want ErrNotFound", userID, sessionID, s, err)
	}
}

// get returns the session and fails the test on error.
func (f fixture) get(t *testing.T, userID, sessionID string) sessions.Session {
	t.Helper()
	s, err := f.st.Get(t.Context(), userID, sessionID)
	if err != nil {
		t.Fatalf("Get(%s, %s): %v", userID, sessionID, err)
	}
	return s
}

// rawState reports whether the record key exists and whether the index holds the id.
func (f fixture) rawState(t *testing.T, userID, sessionID string) (record, indexed bool) {
	t.Helper()
	ctx, rdb := t.Context(), f.st.RawClient()
	n, err := rdb.Exists(ctx, f.st.RecordKey(userID, sessionID)).Result()
	if err != nil {
		t.Fatalf("EXISTS: %v", err)
	}
	err = rdb.ZScore(ctx, f.st.IndexKey(userID), sessionID).Err()
	if err != nil && !errors.Is(err, redis.Nil) {
		t.Fatalf("ZSCORE: %v", err)
	}
	return n == 1, err == nil
}

// pttl returns the record key's remaining TTL.
func (f fixture) pttl(t *testing.T, userID, sessionID string) time.Duration {
	t.Helper()
	d, err := f.st.RawClient().PTTL(t.Context(), f.st.RecordKey(userID, sessionID)).Result()
	if err != nil {
		t.Fatalf("PTTL: %v", err)
	}
	return d
}

// wantTTLNear fails unless got is in (want-slack, want].
func wantTTLNear(t *testing.T, what string, got, want time.Duration) {
	t.Helper()
	const slack = 3 * time.Second
	if got > want || got <= want-slack {
		t.Fatalf("%s: PTTL %v, want within %v below %v", what, got, slack, want)
	}
}

func testCreateGet(t *testing.T, newStore newStoreFunc) {
	f := setup(t, newStore, nil)
	now := f.clock.Now()
	tests := []struct {
		name        string
		expiresAt   time.Time
		wantExpires time.Time
	}{
		{name: "expiry filled in", wantExpires: now.Add(f.cfg.MaxTTL)},
		{name: "earlier expiry kept", expiresAt: now.Add(time.Hour), wantExpires: now.Add(time.Hour)},
		{name: "later expiry capped at MaxTTL", expiresAt: now.Add(10 * f.cfg.MaxTTL), wantExpires: now.Add(f.cfg.MaxTTL)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := newSession(id("u"))
			in.ExpiresAt = tc.expiresAt
			created, _, err := f.st.Create(t.Context(), in)
			if err != nil {
				t.Fatalf("Create: %v", err)
			}
			want := in
			want.CreatedAt, want.LastSeen, want.ExpiresAt = now, now, tc.wantExpires
			if !sameSession(created, want) {
				t.Fatalf("Create returned\n%+v\nwant\n%+v", created, want)
			}
			got := f.get(t, in.UserID, in.ID)
			if !sameSession(got, created) {
				t.Fatalf("Get returned\n%+v\nCreate returned\n%+v", got, created)
			}
			if !got.RotatedAt.IsZero() || got.PrevRefreshJTI != "" {
				t.Fatalf("new session has rotation state: %+v", got)
			}
		})
	}
}

func testInvalidArguments(t *testing.T, newStore newStoreFunc) {
	f := setup(t, newStore, nil)
	ctx := t.Context()
	s := f.create(t, id("u"))
	tests := []struct {
		name string
		call func() error
		want error
	}{
		{"create without id", func() error {
			_, _, err := f.st.Create(ctx, sessions.Session{UserID: "u1", RefreshJTI: "j"})
			return err
		}, sessions.ErrInvalid},
		{"create with brace in user id", func() error { x := newSession("u{1}"); _, _, err := f.st.Create(ctx, x); return err }, sessions.ErrInvalid},
		{"create with colon in session id", func() error { x := newSession("u1"); x.ID = "a:b"; _, _, err := f.st.Create(ctx, x); return err }, sessions.ErrInvalid},
		{"create without refresh jti", func() error { x := newSession("u1"); x.RefreshJTI = ""; _, _, err := f.st.Create(ctx, x); return err }, sessions.ErrInvalid},
		{"create with expiry in the past", func() error {
			x := newSession("u1")
			x.ExpiresAt = f.clock.Now().Add(-time.Second)
			_, _, err := f.st.Create(ctx, x)
			return err
		}, sessions.ErrInvalid},
		{"create with a session id in use", func() error { x := newSession(s.UserID); x.ID = s.ID; _, _, err := f.st.Create(ctx, x); return err }, sessions.ErrInvalid},
		{"get with a key-breaking user id", func() error { _, err := f.st.Get(ctx, s.UserID+"}:x", s.ID); return err }, sessions.ErrNotFound},
		{"rotate with empty presented jti", func() error { _, _, err := f.st.Rotate(ctx, s.UserID, s.ID, "", "n"); return err }, sessions.ErrInvalid},
		{"rotate to the same jti", func() error {
			_, _, err := f.st.Rotate(ctx, s.UserID, s.ID, s.RefreshJTI, s.RefreshJTI)
			return err
		}, sessions.ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	// The session used by the cases is unchanged.
	if got := f.get(t, s.UserID, s.ID); !sameSession(got, s) {
		t.Fatalf("session changed by invalid calls:\n%+v\nwant\n%+v", got, s)
	}
}

func testRawKeys(t *testing.T, newStore newStoreFunc) {
	f := setup(t, newStore, nil)
	ctx, rdb := t.Context(), f.st.RawClient()
	s := f.create(t, id("u"))
	recordKey, indexKey := f.st.RecordKey(s.UserID, s.ID), f.st.IndexKey(s.UserID)

	tag := "{" + s.UserID + "}"
	for _, k := range []string{recordKey, indexKey} {
		if strings.Index(k, "{") != strings.Index(k, tag) {
			t.Fatalf("key %q: the first hash tag must be %s (one Cluster slot per user)", k, tag)
		}
	}
	if rec, idx := f.rawState(t, s.UserID, s.ID); !rec || !idx {
		t.Fatalf("after Create: record %v, index entry %v; want both", rec, idx)
	}
	// The score is the record's own expiry (idle limit, capped by the absolute one), so
	// dead entries are pruned by score and the lowest score is the least recently used.
	score, err := rdb.ZScore(ctx, indexKey, s.ID).Result()
	if want := min(s.LastSeen.Add(f.cfg.IdleTTL).UnixMilli(), s.ExpiresAt.UnixMilli()); err != nil || int64(score) != want {
		t.Fatalf("index score %v (%v), want the record's expiry %d", score, err, want)
	}
	fields, err := rdb.HKeys(ctx, recordKey).Result()
	if err != nil {
		t.Fatalf("HKEYS: %v", err)
	}
	slices.Sort(fields)
	want := sessions.RecordFields()
	slices.Sort(want)
	if !slices.Equal(fields, want) {
		t.Fatalf("record fields %v, want exactly %v (no tokens, no hashes)", fields, want)
	}
	if d, err := rdb.PTTL(ctx, indexKey).Result(); err != nil || d <= 0 {
		t.Fatalf("index PTTL %v (%v): the index must expire too", d, err)
	}

	if err := f.st.Delete(ctx, s.UserID, s.ID); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if rec, idx := f.rawState(t, s.UserID, s.ID); rec || idx {
		t.Fatalf("after Delete: record %v, index entry %v; want neither", rec, idx)
	}
}

func testListNewestFirst(t *testing.T, newStore newStoreFunc) {
	f := setup(t, newStore, nil)
	ctx := t.Context()
	alice, bob := id("u"), id("u")
	var created []string
	for range 5 {
		created = append(created, f.create(t, alice).ID)
		f.create(t, bob)
		f.clock.Advance(time.Second)
	}
	slices.Reverse(created)

	tests := []struct {
		name string
		user string
		want int
	}{
		{"alice", alice, 5},
		{"bob", bob, 5},
		{"unknown user", id("u"), 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			list, err := f.st.List(ctx, tc.user)
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			if len(list) != tc.want {
				t.Fatalf("List returned %d sessions, want %d", len(list), tc.want)
			}
			for i := range list {
				if list[i].UserID != tc.user {
					t.Fatalf("List(%s) returned a session of %s", tc.user, list[i].UserID)
				}
				if i > 0 && list[i].CreatedAt.After(list[i-1].CreatedAt) {
					t.Fatalf("not newest first at %d: %v after %v", i, list[i].CreatedAt, list[i-1].CreatedAt)
				}
			}
		})
	}
	list, err := f.st.List(ctx, alice)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	ids := make([]string, len(list))
	for i, s := range list {
		ids[i] = s.ID
	}
	if !slices.Equal(ids, created) {
		t.Fatalf("List order %v, want %v", ids, created)
	}
}

func testOtherUser(t *testing.T, newStore newStoreFunc) {
	f := setup(t, newStore, nil)
	ctx := t.Context()
	s := f.create(t, id("u"))
	mallory := id("u")
	tests := []struct {
		name string
		call func() error
		want error
	}{
		{"get", func() error { _, err := f.st.Get(ctx, mallory, s.ID); return err }, sessions.ErrNotFound},
		{"rotate with the right jti", func() error { _, _, err := f.st.Rotate(ctx, mallory, s.ID, s.RefreshJTI, "x"); return err }, sessions.ErrNotFound},
		{"rotate with a wrong jti", func() error { _, _, err := f.st.Rotate(ctx, mallory, s.ID, "wrong", "x"); return err }, sessions.ErrNotFound},
		{"delete", func() error { return f.st.Delete(ctx, mallory, s.ID) }, nil},
		{"delete all", func() error { _, err := f.st.DeleteAll(ctx, mallory); return err }, nil},
		{"set role", func() error { return f.st.SetRole(ctx, mallory, "admin") }, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if got := f.get(t, s.UserID, s.ID); !sameSession(got, s) {
				t.Fatalf("owner's session changed:\n%+v\nwant\n%+v", got, s)
			}
		})
	}
}

func testPing(t *testing.T, newStore newStoreFunc) {
	f := setup(t, newStore, nil)
	if err := f.st.Ping(context.Background()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

// sameSession compares sessions field by field, times with Equal.
func sameSession(a, b sessions.Session) bool {
	times := func(s sessions.Session) []time.Time {
		return []time.Time{s.RotatedAt, s.CreatedAt, s.LastSeen, s.ExpiresAt}
	}
	ta, tb := times(a), times(b)
	for i := range ta {
		if !ta[i].Equal(tb[i]) {
			return false
		}
	}
	a.RotatedAt, a.CreatedAt, a.LastSeen, a.ExpiresAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	b.RotatedAt, b.CreatedAt, b.LastSeen, b.ExpiresAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	return reflect.DeepEqual(a, b)
}
