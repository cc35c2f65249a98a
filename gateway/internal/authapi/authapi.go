// Package authapi is the seed's JSON account API under /api/auth: request decoding and
// the seed's validation messages, success envelopes and cookies. Every handler is a thin
// caller of the account core (authsvc) and returns errors; the server maps them to
// responses in one place (httperr).
package authapi

import (
	"context"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/authgate/authgate/authsvc"
	"github.com/authgate/authgate/gateway/internal/cookies"
	"github.com/authgate/authgate/gateway/internal/forwarded"
)

// Signup is what registration needs from the account core.
type Signup interface {
	// Validate returns the problems of u's values, in field order.
	Validate(u authsvc.NewUser) []authsvc.Issue
	// Register creates the account: *authsvc.ValidationError, ErrRateLimited,
	// ErrEmailTaken, ErrUnavailable.
	Register(ctx context.Context, u authsvc.NewUser, cl authsvc.Client) (authsvc.User, error)
}

// Sessions is what signing in and out needs from the account core.
type Sessions interface {
	Login(ctx context.Context, cr authsvc.Credentials, cl authsvc.Client) (authsvc.Grant, error)
	Refresh(ctx context.Context, refreshToken string) (authsvc.Grant, error)
	Logout(ctx context.Context, refreshToken, accessToken string) error
	Me(ctx context.Context, accessToken string) (authsvc.User, error)
}

// API holds the handlers' collaborators.
type API struct {
	signup            Signup
	sessions          Sessions
	jar               *cookies.Jar
	trust             *forwarded.Trust
	passwordMaxLength int
}

// New returns the API. passwordMaxLength is named in the seed's "Password must be less
// than N characters".
func New(signup Signup, sessions Sessions, jar *cookies.Jar, trust *forwarded.Trust, passwordMaxLength int) *API {
	return &API{signup: signup, sessions: sessions, jar: jar, trust: trust, passwordMaxLength: passwordMaxLength}
}

// Register handles POST /api/auth/register: 201 with the new USER, or, when the
// account must verify its email first, 201 with the seed's "email sent" message and no
// user. Errors: *httperr.ValidationError, authsvc.ErrRateLimited, ErrEmailTaken,
// ErrMailFailed, ErrUnavailable, ErrMalformedBody.
func (a *API) Register(c echo.Context) error {
	b, err := decodeRequest(c.Request())
	if err != nil {
		return err
	}
	in, err := a.validateRegister(b)
	if err != nil {
		return err
	}
	r := c.Request()
	u, err := a.signup.Register(r.Context(), in, authsvc.Client{IP: a.trust.ClientIP(r), UserAgent: r.UserAgent()})
	if err != nil {
		return err
	}
	if !u.Verified {
		return c.JSON(http.StatusCreated, map[string]any{
			"status": "success", "message": "An email with a verification code has been sent to your email",
		})
	}
	return c.JSON(http.StatusCreated, map[string]any{
		"status":  "success",
		"message": "User registered successfully",
		"data":    map[string]any{"user": RenderUser(u)},
	})
}

// Login handles POST /api/auth/login: a new session, the three cookies and the access
// token. Errors: *httperr.ValidationError, authsvc.ErrInvalidCredentials, ErrUnavailable.
func (a *API) Login(c echo.Context) error {
	b, err := decodeRequest(c.Request())
	if err != nil {
		return err
	}
	cr, err := validateLogin(b)
	if err != nil {
		return err
	}
	r := c.Request()
	g, err := a.sessions.Login(r.Context(), cr, authsvc.Client{IP: a.trust.ClientIP(r), UserAgent: r.UserAgent()})
	if err != nil {
		return err
	}
	a.jar.SetGrant(c.Response(), r, g)
	return tokenResponse(c, g)
}

// Refresh handles GET /api/auth/refresh with the refresh cookie: a new access token and
// a rotated refresh token. Errors: authsvc.ErrRefreshFailed, ErrUnavailable.
func (a *API) Refresh(c echo.Context) error {
	r := c.Request()
	g, err := a.sessions.Refresh(r.Context(), a.jar.RefreshToken(r))
	if err != nil {
		return err
	}
	a.jar.SetGrant(c.Response(), r, g)
	return tokenResponse(c, g)
}

// Logout handles GET and POST /api/auth/logout: revokes the session named by the
// refresh cookie or, failing that, the access token, and clears the three cookies. It is
// idempotent. When the revocation cannot be recorded (ErrUnavailable) the refresh cookie
// is kept, so that the client can retry.
func (a *API) Logout(c echo.Context) error {
	r := c.Request()
	if err := a.sessions.Logout(r.Context(), a.jar.RefreshToken(r), a.jar.AccessToken(r)); err != nil {
		a.jar.Clear(c.Response(), r, false)
		return err
	}
	a.jar.Clear(c.Response(), r, true)
	return c.JSON(http.StatusOK, map[string]any{"status": "success"})
}

// Me handles GET /api/auth/me: the caller's USER, the same body as /api/users/me.
// Errors: those of authsvc.Service.Me.
func (a *API) Me(c echo.Context) error {
	r := c.Request()
	u, err := a.sessions.Me(r.Context(), a.jar.AccessToken(r))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"status": "success", "data": map[string]any{"user": RenderUser(u)}})
}

// tokenResponse is the seed's {"status":"success","access_token":…}; a body with a
// token is never cached (SECURITY.md C7).
func tokenResponse(c echo.Context, g authsvc.Grant) error {
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, map[string]any{"status": "success", "access_token": g.AccessToken})
}

// RenderUser is the seed's USER object: never the hash.
func RenderUser(u authsvc.User) map[string]any {
	return map[string]any{
		"_id": u.ID, "id": u.ID, "name": u.Name, "email": u.Email, "role": u.Role,
		"photo": u.Photo, "verified": u.Verified, "provider": u.Provider,
		"createdAt": u.CreatedAt.UTC().Format(isoTime), "updatedAt": u.UpdatedAt.UTC().Format(isoTime),
	}
}

// RenderSession is one session of a user: {id, createdAt, lastSeen, ip, userAgent}
// (the account API adds "current").
func RenderSession(s authsvc.Session) map[string]any {
	return map[string]any{
		"id": s.ID, "createdAt": s.CreatedAt.UTC().Format(isoTime), "lastSeen": s.LastSeen.UTC().Format(isoTime),
		"ip": s.IP, "userAgent": s.UserAgent,
	}
}

// isoTime is how times are rendered: the seed's (JavaScript's) ISO 8601 in UTC.
const isoTime = "2006-01-02T15:04:05.000Z07:00"

// The account core satisfies the handlers' needs.
var (
	_ Signup   = (*authsvc.Service)(nil)
	_ Sessions = (*authsvc.Service)(nil)
)
