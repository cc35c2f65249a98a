package authsvc_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/authgate/authgate/authsvc"
)

// TestChangePasswordAndLogoutAll: the new password is validated before anything is
// done, a wrong current password changes nothing, the change keeps the caller's session
// and ends the others, logout-all ends every one; each step is in the audit log.
func TestChangePasswordAndLogoutAll(t *testing.T) {
	ctx := t.Context()
	s := newCore(t)
	rctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(rctx); close(done) }()
	defer func() { stop(); <-done }()

	u, err := s.Register(ctx, authsvc.NewUser{Name: "Cy", Email: "cy@example.com", Password: "cy-password"}, authsvc.Client{})
	if err != nil {
		t.Fatal(err)
	}
	login := func(pw string) (authsvc.Grant, error) {
		return s.Login(ctx, authsvc.Credentials{Email: "cy@example.com", Password: pw}, authsvc.Client{IP: "192.0.2.7", UserAgent: "test"})
	}
	var grants []authsvc.Grant
	for range 3 {
		g, err := login("cy-password")
		if err != nil {
			t.Fatal(err)
		}
		grants = append(grants, g)
	}
	me, err := s.Authenticate(ctx, grants[0].AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	var ve *authsvc.ValidationError
	if err := s.ChangePassword(ctx, me, "", "short"); !errors.As(err, &ve) || len(ve.Issues) != 2 ||
		ve.Issues[0] != (authsvc.Issue{Field: "currentPassword", Code: authsvc.IssueRequired}) ||
		ve.Issues[1] != (authsvc.Issue{Field: "password", Code: authsvc.IssueTooShort}) {
		t.Fatalf("invalid ChangePassword = %v", err)
	}
	if err := s.ChangePassword(ctx, me, "wrong-password", "cy-new-password"); !errors.Is(err, authsvc.ErrWrongPassword) {
		t.Fatalf("wrong current password = %v", err)
	}
	for _, g := range grants { // nothing changed
		if _, err := s.Authenticate(ctx, g.AccessToken); err != nil {
			t.Fatalf("a session ended by a refused change: %v", err)
		}
	}
	if err := s.ChangePassword(ctx, me, "cy-password", "cy-new-password"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, grants[0].AccessToken); err != nil {
		t.Fatalf("the changing session: %v", err)
	}
	for _, g := range grants[1:] {
		if _, err := s.Authenticate(ctx, g.AccessToken); !errors.Is(err, authsvc.ErrSessionExpired) {
			t.Fatalf("another session after the change: %v", err)
		}
	}
	if _, err := login("cy-password"); !errors.Is(err, authsvc.ErrInvalidCredentials) {
		t.Fatalf("old password: %v", err)
	}
	if _, err := login("cy-new-password"); err != nil {
		t.Fatalf("new password: %v", err)
	}
	if n, err := s.LogoutAll(ctx, me); err != nil || n != 2 {
		t.Fatalf("LogoutAll = %d, %v", n, err)
	}
	if list, err := s.Sessions(ctx, u.ID); err != nil || len(list) != 0 {
		t.Fatalf("sessions after LogoutAll: %v, %v", list, err)
	}

	if err := s.SetRole(authsvc.WithActor(ctx, "000000000000000000000001"), u.ID, "editor"); err != nil {
		t.Fatal(err)
	}
	want := []string{"role.changed", "session.revoked_all", "login.failure", "password.changed", "password.change_fail"}
	var got []string
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		p, err := s.AuditEvents(ctx, authsvc.AuditQuery{UserID: u.ID})
		if err != nil {
			t.Fatal(err)
		}
		got = got[:0]
		for _, e := range p.Events {
			got = append(got, e.Type)
		}
		if slices.Equal(got, want) || time.Now().After(deadline) {
			break
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("audit events %v, want %v", got, want)
	}
	p, err := s.AuditEvents(ctx, authsvc.AuditQuery{Type: "role.changed", Limit: 1})
	if err != nil || p.Events[0].ActorID != "000000000000000000000001" || p.Events[0].Details["role"] != "editor" {
		t.Fatalf("role.changed: %+v, %v", p, err)
	}
	// A failed login names the email tried and the account that has it.
	p, err = s.AuditEvents(ctx, authsvc.AuditQuery{Type: "login.failure"})
	if err != nil || p.Total != 1 || p.Events[0].Details["email"] != "cy@example.com" || p.Events[0].IP != "192.0.2.7" ||
		p.Events[0].UserID != u.ID {
		t.Fatalf("login failures: %+v, %v", p, err)
	}
	if _, err := s.AuditEvents(ctx, authsvc.AuditQuery{Page: -1, Limit: 1000, Type: "Bad Type", UserID: "nope"}); !errors.As(err, &ve) || len(ve.Issues) != 4 {
		t.Fatalf("invalid AuditQuery = %v", err)
	}
	// A page so far that its skip would overflow is a validation error, not a store error.
	if _, err := s.AuditEvents(ctx, authsvc.AuditQuery{Page: 100000000000000000, Limit: 100}); !errors.As(err, &ve) || len(ve.Issues) != 1 || ve.Issues[0].Field != "page" {
		t.Fatalf("AuditQuery with a huge page = %v", err)
	}
}
