package sessions_test

import (
	"testing"
	"time"
)

func testDelete(t *testing.T, newStore newStoreFunc) {
	f := setup(t, newStore, nil)
	ctx := t.Context()
	s := f.create(t, id("u"))
	keep := f.create(t, s.UserID)
	tests := []struct {
		name      string
		userID    string
		sessionID string
	}{
		{name: "existing session", userID: s.UserID, sessionID: s.ID},
		{name: "the same again", userID: s.UserID, sessionID: s.ID},
		{name: "never existed", userID: s.UserID, sessionID: id("s")},
		{name: "unknown user", userID: id("u"), sessionID: id("s")},
		{name: "malformed id", userID: s.UserID, sessionID: "a}:b"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := f.st.Delete(ctx, tc.userID, tc.sessionID); err != nil {
				t.Fatalf("Delete: %v", err)
			}
			f.wantGone(t, tc.userID, tc.sessionID)
			if rec, idx := f.rawState(t, s.UserID, s.ID); rec || idx {
				t.Fatalf("deleted session: record %v, index entry %v; want neither", rec, idx)
			}
			if rec, idx := f.rawState(t, keep.UserID, keep.ID); !rec || !idx {
				t.Fatalf("other session: record %v, index entry %v; want both", rec, idx)
			}
		})
	}
	list, err := f.st.List(ctx, s.UserID)
	if err != nil || len(list) != 1 || list[0].ID != keep.ID {
		t.Fatalf("List after Delete: %+v, %v; want only the kept session", list, err)
	}
}

func testDeleteAll(t *testing.T, newStore newStoreFunc) {
	tests := []struct {
		name    string
		live    int
		deleted int // sessions deleted before DeleteAll
	}{
		{name: "no sessions", live: 0},
		{name: "one session", live: 1},
		{name: "several sessions", live: 4},
		{name: "some already deleted", live: 3, deleted: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := setup(t, newStore, nil)
			ctx := t.Context()
			user, bystander := id("u"), id("u")
			other := f.create(t, bystander)
			for i := range tc.live + tc.deleted {
				s := f.create(t, user)
				if i < tc.deleted {
					if err := f.st.Delete(ctx, user, s.ID); err != nil {
						t.Fatalf("Delete: %v", err)
					}
				}
			}
			n, err := f.st.DeleteAll(ctx, user)
			if err != nil || n != tc.live {
				t.Fatalf("DeleteAll = %d, %v; want %d", n, err, tc.live)
			}
			if list, err := f.st.List(ctx, user); err != nil || len(list) != 0 {
				t.Fatalf("List after DeleteAll: %d sessions, %v", len(list), err)
			}
			rdb := f.st.RawClient()
			if k, err := rdb.Exists(ctx, f.st.IndexKey(user)).Result(); err != nil || k != 0 {
				t.Fatalf("index key after DeleteAll: exists %d, %v", k, err)
			}
			if n, err := f.st.DeleteAll(ctx, user); err != nil || n != 0 {
				t.Fatalf("second DeleteAll = %d, %v; want 0", n, err)
			}
			f.get(t, bystander, other.ID)
		})
	}
}

func testSetRole(t *testing.T, newStore newStoreFunc) {
	f := setup(t, newStore, nil)
	ctx := t.Context()
	user, bystander := id("u"), id("u")
	var ids []string
	for range 3 {
		ids = append(ids, f.create(t, user).ID)
		f.clock.Advance(time.Second)
	}
	other := f.create(t, bystander)
	gone := f.create(t, user)
	if err := f.st.Delete(ctx, user, gone.ID); err != nil {
		t.Fatalf("Delete: %v", err)
	}

	for _, role := range []string{"admin", "user"} {
		t.Run(role, func(t *testing.T) {
			if err := f.st.SetRole(ctx, user, role); err != nil {
				t.Fatalf("SetRole: %v", err)
			}
			for _, sid := range ids {
				if got := f.get(t, user, sid); got.Role != role {
					t.Fatalf("session %s: role %q, want %q", sid, got.Role, role)
				}
				if d := f.pttl(t, user, sid); d <= 0 {
					t.Fatalf("session %s lost its TTL: PTTL %v", sid, d)
				}
			}
			if got := f.get(t, bystander, other.ID); got.Role != "user" {
				t.Fatalf("another user's role changed to %q", got.Role)
			}
			if rec, _ := f.rawState(t, user, gone.ID); rec {
				t.Fatal("SetRole recreated a deleted session")
			}
		})
	}
}

func testDeleteOthers(t *testing.T, newStore newStoreFunc) {
	f := setup(t, newStore, nil)
	ctx := t.Context()
	user := id("u")
	keep := f.create(t, user)
	a, b := f.create(t, user), f.create(t, user)
	other := f.create(t, id("u"))
	if err := f.st.Delete(ctx, user, b.ID); err != nil { // gone already: not reported
		t.Fatal(err)
	}
	ids, err := f.st.DeleteOthers(ctx, user, keep.ID)
	if err != nil || len(ids) != 1 || ids[0] != a.ID {
		t.Fatalf("DeleteOthers = %v, %v; want [%s]", ids, err, a.ID)
	}
	f.wantGone(t, user, a.ID)
	if rec, idx := f.rawState(t, user, a.ID); rec || idx {
		t.Fatalf("revoked session: record %v, index entry %v; want neither", rec, idx)
	}
	for _, s := range []struct{ user, id string }{{user, keep.ID}, {other.UserID, other.ID}} {
		if rec, idx := f.rawState(t, s.user, s.id); !rec || !idx {
			t.Fatalf("kept session %s: record %v, index entry %v; want both", s.id, rec, idx)
		}
	}
	if ids, err := f.st.DeleteOthers(ctx, user, keep.ID); err != nil || len(ids) != 0 {
		t.Fatalf("DeleteOthers again = %v, %v", ids, err)
	}
	if ids, err := f.st.DeleteOthers(ctx, "a}:b", keep.ID); err != nil || ids != nil {
		t.Fatalf("DeleteOthers of a malformed user id = %v, %v", ids, err)
	}
}
