package authapi

import (
	"context"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/authgate/authgate/authsvc"
	"github.com/authgate/authgate/gateway/internal/cookies"
)

// Account is what a signed-in user's session pages need from the account core.
type Account interface {
	// Authenticate verifies the access token: ErrNotLoggedIn, ErrInvalidToken,
	// ErrSessionExpired, ErrUnavailable.
	Authenticate(ctx context.Context, accessToken string) (authsvc.Identity, error)
	// Sessions lists the user's live sessions: ErrUnavailable.
	Sessions(ctx context.Context, userID string) ([]authsvc.Session, error)
	// RevokeSession ends one of the user's sessions: ErrNotFound, ErrUnavailable.
	RevokeSession(ctx context.Context, userID, sessionID string) error
	// LogoutAll ends every session of the user: ErrUnavailable.
	LogoutAll(ctx context.Context, id authsvc.Identity) (int, error)
}

// PasswordChange is what changing one's password needs from the account core.
type PasswordChange interface {
	// ValidatePassword returns the problems of a new password.
	ValidatePassword(pw string) []authsvc.Issue
	// ChangePassword checks current and sets the new password, ending the other
	// sessions: *ValidationError, ErrWrongPassword, ErrSessionExpired, ErrUnavailable.
	ChangePassword(ctx context.Context, id authsvc.Identity, current, newPassword string) error
}

// AccountAPI serves a signed-in user's own sessions and password under /api/auth. The
// caller is authenticated like /api/auth/me (the Bearer token, else the access cookie).
type AccountAPI struct {
	core              Account
	passwords         PasswordChange
	jar               *cookies.Jar
	passwordMaxLength int
}

// NewAccountAPI returns the handlers; passwordMaxLength is named in the seed's "Password
// must be less than N characters".
func NewAccountAPI(core Account, passwords PasswordChange, jar *cookies.Jar, passwordMaxLength int) *AccountAPI {
	return &AccountAPI{core: core, passwords: passwords, jar: jar, passwordMaxLength: passwordMaxLength}
}

// caller authenticates the request and returns its identity and a context naming the
// caller as the actor of what follows (the audit log). Errors: those of Authenticate.
func (a *AccountAPI) caller(c echo.Context) (authsvc.Identity, context.Context, error) {
	r := c.Request()
	id, err := a.core.Authenticate(r.Context(), a.jar.AccessToken(r))
	if err != nil {
		return authsvc.Identity{}, nil, err
	}
	return id, authsvc.WithActor(r.Context(), id.UserID), nil
}

// Sessions handles GET /api/auth/sessions: the caller's live sessions, newest first,
// as {"status":"success","data":{"sessions":[{id, createdAt, lastSeen, ip, userAgent,
// current}]}}; current marks the session of the token that asked.
func (a *AccountAPI) Sessions(c echo.Context) error {
	id, ctx, err := a.caller(c)
	if err != nil {
		return err
	}
	list, err := a.core.Sessions(ctx, id.UserID)
	if err != nil {
		return err
	}
	out := make([]map[string]any, 0, len(list))
	for _, s := range list {
		r := RenderSession(s)
		r["current"] = s.ID == id.SessionID
		out = append(out, r)
	}
	return c.JSON(http.StatusOK, map[string]any{"status": "success", "data": map[string]any{"sessions": out}})
}

// RevokeSession handles DELETE /api/auth/sessions/:id: ends one of the caller's own
// sessions (the current one too, which also clears this browser's cookies). Another
// user's session id, an unknown or a malformed one is authsvc.ErrNotFound (404).
func (a *AccountAPI) RevokeSession(c echo.Context) error {
	id, ctx, err := a.caller(c)
	if err != nil {
		return err
	}
	sid := c.Param("id")
	if err := a.core.RevokeSession(ctx, id.UserID, sid); err != nil {
		return err
	}
	if sid == id.SessionID {
		a.jar.Clear(c.Response(), c.Request(), true)
	}
	return c.JSON(http.StatusOK, map[string]any{"status": "success"})
}

// LogoutAll handles POST /api/auth/logout-all: ends every session of the caller, this
// one included, and clears the cookies like logout.
func (a *AccountAPI) LogoutAll(c echo.Context) error {
	id, ctx, err := a.caller(c)
	if err != nil {
		return err
	}
	if _, err := a.core.LogoutAll(ctx, id); err != nil {
		return err
	}
	a.jar.Clear(c.Response(), c.Request(), true)
	return c.JSON(http.StatusOK, map[string]any{"status": "success"})
}

// ChangePassword handles POST /api/auth/password {currentPassword, password,
// passwordConfirm}: the new password is validated like registration's (the reset
// body's field names), the current one must be the account's; every other session of
// the caller ends, this one keeps working. Errors: *httperr.ValidationError,
// authsvc.ErrWrongPassword (403), ErrUnavailable, ErrMalformedBody, and those of
// Authenticate.
func (a *AccountAPI) ChangePassword(c echo.Context) error {
	id, ctx, err := a.caller(c)
	if err != nil {
		return err
	}
	b, err := decodeRequest(c.Request())
	if err != nil {
		return err
	}
	var v validator
	current, ok := v.str(b, "currentPassword", "Current password is required")
	if ok && current == "" {
		v.add("currentPassword", "too_small", "Current password is required")
	}
	pw, err := validateNewPassword(&v, b, a.passwords.ValidatePassword, a.passwordMaxLength)
	if err != nil {
		return err
	}
	if err := a.passwords.ChangePassword(ctx, id, current, pw); err != nil {
		return err
	}
	return success(c, "Password data successfully updated")
}

// The account core satisfies the handlers' needs.
var (
	_ Account        = (*authsvc.Service)(nil)
	_ PasswordChange = (*authsvc.Service)(nil)
)
