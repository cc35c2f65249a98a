package authsvc

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/authgate/authgate/authsvc/internal/audit"
	"github.com/authgate/authgate/authsvc/internal/regulation"
)

// ErrRateLimited: too many registrations, password-reset requests or verification
// attempts from this client; the caller should wait. Login never answers it: a
// locked-out login is ErrInvalidCredentials (SECURITY.md P4).
var ErrRateLimited = errors.New("too many requests")

// Kinds of Ban.
const (
	BanAccount = "account" // an email (normalised), known or not
	BanIP      = "ip"      // a client address (an IPv6 one by its /64)
)

// Lockout is one failure limit: Failures failed logins within Window ban the subject
// for Ban. Failures 0 turns it off.
type Lockout struct {
	Failures int
	Window   time.Duration
	Ban      time.Duration
}

// RateLimit allows Requests per Window from one subject; Requests 0 turns it off.
type RateLimit struct {
	Requests int
	Window   time.Duration
}

// RegulationConfig is brute-force regulation (SECURITY.md P4). The zero value
// regulates nothing; the gateway's configuration has the defaults.
type RegulationConfig struct {
	Account Lockout // failed logins per email
	IP      Lockout // failed logins per client IP
	// Register, Forgot and Verify limit registrations, forgot-password requests and
	// verification attempts per client IP; ForgotEmail limits forgot-password
	// requests per email, silently (see ForgotPassword).
	Register, Forgot, ForgotEmail, Verify RateLimit
}

func (c RegulationConfig) check() []error {
	var errs []error
	for name, l := range map[string]Lockout{"Account": c.Account, "IP": c.IP} {
		if l.Failures < 0 || (l.Failures > 0 && (l.Window <= 0 || l.Ban <= 0)) {
			errs = append(errs, fmt.Errorf("authsvc: Regulation.%s needs Failures >= 0, and Window and Ban > 0 when Failures > 0", name))
		}
	}
	for name, l := range map[string]RateLimit{"Register": c.Register, "Forgot": c.Forgot, "ForgotEmail": c.ForgotEmail, "Verify": c.Verify} {
		if l.Requests < 0 || (l.Requests > 0 && l.Window <= 0) {
			errs = append(errs, fmt.Errorf("authsvc: Regulation.%s needs Requests >= 0, and Window > 0 when Requests > 0", name))
		}
	}
	return errs
}

// Ban is a lockout in force.
type Ban struct {
	ID       string    // stable while the ban lasts; what LiftBan takes
	Kind     string    // BanAccount or BanIP
	Subject  string    // the normalised email or the client IP (IPv6: its /64)
	Until    time.Time // when it ends by itself
	Failures int       // failed logins that led to it
}

// Bans returns the lockouts in force, soonest to end first. Errors: ErrUnavailable.
func (s *Service) Bans(ctx context.Context) ([]Ban, error) {
	list, err := s.reg.Bans(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	out := make([]Ban, len(list))
	for i, b := range list {
		out[i] = Ban(b)
	}
	return out, nil
}

// LiftBan ends the lockout id at once and forgets its failures, so the next login
// starts with a clean count. Errors: ErrNotFound (no lockout in force with that id),
// ErrUnavailable.
func (s *Service) LiftBan(ctx context.Context, id string) error {
	b, err := s.reg.Lift(ctx, id)
	switch {
	case errors.Is(err, regulation.ErrNotFound):
		return ErrNotFound
	case err != nil:
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if err := s.reg.Reset(ctx, failuresKey(id)); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	s.log.InfoContext(ctx, "lockout lifted", "ban_id", b.ID, "kind", b.Kind)
	s.audit.Record(ctx, audit.Event{Type: audit.BanLifted, Details: map[string]any{"ban_id": b.ID, "kind": b.Kind}})
	return nil
}

// subject is what one lockout counts: its ban id and what the ban names.
type subject struct {
	id, kind, name string
	lock           Lockout
}

func banID(kind, name string) string {
	h := sha256.Sum256([]byte(kind + "\x00" + name))
	return kind + "-" + hex.EncodeToString(h[:16])
}

// failuresKey is the failure counter of the ban id.
func failuresKey(id string) string { return "login:" + id }

// loginSubjects are the lockouts a login from ip for email counts against.
func (s *Service) loginSubjects(email, ip string) []subject {
	var out []subject
	if s.cfg.Regulation.Account.Failures > 0 && email != "" {
		out = append(out, subject{banID(BanAccount, email), BanAccount, email, s.cfg.Regulation.Account})
	}
	if ipKey := clientKey(ip); s.cfg.Regulation.IP.Failures > 0 && ipKey != "" {
		out = append(out, subject{banID(BanIP, ipKey), BanIP, ipKey, s.cfg.Regulation.IP})
	}
	return out
}

// clientKey is what an IP is counted as: an IPv4 address itself, an IPv6 one by its
// /64 (one host's usual share, which it can rotate through freely).
func clientKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap()
	if a.Is4() {
		return a.String()
	}
	return netip.PrefixFrom(a.WithZone(""), 64).Masked().String()
}

// loginGate is what admitLogin found out before the password is checked.
type loginGate struct {
	subjects []subject
	banned   map[string]bool // ids of the subjects with a ban in force
	locked   bool            // a subject is banned, or the account's count ran out before this attempt
	lastTry  bool            // this attempt used the account's last allowed failure
}

// admitLogin runs before the password is checked: it reads the bans of the account
// and the IP and, unless one is in force, charges the attempt to the account's
// counter, so that concurrent guesses can never exceed its limit (a success gives the
// charge back by resetting the count). Errors: ErrUnavailable.
func (s *Service) admitLogin(ctx context.Context, email, ip string) (loginGate, error) {
	g := loginGate{subjects: s.loginSubjects(email, ip)}
	if len(g.subjects) == 0 {
		return g, nil
	}
	ids := make([]string, len(g.subjects))
	for i, sub := range g.subjects {
		ids[i] = sub.id
	}
	bans, err := s.reg.Banned(ctx, ids...)
	if err != nil {
		return g, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	g.locked = len(bans) > 0
	g.banned = make(map[string]bool, len(bans))
	for _, b := range bans {
		g.banned[b.ID] = true
	}
	// A locked-out attempt is not charged (but makes the same call, so it takes as
	// long): the count starts afresh with the ban, so that whoever kept trying during
	// it has the full allowance once it ends.
	if sub := g.subjects[0]; sub.kind == BanAccount {
		hit := s.reg.Hit
		if g.locked {
			hit = s.reg.Peek
		}
		res, err := hit(ctx, failuresKey(sub.id), regulation.Limit{Events: sub.lock.Failures, Window: sub.lock.Window})
		if err != nil {
			return g, fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		if g.locked {
			return g, nil
		}
		if !res.Allowed {
			g.locked = true
			s.lockOut(ctx, sub)
		}
		g.lastTry = res.Allowed && res.Remaining == 0
	}
	return g, nil
}

// countLoginFailure counts a failed login against the IP (also one refused because the
// account is locked out, unless the IP itself is) and bans the account when this was
// its last allowed failure.
func (s *Service) countLoginFailure(ctx context.Context, g loginGate) {
	for _, sub := range g.subjects {
		switch sub.kind {
		case BanAccount:
			if g.lastTry && !g.locked {
				s.lockOut(ctx, sub)
			}
		case BanIP:
			hit := s.reg.Hit
			if g.banned[sub.id] {
				hit = s.reg.Peek // the same call, not counted
			}
			res, err := hit(ctx, failuresKey(sub.id), regulation.Limit{Events: sub.lock.Failures, Window: sub.lock.Window})
			if err != nil {
				s.log.WarnContext(ctx, "login failure not counted", "kind", sub.kind, "error", err)
				continue
			}
			if !g.banned[sub.id] && (!res.Allowed || res.Remaining == 0) {
				s.lockOut(ctx, sub)
			}
		}
	}
}

// loginSucceeded resets the account's failure count (the IP's is kept: one's own
// account must not let anyone reset the count of the guesses at others').
func (s *Service) loginSucceeded(ctx context.Context, g loginGate) {
	for _, sub := range g.subjects {
		if sub.kind != BanAccount {
			continue
		}
		if err := s.reg.Reset(ctx, failuresKey(sub.id)); err != nil {
			s.log.WarnContext(ctx, "failure count not reset after a login", "error", err)
		}
	}
}

// lockOut bans sub for its ban duration unless it is banned already, and starts its
// failure count afresh, so that after the ban it has its full allowance again.
func (s *Service) lockOut(ctx context.Context, sub subject) {
	ctx = context.WithoutCancel(ctx)
	b, created, err := s.reg.Ban(ctx, regulation.Ban{ID: sub.id, Kind: sub.kind, Subject: sub.name, Failures: sub.lock.Failures}, sub.lock.Ban)
	if err != nil {
		s.log.ErrorContext(ctx, "lockout not recorded", "kind", sub.kind, "error", err)
		return
	}
	if !created {
		return
	}
	if err := s.reg.Reset(ctx, failuresKey(sub.id)); err != nil {
		s.log.WarnContext(ctx, "failure count not reset after a lockout", "error", err)
	}
	details := map[string]any{"ban_id": b.ID, "kind": sub.kind, "failures": b.Failures, "until": b.Until.UTC()}
	ev := audit.Event{Type: audit.LoginLockout, Details: details}
	if sub.kind == BanAccount {
		details["email"] = truncate(sub.name, 254)
	} else {
		ev.IP = truncate(sub.name, 64)
	}
	s.audit.Record(ctx, ev)
	if sub.kind == BanAccount {
		s.log.WarnContext(ctx, "account locked", "ban_id", b.ID, "email_hash", b.ID[len(BanAccount)+1:],
			"failures", b.Failures, "until", b.Until.UTC())
		return
	}
	s.log.WarnContext(ctx, "client ip locked", "ban_id", b.ID, "ip", b.Subject, "failures", b.Failures, "until", b.Until.UTC())
}

// limit charges one request of ip (or another subject) to the rate limit l under
// name. Errors: ErrRateLimited, ErrUnavailable.
func (s *Service) limit(ctx context.Context, name, subjectName string, l RateLimit) error {
	if l.Requests <= 0 || subjectName == "" {
		return nil
	}
	res, err := s.reg.Hit(ctx, name+":"+banID(name, subjectName), regulation.Limit{Events: l.Requests, Window: l.Window})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if !res.Allowed {
		s.log.InfoContext(ctx, "rate limited", "limit", name, "retry_after_ms", res.RetryAfter.Milliseconds())
		return ErrRateLimited
	}
	return nil
}
