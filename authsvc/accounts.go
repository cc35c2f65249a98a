package authsvc

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/authgate/authgate/authsvc/internal/audit"
	"github.com/authgate/authgate/authsvc/internal/password"
	"github.com/authgate/authgate/authsvc/internal/sessions"
	"github.com/authgate/authgate/authsvc/internal/users"
)

// Role names the core knows; any other role is the operator's own.
const (
	RoleUser  = "user"
	RoleAdmin = "admin"
)

// Register creates an account with role "user" (or u.Role) and returns it. When
// verification is required (EmailConfig.VerificationRequired) the account starts
// unverified (User.Verified false) and the verification mail is sent before Register
// returns; if it cannot be sent the account is removed again, so that registering
// again works. Each valid registration is counted against cl.IP's registration limit
// (RegulationConfig.Register). Errors: *ValidationError (see Validate), ErrRateLimited,
// ErrEmailTaken, ErrMailFailed, ErrUnavailable.
func (s *Service) Register(ctx context.Context, u NewUser, cl Client) (User, error) {
	if issues := s.Validate(u); len(issues) > 0 {
		return User{}, &ValidationError{Issues: issues}
	}
	if err := s.limit(ctx, "register", clientKey(cl.IP), s.cfg.Regulation.Register); err != nil {
		return User{}, err
	}
	return s.register(ctx, u, s.cfg.Email.VerificationRequired)
}

// register is Register, with the verification mail when verify is set.
func (s *Service) register(ctx context.Context, u NewUser, verify bool) (User, error) {
	if issues := s.Validate(u); len(issues) > 0 {
		return User{}, &ValidationError{Issues: issues}
	}
	hash, err := s.hasher.Hash(ctx, u.Password)
	if err != nil {
		return User{}, hashError(err)
	}
	role := u.Role
	if role == "" {
		role = RoleUser
	}
	doc := users.User{
		Name: strings.TrimSpace(u.Name), Email: NormalizeEmail(u.Email), Password: hash, Role: role,
		Photo: "default.png", Verified: true, Provider: "local",
	}
	code := ""
	if verify {
		var codeHash string
		if code, codeHash, err = newCode(); err != nil {
			return User{}, err
		}
		doc.Verified, doc.VerificationCode = false, codeHash
		doc.VerificationExpiresAt = s.cfg.Clock().Add(s.cfg.Email.VerificationTTL).UTC().Truncate(time.Millisecond)
	}
	if err := s.users.Create(ctx, &doc); err != nil {
		return User{}, userError(err, ErrEmailTaken)
	}
	s.log.InfoContext(ctx, "user registered", "user_id", doc.ID.Hex(), "verified", doc.Verified)
	if verify {
		if err := s.sendVerification(ctx, doc, code); err != nil {
			return User{}, err
		}
	}
	return publicUser(doc), nil
}

// sendVerification mails the verification link of a just-created account; if that
// fails the account is removed. Errors: ErrMailFailed (wrapping the cause).
func (s *Service) sendVerification(ctx context.Context, doc users.User, code string) error {
	err := s.mail(ctx, Letter{Kind: LetterVerifyEmail, To: doc.Email, Name: doc.Name,
		URL: s.link("verifyemail", code), ValidFor: s.cfg.Email.VerificationTTL})
	if err == nil {
		s.log.InfoContext(ctx, "verification mail sent", "user_id", doc.ID.Hex())
		return nil
	}
	uid := doc.ID.Hex()
	if derr := s.users.DeleteUnverified(context.WithoutCancel(ctx), doc.ID); derr != nil && !errors.Is(derr, users.ErrNotFound) {
		s.log.ErrorContext(ctx, "verification mail not sent and the account not removed", "user_id", uid, "error", derr)
	} else {
		s.log.WarnContext(ctx, "verification mail not sent; account removed", "user_id", uid, "error", err)
	}
	return fmt.Errorf("%w: %w", ErrMailFailed, err)
}

// EnsureAdmin creates u as an admin unless an account with its email exists, and returns
// the new user's id ("" when none was created). Errors: *ValidationError, ErrUnavailable.
func (s *Service) EnsureAdmin(ctx context.Context, u NewUser) (string, error) {
	u.Role = RoleAdmin
	if issues := s.Validate(u); len(issues) > 0 {
		return "", &ValidationError{Issues: issues}
	}
	if _, err := s.users.ByEmail(ctx, u.Email); err == nil {
		return "", nil
	} else if !errors.Is(err, users.ErrNotFound) {
		return "", userError(err, nil)
	}
	created, err := s.register(ctx, u, false) // the operator's own account: verified
	if errors.Is(err, ErrEmailTaken) {
		return "", nil // created concurrently by another replica
	}
	if err != nil {
		return "", err
	}
	return created.ID, nil
}

// Login checks the credentials and opens a new session (a new id every time: no
// fixation, SECURITY.md P5). Unknown email, wrong password and an unreadable hash all
// answer ErrInvalidCredentials after the same hashing work, padded to the failed-login
// floor while seed hashes remain. So does a locked-out email or client IP
// (RegulationConfig; SECURITY.md P4), whatever the password: the password is still
// checked, so a lockout takes as long as a wrong password. When verification is
// required, an unverified account with the right password gets ErrNotVerified.
// Errors: ErrInvalidCredentials, ErrNotVerified, ErrUnavailable.
func (s *Service) Login(ctx context.Context, cr Credentials, cl Client) (Grant, error) {
	start := time.Now()
	email, err := CanonicalEmail(cr.Email)
	if err != nil {
		email = "" // matches no account; the password is still checked (against a dummy)
	}
	gate, err := s.admitLogin(ctx, email, cl.IP)
	if err != nil {
		return Grant{}, err
	}
	u, err := s.verifyPassword(ctx, email, cr.Password, !gate.locked)
	if gate.locked && (err == nil || errors.Is(err, ErrInvalidCredentials)) {
		err = ErrInvalidCredentials
	}
	if errors.Is(err, ErrInvalidCredentials) {
		s.countLoginFailure(ctx, gate) // regulation.go
		s.padFailure(ctx, start)
	}
	if err != nil {
		if errors.Is(err, ErrInvalidCredentials) {
			logged := email
			if logged == "" {
				logged = NormalizeEmail(cr.Email)
			}
			reason := "invalid_credentials"
			switch {
			case gate.locked:
				reason = "locked_out"
			case u.Disabled:
				reason = "disabled"
			}
			uid := ""
			if !u.ID.IsZero() {
				uid = u.ID.Hex()
			}
			s.auditLoginFailure(ctx, logged, cl, uid, reason) // audit.go
		}
		return Grant{}, err
	}
	s.loginSucceeded(ctx, gate)
	if s.cfg.Email.VerificationRequired && !u.Verified {
		s.auditLoginFailure(ctx, u.Email, cl, u.ID.Hex(), "not_verified") // audit.go
		return Grant{}, ErrNotVerified
	}
	sid, err := s.access.NewID()
	if err != nil {
		return Grant{}, err
	}
	rjti, err := s.refresh.NewID()
	if err != nil {
		return Grant{}, err
	}
	sess, evicted, err := s.sessions.Create(ctx, sessions.Session{
		ID: sid, UserID: u.ID.Hex(), Role: u.Role, RefreshJTI: rjti,
		IP: truncate(cl.IP, 64), UserAgent: truncate(cl.UserAgent, 256),
		Email: u.Email, Name: truncate(u.Name, 256),
	})
	if err != nil {
		return Grant{}, s.sessionError(err)
	}
	if err := s.confirmLogin(ctx, sess); err != nil { // admin.go
		return Grant{}, err
	}
	for _, old := range evicted {
		s.log.InfoContext(ctx, "session evicted: too many sessions", "user_id", sess.UserID, "session_id", old)
		s.audit.Record(ctx, audit.Event{Type: audit.SessionEvicted, UserID: sess.UserID, SessionID: old})
	}
	g := Grant{Identity: identityOf(sess)}
	if g.AccessToken, g.AccessExpires, err = s.issueAccess(sess.UserID, sess.ID); err != nil {
		return Grant{}, err
	}
	if g.RefreshToken, g.RefreshExpires, err = s.refresh.Issue(sess.UserID, sess.ID, rjti); err != nil {
		return Grant{}, err
	}
	s.log.InfoContext(ctx, "login", "user_id", sess.UserID, "session_id", sess.ID)
	return g, nil
}

// padFailure waits until the failed-login floor has passed since start (while seed
// bcrypt hashes remain, a failure is padded to the time of a bcrypt check, so its
// duration does not tell which kind of hash was tried; SECURITY.md P3), or ctx ends.
func (s *Service) padFailure(ctx context.Context, start time.Time) {
	if s.failFloor <= 0 {
		return
	}
	wait := time.NewTimer(s.failFloor - time.Since(start))
	defer wait.Stop()
	select {
	case <-wait.C:
	case <-ctx.Done():
	}
}

// verifyPassword finds the user and verifies the password, upgrading old hashes when
// upgrade is set. With ErrInvalidCredentials for an existing account it returns the
// account's id (and Disabled) for the audit log, nothing else. Errors:
// ErrInvalidCredentials, ErrUnavailable.
func (s *Service) verifyPassword(ctx context.Context, email, pw string, upgrade bool) (users.User, error) {
	if !validEmail(email) {
		email = "" // never matches: the dummy verify below evens out the time
	}
	u, err := s.users.ByEmail(ctx, email)
	if email == "" || errors.Is(err, users.ErrNotFound) {
		if err := s.hasher.VerifyDummy(ctx, pw); err != nil && !errors.Is(err, password.ErrTooLong) {
			return users.User{}, hashError(err)
		}
		return users.User{}, ErrInvalidCredentials
	}
	if err != nil {
		return users.User{}, userError(err, nil)
	}
	ok, rehash, err := s.hasher.Verify(ctx, u.Password, pw)
	switch {
	case errors.Is(err, password.ErrBusy):
		return users.User{}, hashError(err)
	case err != nil || !ok:
		if errors.Is(err, password.ErrMalformedHash) {
			s.log.WarnContext(ctx, "stored password hash unreadable", "user_id", u.ID.Hex())
		}
		return users.User{ID: u.ID}, ErrInvalidCredentials // the id for the audit log only
	}
	if u.Disabled { // after the same work as a wrong password: one answer (SECURITY.md P3)
		return users.User{ID: u.ID, Disabled: true}, ErrInvalidCredentials
	}
	if rehash && upgrade {
		if h, err := s.hasher.Hash(ctx, pw); err == nil {
			if err := s.users.SetPasswordHash(ctx, u.ID, h); err != nil {
				s.log.WarnContext(ctx, "password rehash not saved", "user_id", u.ID.Hex(), "error", err)
			}
		}
	}
	return u, nil
}

// User returns the account with id. Errors: ErrNotFound, ErrUnavailable.
func (s *Service) User(ctx context.Context, id string) (User, error) {
	u, err := s.users.ByID(ctx, id)
	if err != nil {
		return User{}, userError(err, nil)
	}
	return publicUser(u), nil
}

// Me authenticates accessToken and returns its user. A user deleted from MongoDB has
// their sessions revoked. Errors: those of Authenticate (ErrNotLoggedIn for ""), and
// ErrSessionExpired for a deleted user.
func (s *Service) Me(ctx context.Context, accessToken string) (User, error) {
	if accessToken == "" {
		return User{}, ErrNotLoggedIn
	}
	id, err := s.Authenticate(ctx, accessToken)
	if err != nil {
		return User{}, err
	}
	u, err := s.User(ctx, id.UserID)
	if errors.Is(err, ErrNotFound) {
		s.revokeUser(ctx, id.UserID, "user_deleted")
		return User{}, ErrSessionExpired
	}
	return u, err
}

// userError maps a users store error; dup is what ErrDuplicateEmail becomes.
func userError(err, dup error) error {
	switch {
	case dup != nil && errors.Is(err, users.ErrDuplicateEmail):
		return dup
	case errors.Is(err, users.ErrNotFound):
		return ErrNotFound
	case errors.Is(err, users.ErrUnavailable):
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	default:
		return err
	}
}

// hashError maps a hasher error: a full hashing pool is a retryable 503.
func hashError(err error) error {
	if errors.Is(err, password.ErrBusy) {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if errors.Is(err, password.ErrTooLong) {
		return ErrInvalidCredentials
	}
	return err
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func publicUser(u users.User) User {
	return User{
		ID: u.ID.Hex(), Name: u.Name, Email: u.Email, Role: u.Role, Photo: u.Photo, Provider: u.Provider,
		Verified: u.Verified, Disabled: u.Disabled, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt,
	}
}

func identityOf(s sessions.Session) Identity {
	return Identity{UserID: s.UserID, Role: s.Role, SessionID: s.ID, Email: s.Email, Name: s.Name}
}
