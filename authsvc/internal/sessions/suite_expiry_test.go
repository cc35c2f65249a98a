package sessions_test

import (
	"errors"
	"testing"
	"time"

	"github.com/authgate/authgate/authsvc/internal/sessions"
)

func testIdleExpiry(t *testing.T, newStore newStoreFunc) {
	f := setup(t, newStore, func(c *sessions.Config) { c.IdleTTL = time.Minute; c.MaxTTL = time.Hour })
	ctx := t.Context()

	t.Run("key TTL is IdleTTL and Rotate slides it", func(t *testing.T) {
		s := f.create(t, id("u"))
		wantTTLNear(t, "after Create", f.pttl(t, s.UserID, s.ID), f.cfg.IdleTTL)
		time.Sleep(300 * time.Millisecond) // server time passes; the key's TTL runs down
		before := f.pttl(t, s.UserID, s.ID)
		if _, _, err := f.st.Rotate(ctx, s.UserID, s.ID, s.RefreshJTI, id("j")); err != nil {
			t.Fatalf("Rotate: %v", err)
		}
		after := f.pttl(t, s.UserID, s.ID)
		wantTTLNear(t, "after Rotate", after, f.cfg.IdleTTL)
		if after < before+200*time.Millisecond {
			t.Fatalf("PTTL did not slide: %v before Rotate, %v after", before, after)
		}
	})

	tests := []struct {
		name    string
		idle    time.Duration
		wantErr error
	}{
		{name: "just before the idle limit", idle: time.Minute - time.Millisecond},
		{name: "at the idle limit", idle: time.Minute, wantErr: sessions.ErrNotFound},
		{name: "long after", idle: 30 * time.Minute, wantErr: sessions.ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := setup(t, newStore, func(c *sessions.Config) { c.IdleTTL = time.Minute; c.MaxTTL = time.Hour })
			s := f.create(t, id("u"))
			f.clock.Advance(tc.idle)
			_, err := f.st.Get(ctx, s.UserID, s.ID)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Get after %v idle: %v, want %v", tc.idle, err, tc.wantErr)
			}
			list, err := f.st.List(ctx, s.UserID)
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			if wantLen := map[bool]int{true: 0, false: 1}[tc.wantErr != nil]; len(list) != wantLen {
				t.Fatalf("List returned %d sessions, want %d", len(list), wantLen)
			}
			_, _, err = f.st.Rotate(ctx, s.UserID, s.ID, s.RefreshJTI, id("j"))
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Rotate after %v idle: %v, want %v", tc.idle, err, tc.wantErr)
			}
			if tc.wantErr != nil {
				if rec, idx := f.rawState(t, s.UserID, s.ID); rec || idx {
					t.Fatalf("idle session left record %v, index entry %v", rec, idx)
				}
			}
		})
	}
}

func testIdleExpiryOnServer(t *testing.T, newStore newStoreFunc) {
	// The real clock: here the server's own expiry is under test.
	f := setup(t, newStore, func(c *sessions.Config) { c.IdleTTL = 400 * time.Millisecond; c.Clock = time.Now })
	ctx := t.Context()
	s := f.create(t, id("u"))

	deadline := time.Now().Add(3 * time.Second)
	for {
		rec, _ := f.rawState(t, s.UserID, s.ID)
		if !rec {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("record still there %v after Create with IdleTTL %v", 3*time.Second, f.cfg.IdleTTL)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The index entry may already be gone with the index's own TTL (it is the latest
	// record expiry); either way Get and List must not see the session and List leaves
	// no entry behind.
	f.wantGone(t, s.UserID, s.ID)
	if list, err := f.st.List(ctx, s.UserID); err != nil || len(list) != 0 {
		t.Fatalf("List = %v, %v; want none", list, err)
	}
	if _, idx := f.rawState(t, s.UserID, s.ID); idx {
		t.Fatal("List did not prune the index entry of an expired record")
	}
}

func testAbsoluteMax(t *testing.T, newStore newStoreFunc) {
	f := setup(t, newStore, func(c *sessions.Config) { c.IdleTTL = time.Hour; c.MaxTTL = 10 * time.Minute })
	ctx := t.Context()
	s := f.create(t, id("u"))
	if want := f.clock.Now().Add(f.cfg.MaxTTL); !s.ExpiresAt.Equal(want) {
		t.Fatalf("ExpiresAt %v, want CreatedAt+MaxTTL %v", s.ExpiresAt, want)
	}
	wantTTLNear(t, "after Create (MaxTTL < IdleTTL)", f.pttl(t, s.UserID, s.ID), f.cfg.MaxTTL)

	f.clock.Advance(8 * time.Minute)
	rotated, _, err := f.st.Rotate(ctx, s.UserID, s.ID, s.RefreshJTI, id("j"))
	if err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	wantTTLNear(t, "after Rotate 8 min in", f.pttl(t, s.UserID, s.ID), 2*time.Minute)
	if !rotated.ExpiresAt.Equal(s.ExpiresAt) {
		t.Fatalf("Rotate moved the absolute limit: %v, was %v", rotated.ExpiresAt, s.ExpiresAt)
	}

	tests := []struct {
		name    string
		advance time.Duration
		want    error
	}{
		{name: "1 ms before ExpiresAt", advance: 2*time.Minute - time.Millisecond},
		{name: "at ExpiresAt", advance: time.Millisecond, want: sessions.ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f.clock.Advance(tc.advance)
			if _, err := f.st.Get(ctx, s.UserID, s.ID); !errors.Is(err, tc.want) {
				t.Fatalf("Get: %v, want %v", err, tc.want)
			}
		})
	}
	if _, _, err := f.st.Rotate(ctx, s.UserID, s.ID, rotated.RefreshJTI, id("j")); !errors.Is(err, sessions.ErrNotFound) {
		t.Fatalf("Rotate past ExpiresAt: %v, want ErrNotFound", err)
	}
	if list, err := f.st.List(ctx, s.UserID); err != nil || len(list) != 0 {
		t.Fatalf("List past ExpiresAt: %d sessions, %v; want none", len(list), err)
	}
}
