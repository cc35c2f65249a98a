package authsvc

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/authgate/authgate/authsvc/internal/audit"
	"github.com/authgate/authgate/authsvc/internal/users"
)

// Email verification and password reset (SECURITY.md E1–E4). Both work with single-use
// codes: 32 random bytes, hex in the link, stored on the user document only as their
// sha256 with an expiry, and consumed by one conditional update, so a code works once
// and never after it expires.

// ResetTokenTTL is how long a password-reset link works (the seed's "valid for only 10
// minutes").
const ResetTokenTTL = 10 * time.Minute

// The forgot-password queue: the lookup and the mail happen in the background, so the
// answer takes the same time for every email and never waits for MongoDB or the mail
// server. A full queue drops the request (logged): the answer stays the same.
// A job waits forgotDelay after it was queued, so that none of its work (the lookup,
// and for a verified account the token update and the mail) overlaps the answer to its
// request and slows it.
const (
	forgotQueueSize = 256
	forgotWorkers   = 2
	forgotDelay     = 50 * time.Millisecond
)

// Message is one mail, ready to send.
type Message struct {
	To, Subject string
	Text, HTML  string // the plain-text and HTML bodies
}

// Mailer delivers mail: the gateway's SMTP client, or its log-only stand-in.
type Mailer interface {
	// Send hands m to the mail server, giving up when ctx ends.
	Send(ctx context.Context, m Message) error
}

// LetterKind names a mail the core sends.
type LetterKind string

// The mails the core sends.
const (
	LetterVerifyEmail   LetterKind = "verify_email"
	LetterResetPassword LetterKind = "reset_password"
)

// Letter is a mail before it is written: what it is, to whom, and the link it carries.
type Letter struct {
	Kind     LetterKind
	To, Name string
	URL      string        // the link to follow
	ValidFor time.Duration // how long the link works
}

// Letters writes letters into messages (the gateway's embedded templates).
type Letters interface {
	Write(l Letter) (Message, error)
}

// EmailConfig configures verification and reset mail. With a nil Mailer no mail is
// sent (ForgotPassword still answers as always) and verification cannot be required.
type EmailConfig struct {
	Mailer  Mailer
	Letters Letters // required with Mailer
	// PublicURL is the base of every link ("https://app.example.com"): the seed client
	// serves /verifyemail/<code> and /resetpassword/<token> and calls the API from there.
	PublicURL string
	// VerificationRequired: new accounts must verify their email before they can log
	// in, and registration sends the verification mail.
	VerificationRequired bool
	VerificationTTL      time.Duration // how long a verification link works; required with Mailer
	SendTimeout          time.Duration // per mail; required with Mailer
}

func (c *EmailConfig) check() []error {
	if c.Mailer == nil {
		if c.VerificationRequired {
			return []error{errors.New("authsvc: Email.VerificationRequired needs Email.Mailer")}
		}
		return nil
	}
	var errs []error
	if c.Letters == nil {
		errs = append(errs, errors.New("authsvc: Email.Letters is required with Email.Mailer"))
	}
	if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, errors.New("authsvc: Email.PublicURL must be an absolute http(s) URL"))
	}
	if c.VerificationTTL <= 0 || c.SendTimeout <= 0 {
		errs = append(errs, errors.New("authsvc: Email.VerificationTTL and Email.SendTimeout must be > 0"))
	}
	return errs
}

// forgotJob is one forgot-password request waiting for the background workers; the
// token was made while the request was answered.
type forgotJob struct {
	email, token string
	queued       time.Time // real time, not the injected clock: the delay is a real wait
}

// VerifyEmail consumes a verification code: the account it was sent for counts as
// verified from now on. Errors: ErrVerificationFailed (unknown, expired or already
// used), ErrRateLimited (too many attempts from cl.IP: RegulationConfig.Verify; a
// malformed code is not counted), ErrUnavailable.
func (s *Service) VerifyEmail(ctx context.Context, code string, cl Client) error {
	if !wellFormedCode(code) {
		return ErrVerificationFailed
	}
	if err := s.limit(ctx, "verify", clientKey(cl.IP), s.cfg.Regulation.Verify); err != nil {
		return err
	}
	err := s.users.ConsumeVerification(ctx, hashCode(code), s.cfg.Clock())
	switch {
	case errors.Is(err, users.ErrNotFound):
		return ErrVerificationFailed
	case err != nil:
		return userError(err, nil)
	}
	s.log.InfoContext(ctx, "email verified")
	return nil
}

// ForgotPassword starts a password reset for email and returns at once, whatever the
// email: a verified account gets a mail with a link that works for ResetTokenTTL; an
// unknown or unverified email gets nothing. The token is made here for every email and
// the lookup and the mail happen in the background, so neither the answer nor its time
// tells whether the account exists (SECURITY.md E2); a full queue drops the request
// (logged) without changing the answer.
//
// Requests are limited per client IP (RegulationConfig.Forgot: ErrRateLimited, which
// depends on the IP only and so tells nothing about the email) and per email
// (RegulationConfig.ForgotEmail, counted for every email, known or not): past that one
// the answer stays the same and nothing is sent, so neither a mailbox can be flooded
// nor the limit tell whether the account exists. Errors: *ValidationError (email
// missing or not an email), ErrRateLimited, ErrUnavailable.
func (s *Service) ForgotPassword(ctx context.Context, email string, cl Client) error {
	if is, ok := emailIssue(email); !ok {
		return &ValidationError{Issues: []Issue{is}}
	}
	email = NormalizeEmail(email)
	if err := s.limit(ctx, "forgot", clientKey(cl.IP), s.cfg.Regulation.Forgot); err != nil {
		return err
	}
	token, _, err := newCode()
	if err != nil {
		return err
	}
	switch err := s.limit(ctx, "forgot-email", email, s.cfg.Regulation.ForgotEmail); {
	case errors.Is(err, ErrRateLimited):
		s.log.WarnContext(ctx, "forgot password: limit for this email reached; nothing sent",
			"email_hash", banID(BanAccount, email)[len(BanAccount)+1:])
		return nil
	case err != nil:
		return err
	}
	if s.cfg.Email.Mailer == nil {
		s.log.WarnContext(ctx, "forgot password: no mailer configured; nothing sent")
		return nil
	}
	select {
	case s.forgot <- forgotJob{email: email, token: token, queued: time.Now()}:
	default:
		s.log.WarnContext(ctx, "forgot password: queue full; request dropped", "queue", forgotQueueSize)
	}
	return nil
}

// ResetPassword sets a new password with a reset token: the token is claimed in Redis
// (so that of concurrent uses exactly one proceeds, on any MongoDB backend) and consumed
// by the conditional update, the email counts as verified (the link proved the
// mailbox), and every session of the user is revoked, before and after the change, so
// no session opened with the old password survives (SECURITY.md E3). Errors: *ValidationError (the password breaks the
// rules), ErrResetTokenInvalid (unknown, expired or already used), ErrUnavailable
// (Redis or MongoDB; when it comes after the change, the password is changed but some
// sessions may remain, which is logged).
func (s *Service) ResetPassword(ctx context.Context, token, newPassword string) error {
	if issues := s.ValidatePassword(newPassword); len(issues) > 0 {
		return &ValidationError{Issues: issues}
	}
	if !wellFormedCode(token) {
		return ErrResetTokenInvalid
	}
	hash := hashCode(token)
	now := s.cfg.Clock()
	u, err := s.users.ByResetToken(ctx, hash, now)
	switch {
	case errors.Is(err, users.ErrNotFound):
		return ErrResetTokenInvalid
	case err != nil:
		return userError(err, nil)
	}
	uid, claim := u.ID.Hex(), "reset."+hash
	switch ok, err := s.sessions.Claim(ctx, uid, claim, max(u.PasswordResetAt.Sub(now), time.Millisecond)); {
	case err != nil:
		return s.sessionError(err)
	case !ok:
		return ErrResetTokenInvalid // a concurrent request has it
	}
	// Until the password changes, a failure gives the token back so that it can be retried.
	release := func(cause error) error {
		if err := s.sessions.Release(context.WithoutCancel(ctx), uid, claim); err != nil {
			s.log.WarnContext(ctx, "reset token claim not released", "user_id", uid, "error", err)
		}
		return cause
	}
	if _, err := s.sessions.DeleteAll(ctx, uid); err != nil {
		return release(s.sessionError(err))
	}
	pwHash, err := s.hasher.Hash(ctx, newPassword)
	if err != nil {
		return release(hashError(err))
	}
	err = s.users.ResetPassword(ctx, u.ID, hash, s.cfg.Clock(), pwHash)
	switch {
	case errors.Is(err, users.ErrNotFound):
		return ErrResetTokenInvalid // used meanwhile, replaced by a newer one, or expired
	case err != nil:
		return release(userError(err, nil))
	}
	n, err := s.sessions.DeleteAll(ctx, uid)
	if err != nil {
		s.log.ErrorContext(ctx, "password reset, but sessions opened meanwhile could not be revoked",
			"user_id", uid, "error", err)
		return s.sessionError(err)
	}
	s.log.InfoContext(ctx, "password reset; all sessions revoked", "user_id", uid, "sessions", n)
	s.audit.Record(ctx, audit.Event{Type: audit.PasswordReset, UserID: uid, Details: map[string]any{"sessions_revoked": n}})
	return nil
}

// ValidatePassword returns the problems of a new password (the rules of Validate).
func (s *Service) ValidatePassword(pw string) []Issue { return s.rules.checkPassword(pw) }

// runForgot serves the forgot-password queue until ctx ends.
func (s *Service) runForgot(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case job := <-s.forgot:
			if wait := time.Until(job.queued.Add(forgotDelay)); wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-ctx.Done():
					t.Stop()
					return
				case <-t.C:
				}
			}
			s.sendReset(ctx, job)
		}
	}
}

// sendReset looks the email up and, for a verified account, records the token and
// mails the link; everything else only logs. It bounds its work by the send timeout
// plus the MongoDB timeouts it may wait for.
func (s *Service) sendReset(ctx context.Context, job forgotJob) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Email.SendTimeout+3*s.cfg.MongoTimeout)
	defer cancel()
	u, err := s.users.ByEmail(ctx, job.email)
	switch {
	case errors.Is(err, users.ErrNotFound):
		s.log.InfoContext(ctx, "forgot password: no account; nothing sent")
		return
	case err != nil:
		s.log.WarnContext(ctx, "forgot password: user lookup failed; nothing sent", "error", err)
		return
	case !u.Verified:
		s.log.InfoContext(ctx, "forgot password: email not verified; nothing sent", "user_id", u.ID.Hex())
		return
	}
	hash := hashCode(job.token)
	if err := s.users.SetResetToken(ctx, u.ID, hash, s.cfg.Clock().Add(ResetTokenTTL)); err != nil {
		s.log.WarnContext(ctx, "forgot password: token not saved; nothing sent", "user_id", u.ID.Hex(), "error", err)
		return
	}
	if err := s.mail(ctx, Letter{Kind: LetterResetPassword, To: u.Email, Name: u.Name,
		URL: s.link("resetpassword", job.token), ValidFor: ResetTokenTTL}); err != nil {
		s.log.WarnContext(ctx, "forgot password: mail not sent", "user_id", u.ID.Hex(), "error", err)
		if err := s.users.ClearResetToken(context.WithoutCancel(ctx), u.ID, hash); err != nil {
			s.log.WarnContext(ctx, "forgot password: unsent token not cleared", "user_id", u.ID.Hex(), "error", err)
		}
		return
	}
	s.log.InfoContext(ctx, "password reset mail sent", "user_id", u.ID.Hex())
}

// mail writes l and sends it within the send timeout. Errors: the letters' or the
// mailer's, wrapped.
func (s *Service) mail(ctx context.Context, l Letter) error {
	m, err := s.cfg.Email.Letters.Write(l)
	if err != nil {
		return fmt.Errorf("write %s mail: %w", l.Kind, err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Email.SendTimeout)
	defer cancel()
	if err := s.cfg.Email.Mailer.Send(ctx, m); err != nil {
		return fmt.Errorf("send %s mail: %w", l.Kind, err)
	}
	return nil
}

// link is the public URL of a code: <public_url>/<page>/<code>.
func (s *Service) link(page, code string) string {
	return strings.TrimRight(s.cfg.Email.PublicURL, "/") + "/" + page + "/" + code
}

// codeBytes is the entropy of a verification code or reset token.
const codeBytes = 32

// newCode returns a new code (hex, as it goes into a link) and the hash to store.
func newCode() (code, hash string, err error) {
	b := make([]byte, codeBytes)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("authsvc: random code: %w", err)
	}
	code = hex.EncodeToString(b)
	return code, hashCode(code), nil
}

// hashCode is what is stored for a code: the hex sha256 of its hex text (as the seed
// stored its codes).
func hashCode(code string) string {
	sum := sha256.Sum256([]byte(code))
	return hex.EncodeToString(sum[:])
}

// wellFormedCode reports whether code looks like one newCode makes (lower-case hex of
// codeBytes bytes); anything else is refused before any lookup.
func wellFormedCode(code string) bool {
	if len(code) != 2*codeBytes {
		return false
	}
	for i := range len(code) {
		if c := code[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
