package authsvc_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authgate/authgate/authsvc"
)

// logBuffer collects a core's JSON log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines returns the decoded log lines whose msg is msg.
func (b *logBuffer) lines(msg string) []map[string]any {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(b.buf.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

func regulatedCore(t *testing.T, reg authsvc.RegulationConfig) (*authsvc.Service, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	s := newCoreWith(t, func(c *authsvc.Config) {
		c.Regulation = reg
		c.Logger = slog.New(slog.NewJSONHandler(logs, nil))
	})
	if _, err := s.Register(t.Context(), authsvc.NewUser{Name: "Ada", Email: "ada@example.com", Password: "ada-password"}, authsvc.Client{}); err != nil {
		t.Fatal(err)
	}
	return s, logs
}

var (
	adaRight = authsvc.Credentials{Email: "ada@example.com", Password: "ada-password"}
	adaWrong = authsvc.Credentials{Email: "ada@example.com", Password: "wrong-password"}
)

// TestLoginLockout (SECURITY.md P4): the third failure within the window locks the
// email out; the right password then fails exactly like a wrong one, until the ban is
// lifted or ends; the lockout is logged, listed and lifted through the core.
func TestLoginLockout(t *testing.T) {
	ctx := t.Context()
	s, logs := regulatedCore(t, authsvc.RegulationConfig{Account: authsvc.Lockout{Failures: 3, Window: time.Minute, Ban: 2 * time.Second}})
	cl := authsvc.Client{IP: "192.0.2.1"}

	// A success starts the count afresh: two failures, a success, two failures, a success.
	for range 2 {
		for range 2 {
			if _, err := s.Login(ctx, adaWrong, cl); !errors.Is(err, authsvc.ErrInvalidCredentials) {
				t.Fatal(err)
			}
		}
		if _, err := s.Login(ctx, adaRight, cl); err != nil {
			t.Fatalf("the right password after two failures: %v", err)
		}
	}
	for range 3 {
		if _, err := s.Login(ctx, adaWrong, cl); !errors.Is(err, authsvc.ErrInvalidCredentials) {
			t.Fatal(err)
		}
	}
	for _, cr := range []authsvc.Credentials{adaRight, {Email: " ADA@Example.COM", Password: "ada-password"}} {
		if _, err := s.Login(ctx, cr, authsvc.Client{IP: "198.51.100.9"}); !errors.Is(err, authsvc.ErrInvalidCredentials) {
			t.Fatalf("the right password during the lockout: %v", err)
		}
	}
	locked := logs.lines("account locked")
	if len(locked) != 1 || locked[0]["email_hash"] == "" || locked[0]["until"] == nil || strings.Contains(fmt.Sprint(locked[0]), "ada@example.com") {
		t.Fatalf("lockout log lines %v (the line names the email's hash, not the email)", locked)
	}
	// The audit event (admins read it in GET /api/admin/audit) names the email.
	if ev := logs.lines("audit"); !slices.ContainsFunc(ev, func(m map[string]any) bool {
		d, _ := m["details"].(map[string]any)
		return m["type"] == "login.lockout" && d["email"] == "ada@example.com" && d["kind"] == "account"
	}) {
		t.Fatalf("no login.lockout audit event naming the account: %v", ev)
	}

	bans, err := s.Bans(ctx)
	if err != nil || len(bans) != 1 {
		t.Fatalf("Bans = %+v, %v", bans, err)
	}
	b := bans[0]
	if b.Kind != authsvc.BanAccount || b.Subject != "ada@example.com" || b.Failures != 3 ||
		time.Until(b.Until) <= 0 || time.Until(b.Until) > 2*time.Second || !strings.HasPrefix(b.ID, "account-") {
		t.Fatalf("ban %+v", b)
	}
	if err := s.LiftBan(ctx, "account-nope"); !errors.Is(err, authsvc.ErrNotFound) {
		t.Fatalf("LiftBan(unknown) = %v", err)
	}
	if err := s.LiftBan(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.LiftBan(ctx, b.ID); !errors.Is(err, authsvc.ErrNotFound) {
		t.Fatalf("LiftBan twice = %v", err)
	}
	if _, err := s.Login(ctx, adaRight, cl); err != nil {
		t.Fatalf("after LiftBan: %v", err)
	}

	// Locked again, the ban ends by itself; the count starts afresh after it.
	for range 3 {
		_, _ = s.Login(ctx, adaWrong, cl)
	}
	if _, err := s.Login(ctx, adaRight, cl); !errors.Is(err, authsvc.ErrInvalidCredentials) {
		t.Fatalf("relocked: %v", err)
	}
	time.Sleep(2100 * time.Millisecond)
	if _, err := s.Login(ctx, adaWrong, cl); !errors.Is(err, authsvc.ErrInvalidCredentials) {
		t.Fatal(err)
	}
	if _, err := s.Login(ctx, adaRight, cl); err != nil {
		t.Fatalf("after the ban ended: %v", err)
	}
	if bans, err := s.Bans(ctx); err != nil || len(bans) != 0 {
		t.Fatalf("Bans after expiry = %+v, %v", bans, err)
	}

	// An unknown email is counted and locked the same way: the lockout tells nothing.
	for range 3 {
		_, _ = s.Login(ctx, authsvc.Credentials{Email: "nobody@example.com", Password: "whatever-pw"}, cl)
	}
	if bans, err := s.Bans(ctx); err != nil || len(bans) != 1 || bans[0].Subject != "nobody@example.com" {
		t.Fatalf("unknown email not locked: %+v, %v", bans, err)
	}
}

// TestLoginLockoutConcurrent: during a lockout, 20 concurrent logins with the right
// password all fail; before one, 20 concurrent wrong guesses are charged one by one,
// so the count can never be overrun by parallel guesses.
func TestLoginLockoutConcurrent(t *testing.T) {
	ctx := t.Context()
	s, logs := regulatedCore(t, authsvc.RegulationConfig{Account: authsvc.Lockout{Failures: 3, Window: time.Minute, Ban: time.Minute}})
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() { _, _ = s.Login(ctx, adaWrong, authsvc.Client{IP: "192.0.2.1"}) })
	}
	wg.Wait()
	if n := len(logs.lines("account locked")); n != 1 {
		t.Fatalf("%d lockouts logged, want 1", n)
	}
	var mu sync.Mutex
	var ok []error
	for range 20 {
		wg.Go(func() {
			_, err := s.Login(ctx, adaRight, authsvc.Client{IP: "192.0.2.1"})
			if !errors.Is(err, authsvc.ErrInvalidCredentials) {
				mu.Lock()
				ok = append(ok, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(ok) > 0 {
		t.Fatalf("%d logins during the lockout did not fail as a wrong password: %v", len(ok), ok)
	}
}

// TestLoginLockoutIP: failures from one client IP to many emails lock that IP out (an
// IPv6 one by its /64) for every email, the right password included; other IPs are
// not affected, and the IP's count survives a success.
func TestLoginLockoutIP(t *testing.T) {
	ctx := t.Context()
	s, logs := regulatedCore(t, authsvc.RegulationConfig{IP: authsvc.Lockout{Failures: 4, Window: time.Minute, Ban: time.Minute}})
	for i, ip := range []string{"2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff::3"} {
		_, _ = s.Login(ctx, authsvc.Credentials{Email: "guess" + string(rune('a'+i)) + "@example.com", Password: "guess-password"}, authsvc.Client{IP: ip})
	}
	if _, err := s.Login(ctx, adaRight, authsvc.Client{IP: "2001:db8:1:2::9"}); err != nil {
		t.Fatalf("a success before the limit: %v", err)
	}
	_, _ = s.Login(ctx, adaWrong, authsvc.Client{IP: "2001:db8:1:2::10"})
	if _, err := s.Login(ctx, adaRight, authsvc.Client{IP: "2001:db8:1:2::11"}); !errors.Is(err, authsvc.ErrInvalidCredentials) {
		t.Fatalf("locked-out /64, right password: %v", err)
	}
	if _, err := s.Login(ctx, adaRight, authsvc.Client{IP: "2001:db8:1:3::1"}); err != nil {
		t.Fatalf("another /64: %v", err)
	}
	bans, err := s.Bans(ctx)
	if err != nil || len(bans) != 1 || bans[0].Kind != authsvc.BanIP || bans[0].Subject != "2001:db8:1:2::/64" || bans[0].Failures != 4 {
		t.Fatalf("Bans = %+v, %v", bans, err)
	}
	if l := logs.lines("client ip locked"); len(l) != 1 || l[0]["ip"] != "2001:db8:1:2::/64" {
		t.Fatalf("log lines %v", l)
	}
}

// TestRequestLimits: registrations, forgot-password requests and verification
// attempts per client IP answer ErrRateLimited past their limit; input the core
// refuses is not counted; the per-email forgot-password limit changes nothing in the
// answer.
func TestRequestLimits(t *testing.T) {
	ctx := t.Context()
	lim := authsvc.RateLimit{Requests: 2, Window: time.Hour}
	s, logs := regulatedCore(t, authsvc.RegulationConfig{Register: lim, Forgot: lim, Verify: lim, ForgotEmail: authsvc.RateLimit{Requests: 1, Window: time.Hour}})
	a, b := authsvc.Client{IP: "192.0.2.1"}, authsvc.Client{IP: "192.0.2.2"}
	var ve *authsvc.ValidationError
	for range 3 {
		if _, err := s.Register(ctx, authsvc.NewUser{Name: "X", Email: "bad\u200b@example.com", Password: "x-password"}, a); !errors.As(err, &ve) {
			t.Fatal(err)
		}
	}
	for i, want := range []error{nil, authsvc.ErrEmailTaken, authsvc.ErrRateLimited} {
		if _, err := s.Register(ctx, authsvc.NewUser{Name: "Reg", Email: "reg@example.com", Password: "reg-password"}, a); !errors.Is(err, want) {
			t.Fatalf("register %d: %v, want %v", i+1, err, want)
		}
	}
	if _, err := s.Register(ctx, authsvc.NewUser{Name: "Other", Email: "other@example.com", Password: "reg-password"}, b); err != nil {
		t.Fatalf("another IP: %v", err)
	}

	code := strings.Repeat("ab", 32)
	for range 3 {
		if err := s.VerifyEmail(ctx, "not-a-code", a); !errors.Is(err, authsvc.ErrVerificationFailed) {
			t.Fatal(err)
		}
	}
	for i, want := range []error{authsvc.ErrVerificationFailed, authsvc.ErrVerificationFailed, authsvc.ErrRateLimited} {
		if err := s.VerifyEmail(ctx, code, a); !errors.Is(err, want) {
			t.Fatalf("verify %d: %v, want %v", i+1, err, want)
		}
	}

	for i, want := range []error{nil, nil, authsvc.ErrRateLimited} {
		if err := s.ForgotPassword(ctx, "ada@example.com", a); !errors.Is(err, want) {
			t.Fatalf("forgot %d: %v, want %v", i+1, err, want)
		}
	}
	if err := s.ForgotPassword(ctx, "nobody@example.com", b); err != nil {
		t.Fatalf("past the per-email limit, an unknown email answers: %v", err)
	}
	if err := s.ForgotPassword(ctx, "nobody@example.com", b); err != nil {
		t.Fatalf("past the per-email limit, the answer changed: %v", err)
	}
	if n := len(logs.lines("forgot password: limit for this email reached; nothing sent")); n != 2 {
		t.Fatalf("%d per-email limit lines, want 2 (ada's second request and nobody's)", n)
	}
}

// TestChangePasswordRegulated: a wrong current password at POST /api/auth/password is a
// failed login to the regulation, so a stolen session cannot guess the password without
// limit: after the account's allowance the account is locked (login and password change
// refuse even the right password), and the client IP's failures count too.
func TestChangePasswordRegulated(t *testing.T) {
	ctx := t.Context()
	s, _ := regulatedCore(t, authsvc.RegulationConfig{
		Account: authsvc.Lockout{Failures: 3, Window: time.Minute, Ban: time.Minute},
		IP:      authsvc.Lockout{Failures: 100, Window: time.Minute, Ban: time.Minute},
	})
	g, err := s.Login(ctx, adaRight, authsvc.Client{IP: "192.0.2.1"})
	if err != nil {
		t.Fatal(err)
	}
	rctx := authsvc.WithClient(ctx, authsvc.Client{IP: "198.51.100.4"})
	for range 3 {
		if err := s.ChangePassword(rctx, g.Identity, "wrong-password", "new-password-1"); !errors.Is(err, authsvc.ErrWrongPassword) {
			t.Fatalf("wrong current password: %v", err)
		}
	}
	if err := s.ChangePassword(rctx, g.Identity, "ada-password", "new-password-1"); !errors.Is(err, authsvc.ErrWrongPassword) {
		t.Fatalf("the right current password during the lockout: %v", err)
	}
	if _, err := s.Login(ctx, adaRight, authsvc.Client{IP: "192.0.2.9"}); !errors.Is(err, authsvc.ErrInvalidCredentials) {
		t.Fatalf("login during the lockout the password change caused: %v", err)
	}
	bans, err := s.Bans(ctx)
	if err != nil || len(bans) != 1 || bans[0].Kind != authsvc.BanAccount {
		t.Fatalf("Bans = %+v, %v", bans, err)
	}
	if err := s.LiftBan(ctx, bans[0].ID); err != nil {
		t.Fatal(err)
	}
	if err := s.ChangePassword(rctx, g.Identity, "ada-password", "new-password-1"); err != nil {
		t.Fatalf("the right current password once the ban is lifted: %v", err)
	}
}
