package authsvc

import (
	"context"
	"errors"
	"time"

	"github.com/authgate/authgate/authsvc/internal/audit"
	"github.com/authgate/authgate/authsvc/internal/password"
	"github.com/authgate/authgate/authsvc/internal/users"
)

// A signed-in user's own account: their sessions (Sessions, RevokeSession), logging out
// everywhere and changing the password. Callers authenticate the request first
// (Authenticate) and pass its Identity; every revocation reaches every replica at once
// and closes the revoked sessions' long-lived connections (OnRevoke).

// LogoutAll ends every session of id's user, the current one included, and returns how
// many there were. Errors: ErrUnavailable.
func (s *Service) LogoutAll(ctx context.Context, id Identity) (int, error) {
	n, err := s.sessions.DeleteAll(ctx, id.UserID)
	if err != nil {
		return 0, s.sessionError(err)
	}
	s.log.InfoContext(ctx, "logged out everywhere", "user_id", id.UserID, "sessions", n)
	s.audit.Record(ctx, audit.Event{Type: audit.SessionsRevoked, ActorID: id.UserID, UserID: id.UserID, SessionID: id.SessionID,
		Details: map[string]any{"sessions": n, "reason": "logout_all"}})
	return n, nil
}

// ChangePassword sets a new password for id's user once current is proved to be the
// account's (checked like a login's password, padded to the same failed-login floor),
// and revokes every other session of the user, before and after the change, so that no
// session opened with the old password survives; id's own session stays. The new
// password is validated first, before anything else is done.
// Errors: *ValidationError (fields "currentPassword", "password"), ErrWrongPassword,
// ErrSessionExpired (the user no longer exists), ErrUnavailable.
func (s *Service) ChangePassword(ctx context.Context, id Identity, current, newPassword string) error {
	var issues []Issue
	if current == "" {
		issues = append(issues, Issue{"currentPassword", IssueRequired})
	}
	issues = append(issues, s.ValidatePassword(newPassword)...)
	if len(issues) > 0 {
		return &ValidationError{Issues: issues}
	}
	u, err := s.checkCurrentPassword(ctx, id, current)
	if err != nil {
		return err
	}
	if _, err := s.sessions.DeleteOthers(ctx, id.UserID, id.SessionID); err != nil {
		return s.sessionError(err)
	}
	hash, err := s.hasher.Hash(ctx, newPassword)
	if err != nil {
		return hashError(err)
	}
	if err := s.users.SetPasswordHash(ctx, u.ID, hash); err != nil {
		return userError(err, nil)
	}
	revoked, err := s.sessions.DeleteOthers(ctx, id.UserID, id.SessionID)
	if err != nil {
		s.log.ErrorContext(ctx, "password changed, but sessions opened meanwhile could not be revoked",
			"user_id", id.UserID, "error", err)
		return s.sessionError(err)
	}
	s.log.InfoContext(ctx, "password changed; other sessions revoked", "user_id", id.UserID, "session_id", id.SessionID)
	s.audit.Record(ctx, audit.Event{Type: audit.PasswordChanged, ActorID: id.UserID, UserID: id.UserID, SessionID: id.SessionID,
		Details: map[string]any{"sessions_revoked": len(revoked)}})
	return nil
}

// checkCurrentPassword verifies pw against id's user, padding a failure to the
// failed-login floor as Login does. A wrong current password is a failed login to the
// regulation (SECURITY.md P4): it counts against the account and the client IP, and
// while either is locked out even the right one is refused, so a stolen session cannot
// guess the password without limit. Errors: ErrWrongPassword, ErrSessionExpired,
// ErrUnavailable.
func (s *Service) checkCurrentPassword(ctx context.Context, id Identity, pw string) (users.User, error) {
	start := time.Now()
	u, err := s.users.ByID(ctx, id.UserID)
	switch {
	case errors.Is(err, users.ErrNotFound):
		s.revokeUser(ctx, id.UserID, "user_deleted")
		return users.User{}, ErrSessionExpired
	case err != nil:
		return users.User{}, userError(err, nil)
	}
	gate, err := s.admitLogin(ctx, u.Email, audit.RequestOf(ctx).IP) // regulation.go
	if err != nil {
		return users.User{}, err
	}
	ok, _, err := s.hasher.Verify(ctx, u.Password, pw)
	if errors.Is(err, password.ErrBusy) {
		return users.User{}, hashError(err)
	}
	if err == nil && ok && !gate.locked {
		s.loginSucceeded(ctx, gate)
		return u, nil
	}
	s.countLoginFailure(ctx, gate)
	s.padFailure(ctx, start)
	s.audit.Record(ctx, audit.Event{Type: audit.PasswordChangeFail, ActorID: id.UserID, UserID: id.UserID, SessionID: id.SessionID})
	return users.User{}, ErrWrongPassword
}
