package authsvc

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/authgate/authgate/authsvc/internal/password"
	"github.com/authgate/authgate/authsvc/internal/sessions"
	"github.com/authgate/authgate/authsvc/internal/users"
)

// Register handles POST /api/auth/register: 201 with the new USER, 409 ErrEmailTaken,
// 400 *ValidationError.
func (s *Service) Register(c echo.Context) error {
	b, err := decodeRequest(c.Request())
	if err != nil {
		return err
	}
	in, err := validateRegister(b, s.cfg.PasswordMaxLength)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	hash, err := s.hasher.Hash(ctx, in.Password)
	if err != nil {
		return hashError(err)
	}
	u := users.User{
		Name: in.Name, Email: in.Email, Password: hash, Role: "user",
		Photo: "default.png", Verified: true, Provider: "local",
	}
	if err := s.users.Create(ctx, &u); err != nil {
		return userError(err, ErrEmailTaken)
	}
	s.log.InfoContext(ctx, "user registered", "user_id", u.ID.Hex())
	return c.JSON(http.StatusCreated, map[string]any{
		"status":  "success",
		"message": "User registered successfully",
		"data":    map[string]any{"user": renderUser(u)},
	})
}

// Login handles POST /api/auth/login: a new session, the three cookies and the access
// token. Unknown email, wrong password and a hash that cannot be read all answer
// ErrInvalidCredentials after the same amount of hashing work.
func (s *Service) Login(c echo.Context) error {
	b, err := decodeRequest(c.Request())
	if err != nil {
		return err
	}
	in, err := validateLogin(b)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	start := time.Now()
	u, err := s.checkPassword(ctx, in.Email, in.Password)
	if errors.Is(err, ErrInvalidCredentials) && s.failFloor > 0 {
		wait := time.NewTimer(s.failFloor - time.Since(start))
		select {
		case <-wait.C:
		case <-ctx.Done():
			wait.Stop()
		}
	}
	if err != nil {
		return err
	}
	sid, err := s.access.NewID()
	if err != nil {
		return err
	}
	rjti, err := s.refresh.NewID()
	if err != nil {
		return err
	}
	sess, err := s.sessions.Create(ctx, sessions.Session{
		ID: sid, UserID: u.ID.Hex(), Role: u.Role, RefreshJTI: rjti,
		IP: c.RealIP(), UserAgent: truncate(c.Request().UserAgent(), 256),
	})
	if err != nil {
		return s.sessionError(err)
	}
	access, err := s.issueAccess(sess.UserID, sess.ID)
	if err != nil {
		return err
	}
	refresh, _, err := s.refresh.Issue(sess.UserID, sess.ID, rjti)
	if err != nil {
		return err
	}
	s.setCookies(c, access, refresh)
	s.log.InfoContext(ctx, "login", "user_id", sess.UserID, "session_id", sess.ID)
	return c.JSON(http.StatusOK, map[string]any{"status": "success", "access_token": access})
}

// checkPassword finds the user and verifies the password, upgrading old hashes.
// Errors: ErrInvalidCredentials, ErrUnavailable.
func (s *Service) checkPassword(ctx context.Context, email, pw string) (users.User, error) {
	u, err := s.users.ByEmail(ctx, email)
	if errors.Is(err, users.ErrNotFound) {
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
		return users.User{}, ErrInvalidCredentials
	}
	if rehash {
		if h, err := s.hasher.Hash(ctx, pw); err == nil {
			if err := s.users.SetPasswordHash(ctx, u.ID, h); err != nil {
				s.log.WarnContext(ctx, "password rehash not saved", "user_id", u.ID.Hex(), "error", err)
			}
		}
	}
	return u, nil
}

// Refresh handles GET /api/auth/refresh: rotates the refresh token (exactly once under
// concurrency), slides the session and issues a new access token. Everything that can
// fail is done before the rotation is committed, so a failure never strands the client
// with a refresh token that was already rotated away. Every failure is ErrRefreshFailed
// except ErrUnavailable.
func (s *Service) Refresh(c echo.Context) error {
	ctx := c.Request().Context()
	ck, err := c.Cookie(RefreshCookie)
	if err != nil || ck.Value == "" {
		return ErrRefreshFailed
	}
	claims, err := s.refresh.Parse(ck.Value)
	if err != nil {
		return ErrRefreshFailed
	}
	uid, sid := claims.Subject, claims.SessionID
	if err := s.syncRole(ctx, uid, sid); err != nil {
		return err
	}
	newJTI, err := s.refresh.NewID()
	if err != nil {
		return err
	}
	refresh, _, err := s.refresh.Issue(uid, sid, newJTI)
	if err != nil {
		return err
	}
	access, err := s.issueAccess(uid, sid)
	if err != nil {
		return err
	}
	_, outcome, err := s.sessions.Rotate(ctx, uid, sid, claims.ID, newJTI)
	switch {
	case errors.Is(err, sessions.ErrReplay):
		s.log.WarnContext(ctx, "refresh token replayed; session revoked", "user_id", uid, "session_id", sid)
		return ErrRefreshFailed
	case errors.Is(err, sessions.ErrNotFound):
		return ErrRefreshFailed
	case err != nil:
		return s.sessionError(err)
	}
	if outcome != sessions.Rotated {
		refresh = "" // grace replay: a fresh access token, the current refresh token stays
	}
	s.setCookies(c, access, refresh)
	return c.JSON(http.StatusOK, map[string]any{"status": "success", "access_token": access})
}

// syncRole checks at refresh that the user still exists and copies a role changed in
// MongoDB into the session. A deleted user's sessions are revoked (ErrRefreshFailed).
// While MongoDB is unreachable the session keeps its role, so logged-in users are not
// logged out by an outage (SECURITY.md R2). Errors: ErrRefreshFailed, ErrUnavailable.
func (s *Service) syncRole(ctx context.Context, uid, sid string) error {
	u, err := s.users.ByID(ctx, uid)
	switch {
	case errors.Is(err, users.ErrNotFound):
		s.revokeDeletedUser(ctx, uid)
		return ErrRefreshFailed
	case errors.Is(err, users.ErrUnavailable):
		s.log.WarnContext(ctx, "refresh without user check: mongodb unavailable", "user_id", uid, "error", err)
		return nil
	case err != nil:
		return err
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

// Logout handles GET and POST /api/auth/logout: revokes the session named by the refresh
// cookie or, failing that, the access token, and clears the three cookies. It is
// idempotent. When the revocation cannot be recorded (ErrUnavailable) the refresh cookie
// is kept, so that the client can retry the logout.
func (s *Service) Logout(c echo.Context) error {
	ctx := c.Request().Context()
	uid, sid := "", ""
	if ck, err := c.Cookie(RefreshCookie); err == nil && ck.Value != "" {
		if claims, err := s.refresh.Parse(ck.Value); err == nil {
			uid, sid = claims.Subject, claims.SessionID
		}
	}
	if sid == "" {
		if tok := TokenFromRequest(c.Request()); tok != "" {
			if claims, err := s.access.Parse(tok); err == nil {
				uid, sid = claims.Subject, claims.SessionID
			}
		}
	}
	if sid != "" {
		if err := s.sessions.Delete(ctx, uid, sid); err != nil {
			s.clearCookies(c, false)
			return s.sessionError(err)
		}
		s.log.InfoContext(ctx, "logout", "user_id", uid, "session_id", sid)
	}
	s.clearCookies(c, true)
	return c.JSON(http.StatusOK, map[string]any{"status": "success"})
}

// Me handles GET /api/auth/me: the caller's USER, the same body as /api/users/me.
// Errors: those of AuthenticateRequest; ErrSessionExpired when the user was deleted.
func (s *Service) Me(c echo.Context) error {
	id, err := s.AuthenticateRequest(c.Request())
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	u, err := s.users.ByID(ctx, id.UserID)
	if errors.Is(err, users.ErrNotFound) {
		s.revokeDeletedUser(ctx, id.UserID)
		return ErrSessionExpired
	}
	if err != nil {
		return userError(err, nil)
	}
	return c.JSON(http.StatusOK, map[string]any{
		"status": "success",
		"data":   map[string]any{"user": renderUser(u)},
	})
}

// revokeDeletedUser ends every session of a user who no longer exists in MongoDB.
func (s *Service) revokeDeletedUser(ctx context.Context, uid string) {
	if _, err := s.sessions.DeleteAll(ctx, uid); err != nil {
		s.log.WarnContext(ctx, "revoke sessions of deleted user", "user_id", uid, "error", err)
	}
}

func (s *Service) issueAccess(uid, sid string) (string, error) {
	jti, err := s.access.NewID()
	if err != nil {
		return "", err
	}
	tok, _, err := s.access.Issue(uid, sid, jti)
	return tok, err
}

// EnsureAdmin creates an admin account with email and password unless a user with that
// email exists, and returns the new user's id ("" when none was created). Errors:
// ErrUnavailable, or a *ValidationError for an unusable email or password.
func (s *Service) EnsureAdmin(ctx context.Context, name, email, pw string) (string, error) {
	if name == "" {
		name = "Admin"
	}
	in, err := validateRegister(body{
		"name": quote(name), "email": quote(email),
		"password": quote(pw), "passwordConfirm": quote(pw),
	}, s.cfg.PasswordMaxLength)
	if err != nil {
		return "", err
	}
	if _, err := s.users.ByEmail(ctx, in.Email); err == nil {
		return "", nil
	} else if !errors.Is(err, users.ErrNotFound) {
		return "", userError(err, nil)
	}
	hash, err := s.hasher.Hash(ctx, in.Password)
	if err != nil {
		return "", hashError(err)
	}
	u := users.User{
		Name: in.Name, Email: in.Email, Password: hash, Role: "admin",
		Photo: "default.png", Verified: true, Provider: "local",
	}
	if err := s.users.Create(ctx, &u); err != nil {
		if errors.Is(err, users.ErrDuplicateEmail) {
			return "", nil // created concurrently by another replica
		}
		return "", userError(err, nil)
	}
	return u.ID.Hex(), nil
}

// userError maps a users store error; dup is what ErrDuplicateEmail becomes.
func userError(err, dup error) error {
	switch {
	case dup != nil && errors.Is(err, users.ErrDuplicateEmail):
		return dup
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

// renderUser is the seed's USER object: never the hash.
func renderUser(u users.User) map[string]any {
	const iso = "2006-01-02T15:04:05.000Z07:00"
	id := u.ID.Hex()
	return map[string]any{
		"_id": id, "id": id, "name": u.Name, "email": u.Email, "role": u.Role,
		"photo": u.Photo, "verified": u.Verified, "provider": u.Provider,
		"createdAt": u.CreatedAt.UTC().Format(iso), "updatedAt": u.UpdatedAt.UTC().Format(iso),
	}
}
