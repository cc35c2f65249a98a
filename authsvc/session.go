package authsvc

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/authgate/authgate/authsvc/internal/audit"
	"github.com/authgate/authgate/authsvc/internal/sessions"
	"github.com/authgate/authgate/authsvc/internal/users"
)

// Authenticate verifies an access token and its session: one signature check per token
// (then cached until it expires) and the session from the revocation-safe cache or one
// Redis read, never MongoDB.
// Errors: ErrNotLoggedIn (empty token), ErrInvalidToken, ErrSessionExpired, ErrUnavailable.
func (s *Service) Authenticate(ctx context.Context, accessToken string) (Identity, error) {
	if accessToken == "" {
		return Identity{}, ErrNotLoggedIn
	}
	claims, err := s.verified.Parse(accessToken)
	if err != nil {
		return Identity{}, ErrInvalidToken
	}
	sess, err := s.cache.Get(ctx, claims.Subject, claims.SessionID)
	if err != nil {
		return Identity{}, s.sessionError(err)
	}
	return identityOf(sess), nil
}

// touchEvery is how often proof by refresh token slides a session: a busy user behind
// forward auth costs one Redis write a minute, not one per request.
const touchEvery = time.Minute

// AuthenticateRefresh accepts a refresh token as proof of a live session, for callers
// that cannot hand the client a new access token (forward auth: nginx, Caddy) or that
// serve a browser's page load: the token must be the session's current one (or the one
// rotated away within the grace window), and the session's idle expiry slides at most
// once a minute, so an active user stays signed in for the session's whole life.
// Nothing is rotated and nothing is revoked here; rotation and reuse detection belong to
// Refresh. Errors: ErrNotLoggedIn (empty token), ErrInvalidToken, ErrSessionExpired,
// ErrUnavailable.
func (s *Service) AuthenticateRefresh(ctx context.Context, refreshToken string) (Identity, error) {
	if refreshToken == "" {
		return Identity{}, ErrNotLoggedIn
	}
	claims, err := s.verifiedRefresh.Parse(refreshToken)
	if err != nil {
		return Identity{}, ErrInvalidToken
	}
	sess, err := s.sessions.Touch(ctx, claims.Subject, claims.SessionID, claims.ID, touchEvery)
	if err != nil {
		return Identity{}, s.sessionError(err)
	}
	return identityOf(sess), nil
}

// IssueAccess returns a new access token for id's session (no rotation, no new refresh
// token), for a caller that authenticated it by AuthenticateRefresh and can set the
// cookie. Errors: the signer's.
func (s *Service) IssueAccess(id Identity) (Grant, error) {
	g := Grant{Identity: id}
	var err error
	g.AccessToken, g.AccessExpires, err = s.issueAccess(id.UserID, id.SessionID)
	return g, err
}

// CheckSession reports whether the session still lives (long-lived connections check it
// periodically). Errors: ErrSessionExpired, ErrUnavailable.
func (s *Service) CheckSession(ctx context.Context, userID, sessionID string) error {
	if _, err := s.sessions.Get(ctx, userID, sessionID); err != nil {
		return s.sessionError(err)
	}
	return nil
}

// Refresh rotates the refresh token (exactly once under concurrency), slides the
// session and issues a new access token. Everything that can fail is done before the
// rotation is committed, so a failure never strands the client with a refresh token that
// was already rotated away. The token just rotated away, presented again within the grace
// window, gets an access token and an empty Grant.RefreshToken; any other old token
// revokes the whole session (SECURITY.md T7). Errors: ErrRefreshFailed, ErrUnavailable.
func (s *Service) Refresh(ctx context.Context, refreshToken string) (Grant, error) {
	if refreshToken == "" {
		return Grant{}, ErrRefreshFailed
	}
	claims, err := s.refresh.Parse(refreshToken)
	if err != nil {
		return Grant{}, ErrRefreshFailed
	}
	uid, sid := claims.Subject, claims.SessionID
	if err := s.syncRole(ctx, uid, sid); err != nil {
		return Grant{}, err
	}
	newJTI, err := s.refresh.NewID()
	if err != nil {
		return Grant{}, err
	}
	var g Grant
	if g.RefreshToken, g.RefreshExpires, err = s.refresh.Issue(uid, sid, newJTI); err != nil {
		return Grant{}, err
	}
	if g.AccessToken, g.AccessExpires, err = s.issueAccess(uid, sid); err != nil {
		return Grant{}, err
	}
	sess, outcome, err := s.sessions.Rotate(ctx, uid, sid, claims.ID, newJTI)
	switch {
	case errors.Is(err, sessions.ErrReplay):
		s.log.WarnContext(ctx, "refresh token replayed; session revoked", "user_id", uid, "session_id", sid)
		s.audit.Record(ctx, audit.Event{Type: audit.RefreshReuse, UserID: uid, SessionID: sid})
		return Grant{}, ErrRefreshFailed
	case errors.Is(err, sessions.ErrNotFound):
		return Grant{}, ErrRefreshFailed
	case err != nil:
		return Grant{}, s.sessionError(err)
	}
	g.Identity = identityOf(sess)
	if outcome != sessions.Rotated {
		g.RefreshToken, g.RefreshExpires = "", time.Time{} // grace replay: the current refresh token stays
	}
	return g, nil
}

// syncRole checks at refresh that the user still exists and is not disabled, and copies
// a role changed in MongoDB into the session. A deleted or disabled user's sessions are
// revoked (ErrRefreshFailed).
// While MongoDB is unreachable the session keeps its role, so logged-in users are not
// logged out by an outage (SECURITY.md R2). Errors: ErrRefreshFailed, ErrUnavailable.
func (s *Service) syncRole(ctx context.Context, uid, sid string) error {
	u, err := s.users.ByID(ctx, uid)
	switch {
	case errors.Is(err, users.ErrNotFound):
		s.revokeUser(ctx, uid, "user_deleted")
		return ErrRefreshFailed
	case errors.Is(err, users.ErrUnavailable):
		s.log.WarnContext(ctx, "refresh without user check: mongodb unavailable", "user_id", uid, "error", err)
		return nil
	case err != nil:
		return err
	case u.Disabled:
		s.revokeUser(ctx, uid, "user_disabled")
		return ErrRefreshFailed
	}
	sess, err := s.sessions.Get(ctx, uid, sid)
	switch {
	case errors.Is(err, sessions.ErrNotFound):
		return ErrRefreshFailed
	case err != nil:
		return s.sessionError(err)
	}
	if sess.Role != u.Role {
		if err := s.sessions.SetRole(ctx, uid, u.Role); err != nil {
			return s.sessionError(err)
		}
	}
	return nil
}

// Logout revokes the session named by refreshToken or, failing that, accessToken
// (either may be empty or invalid: logout works with whichever is left). It is
// idempotent: nothing to revoke is success. Errors: ErrUnavailable (the revocation could
// not be recorded; the caller should let the client retry).
func (s *Service) Logout(ctx context.Context, refreshToken, accessToken string) error {
	uid, sid := "", ""
	if refreshToken != "" {
		if claims, err := s.refresh.Parse(refreshToken); err == nil {
			uid, sid = claims.Subject, claims.SessionID
		}
	}
	if sid == "" && accessToken != "" {
		if claims, err := s.access.Parse(accessToken); err == nil {
			uid, sid = claims.Subject, claims.SessionID
		}
	}
	if sid == "" {
		return nil
	}
	if err := s.sessions.Delete(ctx, uid, sid); err != nil {
		return s.sessionError(err)
	}
	s.log.InfoContext(ctx, "logout", "user_id", uid, "session_id", sid)
	s.audit.Record(ctx, audit.Event{Type: audit.SessionLogout, ActorID: uid, UserID: uid, SessionID: sid})
	return nil
}

// Sessions lists the user's live sessions, newest first. Errors: ErrUnavailable.
func (s *Service) Sessions(ctx context.Context, userID string) ([]Session, error) {
	list, err := s.sessions.List(ctx, userID)
	if err != nil {
		return nil, s.sessionError(err)
	}
	out := make([]Session, 0, len(list))
	for _, x := range list {
		out = append(out, Session{
			ID: x.ID, IP: x.IP, UserAgent: x.UserAgent,
			CreatedAt: x.CreatedAt, LastSeen: x.LastSeen, ExpiresAt: x.ExpiresAt,
		})
	}
	return out, nil
}

// RevokeSession ends one session of the user. Errors: ErrNotFound (no such live session
// of this user: another user's session id is not found), ErrUnavailable.
func (s *Service) RevokeSession(ctx context.Context, userID, sessionID string) error {
	if _, err := s.sessions.Get(ctx, userID, sessionID); err != nil {
		if errors.Is(err, sessions.ErrNotFound) {
			return ErrNotFound
		}
		return s.sessionError(err)
	}
	if err := s.sessions.Delete(ctx, userID, sessionID); err != nil {
		return s.sessionError(err)
	}
	s.log.InfoContext(ctx, "session revoked", "user_id", userID, "session_id", sessionID)
	s.audit.Record(ctx, audit.Event{Type: audit.SessionRevoked, UserID: userID, SessionID: sessionID})
	return nil
}

// RevokeAll ends every session of the user and returns how many there were.
// Errors: ErrUnavailable.
func (s *Service) RevokeAll(ctx context.Context, userID string) (int, error) {
	n, err := s.sessions.DeleteAll(ctx, userID)
	if err != nil {
		return 0, s.sessionError(err)
	}
	s.log.InfoContext(ctx, "all sessions revoked", "user_id", userID, "sessions", n)
	s.audit.Record(ctx, audit.Event{Type: audit.SessionsRevoked, UserID: userID, Details: map[string]any{"sessions": n}})
	return n, nil
}

// revokeUser ends every session of a user who no longer exists in MongoDB or is
// disabled there; reason ("user_deleted", "user_disabled") goes into the audit event.
func (s *Service) revokeUser(ctx context.Context, uid, reason string) {
	n, err := s.sessions.DeleteAll(ctx, uid)
	if err != nil {
		s.log.WarnContext(ctx, "revoke sessions of a deleted or disabled user", "user_id", uid, "error", err)
		return
	}
	s.audit.Record(ctx, audit.Event{Type: audit.SessionsRevoked, UserID: uid,
		Details: map[string]any{"sessions": n, "reason": reason}})
}

// sessionError translates a session store error for callers of the core.
func (s *Service) sessionError(err error) error {
	if errors.Is(err, sessions.ErrNotFound) || errors.Is(err, sessions.ErrReplay) {
		return ErrSessionExpired
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}

func (s *Service) issueAccess(uid, sid string) (string, time.Time, error) {
	jti, err := s.access.NewID()
	if err != nil {
		return "", time.Time{}, err
	}
	return s.access.Issue(uid, sid, jti)
}
