package authsvc_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/authgate/authgate/authsvc"
)

func ptr[T any](v T) *T { return &v }

// TestAdminListUsers: search on email or name, case-insensitive and literal (regular
// expression metacharacters match themselves), paging with a total, bad values refused.
func TestAdminListUsers(t *testing.T) {
	ctx := t.Context()
	s := newCore(t)
	for i, n := range []string{"Ann", "Bob", "Ann.Marie", "a+b (x)", "Zed"} {
		if _, err := s.CreateUser(ctx, authsvc.NewUser{Name: n, Email: fmt.Sprintf("u%d@example.com", i), Password: "password-1"}); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		q    string
		want int64
	}{{"", 5}, {"ANN", 2}, {"ann.", 1}, {".", 6 - 1}, {"a+b (x)", 1}, {"(", 1}, {"U3@EXAMPLE", 1}, {"*", 0}, {"^A", 0}, {"nobody", 0}} {
		p, err := s.ListUsers(ctx, authsvc.UserQuery{Q: c.q})
		if err != nil || p.Total != c.want || len(p.Users) != int(c.want) || p.Page != 1 || p.Limit != authsvc.DefaultPageLimit {
			t.Errorf("q %q: total %d users %d page %d limit %d %v, want %d", c.q, p.Total, len(p.Users), p.Page, p.Limit, err, c.want)
		}
	}
	p, err := s.ListUsers(ctx, authsvc.UserQuery{Page: 2, Limit: 2})
	if err != nil || p.Total != 5 || len(p.Users) != 2 || p.Users[0].Name != "Ann.Marie" || p.Users[1].Name != "a+b (x)" {
		t.Fatalf("page 2: %+v %v", p, err)
	}
	if p, _ := s.ListUsers(ctx, authsvc.UserQuery{Page: 9, Limit: 2}); len(p.Users) != 0 || p.Total != 5 {
		t.Fatalf("past the end: %+v", p)
	}
	var ve *authsvc.ValidationError
	for _, q := range []authsvc.UserQuery{{Page: -1}, {Limit: 101}, {Limit: -3}, {Q: string(make([]byte, 300))}, {Q: "\xff"}} {
		if _, err := s.ListUsers(ctx, q); !errors.As(err, &ve) {
			t.Errorf("%+v: %v, want a validation error", q, err)
		}
	}
}

// TestAdminUpdateUser: a role change reaches the live session at once, disabling ends
// every session and refuses login (the wrong-password answer) and refresh, deleting
// ends the sessions and the account; bad input changes nothing.
func TestAdminUpdateUser(t *testing.T) {
	ctx := t.Context()
	s := newCore(t)
	u, err := s.CreateUser(ctx, authsvc.NewUser{Name: "Eve", Email: "eve@example.com", Password: "eve-password"})
	if err != nil {
		t.Fatal(err)
	}
	cr := authsvc.Credentials{Email: "eve@example.com", Password: "eve-password"}
	g, err := s.Login(ctx, cr, authsvc.Client{})
	if err != nil {
		t.Fatal(err)
	}
	var ve *authsvc.ValidationError
	for _, up := range []authsvc.UserUpdate{{}, {Role: ptr("")}, {Role: ptr("ad min")}, {Role: ptr("-x")}} {
		if _, err := s.UpdateUser(ctx, u.ID, up); !errors.As(err, &ve) {
			t.Errorf("%+v: %v, want a validation error", up, err)
		}
	}
	for _, id := range []string{"nothex", bson.NewObjectID().Hex()} {
		if _, err := s.UpdateUser(ctx, id, authsvc.UserUpdate{Role: ptr("admin")}); !errors.Is(err, authsvc.ErrNotFound) {
			t.Errorf("UpdateUser(%q): %v", id, err)
		}
	}
	if id, err := s.Authenticate(ctx, g.AccessToken); err != nil || id.Role != "user" {
		t.Fatalf("before: %+v %v", id, err)
	}
	got, err := s.UpdateUser(ctx, u.ID, authsvc.UserUpdate{Role: ptr("editor")})
	if err != nil || got.Role != "editor" || got.Disabled {
		t.Fatalf("UpdateUser role: %+v %v", got, err)
	}
	if id, err := s.Authenticate(ctx, g.AccessToken); err != nil || id.Role != "editor" {
		t.Fatalf("after the role change: %+v %v", id, err)
	}
	got, err = s.UpdateUser(ctx, u.ID, authsvc.UserUpdate{Disabled: ptr(true)})
	if err != nil || !got.Disabled {
		t.Fatalf("disable: %+v %v", got, err)
	}
	if _, err := s.Authenticate(ctx, g.AccessToken); !errors.Is(err, authsvc.ErrSessionExpired) {
		t.Fatalf("disabled user's token: %v", err)
	}
	if _, err := s.Refresh(ctx, g.RefreshToken); !errors.Is(err, authsvc.ErrRefreshFailed) {
		t.Fatalf("disabled user's refresh: %v", err)
	}
	if _, err := s.Login(ctx, cr, authsvc.Client{}); !errors.Is(err, authsvc.ErrInvalidCredentials) {
		t.Fatalf("disabled user's login: %v", err)
	}
	if _, err := s.UpdateUser(ctx, u.ID, authsvc.UserUpdate{Disabled: ptr(false)}); err != nil {
		t.Fatal(err)
	}
	g, err = s.Login(ctx, cr, authsvc.Client{})
	if err != nil {
		t.Fatalf("login after enabling: %v", err)
	}
	if list, err := s.UserSessions(ctx, u.ID); err != nil || len(list) != 1 {
		t.Fatalf("sessions: %v %v", list, err)
	}
	if err := s.DeleteUser(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, g.AccessToken); !errors.Is(err, authsvc.ErrSessionExpired) {
		t.Fatalf("deleted user's token: %v", err)
	}
	if _, err := s.User(ctx, u.ID); !errors.Is(err, authsvc.ErrNotFound) {
		t.Fatalf("deleted user: %v", err)
	}
	if _, err := s.UserSessions(ctx, u.ID); !errors.Is(err, authsvc.ErrNotFound) {
		t.Fatalf("deleted user's sessions: %v", err)
	}
	if err := s.DeleteUser(ctx, u.ID); !errors.Is(err, authsvc.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
}

// TestAdminLastAdmin: the last enabled admin cannot be demoted, disabled or deleted,
// also when two admins demote each other at once (one at least stays admin).
func TestAdminLastAdmin(t *testing.T) {
	ctx := t.Context()
	s := newCore(t)
	a, err := s.CreateUser(ctx, authsvc.NewUser{Name: "A", Email: "a@example.com", Password: "password-1", Role: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	for name, f := range map[string]func() error{
		"demote":  func() error { _, err := s.UpdateUser(ctx, a.ID, authsvc.UserUpdate{Role: ptr("user")}); return err },
		"disable": func() error { _, err := s.UpdateUser(ctx, a.ID, authsvc.UserUpdate{Disabled: ptr(true)}); return err },
		"delete":  func() error { return s.DeleteUser(ctx, a.ID) },
		"setrole": func() error { return s.SetRole(ctx, a.ID, "user") },
	} {
		if err := f(); !errors.Is(err, authsvc.ErrLastAdmin) {
			t.Errorf("%s the last admin: %v", name, err)
		}
	}
	if u, _ := s.User(ctx, a.ID); u.Role != "admin" || u.Disabled {
		t.Fatalf("the last admin changed: %+v", u)
	}
	// A disabled admin does not count.
	b, err := s.CreateUser(ctx, authsvc.NewUser{Name: "B", Email: "b@example.com", Password: "password-1", Role: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateUser(ctx, b.ID, authsvc.UserUpdate{Disabled: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateUser(ctx, a.ID, authsvc.UserUpdate{Role: ptr("user")}); !errors.Is(err, authsvc.ErrLastAdmin) {
		t.Fatalf("demote with only a disabled other admin: %v", err)
	}
	if _, err := s.UpdateUser(ctx, b.ID, authsvc.UserUpdate{Disabled: ptr(false)}); err != nil {
		t.Fatal(err)
	}
	for round := range 10 {
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, id := range []string{a.ID, b.ID} {
			wg.Go(func() {
				if round%2 == 0 {
					_, errs[i] = s.UpdateUser(ctx, id, authsvc.UserUpdate{Role: ptr("user")})
				} else {
					errs[i] = s.DeleteUser(ctx, id)
				}
			})
		}
		wg.Wait()
		p, err := s.ListUsers(ctx, authsvc.UserQuery{})
		if err != nil {
			t.Fatal(err)
		}
		admins := 0
		for _, u := range p.Users {
			if u.Role == "admin" && !u.Disabled {
				admins++
			}
		}
		if admins < 1 || (errs[0] == nil && errs[1] == nil) {
			t.Fatalf("round %d: %d admins left, errors %v", round, admins, errs)
		}
		// Back to two admins for the next round.
		for _, id := range []string{a.ID, b.ID} {
			if _, err := s.User(ctx, id); errors.Is(err, authsvc.ErrNotFound) {
				n, err := s.CreateUser(ctx, authsvc.NewUser{Name: "N", Email: fmt.Sprintf("n%d@example.com", round), Password: "password-1", Role: "admin"})
				if err != nil {
					t.Fatal(err)
				}
				if id == a.ID {
					a.ID = n.ID
				} else {
					b.ID = n.ID
				}
				continue
			}
			if _, err := s.UpdateUser(ctx, id, authsvc.UserUpdate{Role: ptr("admin")}); err != nil {
				t.Fatal(err)
			}
		}
	}
}
