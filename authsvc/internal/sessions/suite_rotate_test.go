package sessions_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/authgate/authgate/authsvc/internal/sessions"
)

func testRotate(t *testing.T, newStore newStoreFunc) {
	f := setup(t, newStore, nil)
	ctx := t.Context()
	s := f.create(t, id("u"))
	current := s.RefreshJTI
	steps := []struct {
		name    string
		advance time.Duration
	}{
		{name: "first rotation, at once"},
		{name: "second rotation, a minute later", advance: time.Minute},
		{name: "third rotation, within the grace window of the second", advance: time.Second},
	}
	for _, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			f.clock.Advance(step.advance)
			next := id("j")
			got, outcome, err := f.st.Rotate(ctx, s.UserID, s.ID, current, next)
			if err != nil || outcome != sessions.Rotated {
				t.Fatalf("Rotate: %v, %v; want Rotated", outcome, err)
			}
			now := f.clock.Now()
			want := s
			want.RefreshJTI, want.PrevRefreshJTI, want.RotatedAt, want.LastSeen = next, current, now, now
			if !sameSession(got, want) {
				t.Fatalf("Rotate returned\n%+v\nwant\n%+v", got, want)
			}
			if stored := f.get(t, s.UserID, s.ID); !sameSession(stored, want) {
				t.Fatalf("Get after Rotate\n%+v\nwant\n%+v", stored, want)
			}
			current = next
		})
	}
}

func testGraceReplay(t *testing.T, newStore newStoreFunc) {
	tests := []struct {
		name  string
		after time.Duration
	}{
		{name: "at once", after: 0},
		{name: "half the window", after: 5 * time.Second},
		{name: "at the end of the window", after: 10 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := setup(t, newStore, func(c *sessions.Config) { c.Grace = 10 * time.Second })
			ctx := t.Context()
			s := f.create(t, id("u"))
			rotated, _, err := f.st.Rotate(ctx, s.UserID, s.ID, s.RefreshJTI, id("j"))
			if err != nil {
				t.Fatalf("Rotate: %v", err)
			}
			f.clock.Advance(tc.after)

			got, outcome, err := f.st.Rotate(ctx, s.UserID, s.ID, s.RefreshJTI, id("j"))
			if err != nil || outcome != sessions.GraceReplay {
				t.Fatalf("replay %v after rotation: %v, %v; want GraceReplay", tc.after, outcome, err)
			}
			want := rotated
			want.LastSeen = f.clock.Now()
			if !sameSession(got, want) {
				t.Fatalf("grace replay returned\n%+v\nwant (only LastSeen changed)\n%+v", got, want)
			}
			if stored := f.get(t, s.UserID, s.ID); !sameSession(stored, want) {
				t.Fatalf("stored after grace replay\n%+v\nwant\n%+v", stored, want)
			}
			// The current token still rotates.
			if _, outcome, err := f.st.Rotate(ctx, s.UserID, s.ID, rotated.RefreshJTI, id("j")); err != nil || outcome != sessions.Rotated {
				t.Fatalf("Rotate of the current token after a grace replay: %v, %v", outcome, err)
			}
		})
	}
}

func testReplayAfterWindow(t *testing.T, newStore newStoreFunc) {
	f := setup(t, newStore, func(c *sessions.Config) { c.Grace = 10 * time.Second })
	ctx := t.Context()
	s := f.create(t, id("u"))
	other := f.create(t, s.UserID)
	rotated, _, err := f.st.Rotate(ctx, s.UserID, s.ID, s.RefreshJTI, id("j"))
	if err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	f.clock.Advance(10*time.Second + time.Millisecond)

	if _, _, err := f.st.Rotate(ctx, s.UserID, s.ID, s.RefreshJTI, id("j")); !errors.Is(err, sessions.ErrReplay) {
		t.Fatalf("replay after the window: %v, want ErrReplay", err)
	}
	f.wantGone(t, s.UserID, s.ID)
	if _, _, err := f.st.Rotate(ctx, s.UserID, s.ID, rotated.RefreshJTI, id("j")); !errors.Is(err, sessions.ErrNotFound) {
		t.Fatalf("the newest token after the replay: %v, want ErrNotFound (session revoked)", err)
	}
	if rec, idx := f.rawState(t, s.UserID, s.ID); rec || idx {
		t.Fatalf("after the replay: record %v, index entry %v; want neither", rec, idx)
	}
	list, err := f.st.List(ctx, s.UserID)
	if err != nil || len(list) != 1 || list[0].ID != other.ID {
		t.Fatalf("List after the replay: %+v, %v; want only the user's other session", list, err)
	}
}

func testReplayOlder(t *testing.T, newStore newStoreFunc) {
	tests := []struct {
		name      string
		presented func(jtis []string) string
	}{
		{name: "the token before the previous one, within grace", presented: func(j []string) string { return j[0] }},
		{name: "a token never issued", presented: func([]string) string { return id("forged") }},
		{name: "the previous token of another session", presented: func(j []string) string { return j[len(j)-1] }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := setup(t, newStore, nil)
			ctx := t.Context()
			s := f.create(t, id("u"))
			jtis := []string{s.RefreshJTI, id("j"), id("j")}
			for i := 1; i < len(jtis); i++ {
				if _, _, err := f.st.Rotate(ctx, s.UserID, s.ID, jtis[i-1], jtis[i]); err != nil {
					t.Fatalf("Rotate %d: %v", i, err)
				}
			}
			// A second session whose previous token is known, for the last case.
			s2 := f.create(t, s.UserID)
			next := id("j")
			if _, _, err := f.st.Rotate(ctx, s2.UserID, s2.ID, s2.RefreshJTI, next); err != nil {
				t.Fatalf("Rotate s2: %v", err)
			}
			jtis = append(jtis, s2.RefreshJTI)

			if _, _, err := f.st.Rotate(ctx, s.UserID, s.ID, tc.presented(jtis), id("j")); !errors.Is(err, sessions.ErrReplay) {
				t.Fatalf("Rotate: %v, want ErrReplay", err)
			}
			f.wantGone(t, s.UserID, s.ID)
			if rec, idx := f.rawState(t, s.UserID, s.ID); rec || idx {
				t.Fatalf("after the replay: record %v, index entry %v; want neither", rec, idx)
			}
			if got := f.get(t, s2.UserID, s2.ID); got.RefreshJTI != next {
				t.Fatalf("the other session changed: current jti %q, want %q", got.RefreshJTI, next)
			}
		})
	}
}

func testConcurrentRotate(t *testing.T, newStore newStoreFunc) {
	const n = 32
	f := setup(t, newStore, nil)
	ctx := t.Context()
	s := f.create(t, id("u"))

	type result struct {
		newJTI  string
		outcome sessions.Outcome
		current string
		err     error
	}
	results := make([]result, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			newJTI := fmt.Sprintf("j-%02d-%s", i, id(""))
			got, outcome, err := f.st.Rotate(ctx, s.UserID, s.ID, s.RefreshJTI, newJTI)
			results[i] = result{newJTI: newJTI, outcome: outcome, current: got.RefreshJTI, err: err}
		})
	}
	close(start)
	wg.Wait()

	var winner string
	counts := map[sessions.Outcome]int{}
	for i, r := range results {
		if r.err != nil {
			t.Fatalf("goroutine %d: %v", i, r.err)
		}
		counts[r.outcome]++
		if r.outcome == sessions.Rotated {
			winner = r.newJTI
		}
	}
	if counts[sessions.Rotated] != 1 || counts[sessions.GraceReplay] != n-1 {
		t.Fatalf("outcomes %v; want exactly 1 Rotated and %d GraceReplay", counts, n-1)
	}
	for i, r := range results {
		if r.current != winner {
			t.Fatalf("goroutine %d (%v) saw current jti %q, want the winner's %q", i, r.outcome, r.current, winner)
		}
	}
	got := f.get(t, s.UserID, s.ID)
	if got.RefreshJTI != winner || got.PrevRefreshJTI != s.RefreshJTI {
		t.Fatalf("stored jtis current %q prev %q; want current %q (winner) prev %q", got.RefreshJTI, got.PrevRefreshJTI, winner, s.RefreshJTI)
	}
}
