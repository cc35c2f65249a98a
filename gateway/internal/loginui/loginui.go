// Package loginui is the gateway's first-party browser sign-in: GET /login renders a
// form (html/template, no JavaScript), POST /login signs in through the same account
// core and cookies as POST /api/auth/login, GET and POST /logout sign out like
// /api/auth/logout. Every way back to the application goes through Redirects, the
// open-redirect check of SECURITY.md H6.
package loginui

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"mime"
	"net"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/authgate/authgate/authsvc"
	"github.com/authgate/authgate/gateway/internal/cookies"
	"github.com/authgate/authgate/gateway/internal/forwarded"
	"github.com/authgate/authgate/gateway/internal/httperr"
)

//go:embed assets/login.html assets/style.css
var assets embed.FS

// maxForm caps a form body read here, whatever the server's own body limit is: a
// sign-in form is an email, a password and a return path.
const maxForm = 64 << 10

// SignInPath is the sign-in page's own path; logout without rd ends there.
const SignInPath = "/login"

// Sessions is what signing in and out needs from the account core.
type Sessions interface {
	// Login checks the credentials and opens a session: ErrInvalidCredentials,
	// ErrNotVerified, ErrUnavailable.
	Login(ctx context.Context, cr authsvc.Credentials, cl authsvc.Client) (authsvc.Grant, error)
	// Logout revokes the session of either token; nothing to revoke is success:
	// ErrUnavailable.
	Logout(ctx context.Context, refreshToken, accessToken string) error
}

// Visitors recognises a browser that is already signed in.
type Visitors interface {
	// Authenticate checks an access token and its session.
	Authenticate(ctx context.Context, accessToken string) (authsvc.Identity, error)
	// AuthenticateRefresh checks a refresh token as proof of a live session.
	AuthenticateRefresh(ctx context.Context, refreshToken string) (authsvc.Identity, error)
	// IssueAccess gives a session proved by its refresh token a new access token.
	IssueAccess(id authsvc.Identity) (authsvc.Grant, error)
}

// Deps are the handlers' collaborators; all are required.
type Deps struct {
	Sessions  Sessions
	Visitors  Visitors
	Jar       *cookies.Jar     // the same cookies as the JSON API
	Trust     *forwarded.Trust // the client address stored with a new session
	Errors    *httperr.Table   // the messages and codes of the one error table
	Redirects *Redirects       // where rd may point
}

// Handler serves the sign-in page and logout. It is immutable and safe for concurrent
// use.
type Handler struct {
	d    Deps
	page *template.Template
	css  template.CSS
}

// New returns the handlers. Errors: a missing dependency, or embedded assets that do
// not parse (a build defect).
func New(d Deps) (*Handler, error) {
	if d.Sessions == nil || d.Visitors == nil || d.Jar == nil || d.Trust == nil || d.Errors == nil || d.Redirects == nil {
		return nil, errors.New("loginui: a required dependency is missing")
	}
	page, err := template.ParseFS(assets, "assets/login.html")
	if err != nil {
		return nil, fmt.Errorf("loginui: %w", err)
	}
	css, err := assets.ReadFile("assets/style.css")
	if err != nil {
		return nil, fmt.Errorf("loginui: %w", err)
	}
	// The stylesheet is the package's own embedded file, never input.
	return &Handler{d: d, page: page, css: template.CSS(css)}, nil //nolint:gosec // G203: trusted, embedded
}

// form is what the page template shows.
type form struct {
	CSS   template.CSS
	RD    string // the validated return target
	Email string // what the user typed, kept after a failed attempt
	Error string // the message of the failed attempt, "" for none
}

// Page handles GET (and HEAD) /login: a browser that is already signed in (a valid
// access token, or a live refresh cookie, which then gets a new access token) is sent
// 303 to rd; anyone else gets the form. Errors: only a template failure (500).
func (h *Handler) Page(c echo.Context) error {
	r := c.Request()
	rd := h.d.Redirects.Safe(r.URL.Query().Get("rd"), r)
	if h.signedIn(c) {
		return seeOther(c, rd)
	}
	return h.render(c, http.StatusOK, form{RD: rd}, "")
}

// signedIn reports whether r's browser has a live session, renewing its access cookie
// when only the refresh cookie proved it. A dependency that cannot answer counts as
// not signed in: the form is shown and signing in reports the outage.
func (h *Handler) signedIn(c echo.Context) bool {
	r := c.Request()
	v := h.d.Visitors
	if tok := h.d.Jar.AccessToken(r); tok != "" {
		if _, err := v.Authenticate(r.Context(), tok); err == nil {
			return true
		}
	}
	tok := h.d.Jar.RefreshToken(r)
	if tok == "" {
		return false
	}
	id, err := v.AuthenticateRefresh(r.Context(), tok)
	if err != nil {
		return false
	}
	g, err := v.IssueAccess(id)
	if err != nil {
		return false
	}
	h.d.Jar.SetGrant(c.Response(), r, g)
	return true
}

// SignIn handles POST /login with an application/x-www-form-urlencoded body (email,
// password, rd): success sets the three cookies exactly as POST /api/auth/login does and
// answers 303 to the validated rd. A missing field is 400, wrong credentials 401 with
// the table's "Invalid email or password" (the same page whether or not the email has
// an account), an unverified account (when verification is required) 401 with the
// table's message, an outage 503 with a retry message: each the form again, the email
// kept.
// Errors (rendered by the error table): echo.ErrUnsupportedMediaType for any other
// body, httperr.ErrBodyTooLarge, httperr.ErrBodyTimeout, echo.ErrBadRequest for a body
// that does not decode, and the core's unexpected errors.
func (h *Handler) SignIn(c echo.Context) error {
	r := c.Request()
	if err := h.readForm(c, true); err != nil {
		return err
	}
	f := form{
		RD:    h.d.Redirects.Safe(returnTarget(r), r),
		Email: strings.TrimSpace(r.PostForm.Get("email")),
	}
	pw := r.PostForm.Get("password")
	if f.Email == "" || pw == "" {
		switch {
		case f.Email == "" && pw == "":
			f.Error = "Enter your email address and password."
		case f.Email == "":
			f.Error = "Enter your email address."
		default:
			f.Error = "Enter your password."
		}
		return h.render(c, http.StatusBadRequest, f, "validation")
	}
	g, err := h.d.Sessions.Login(r.Context(), authsvc.Credentials{Email: f.Email, Password: pw},
		authsvc.Client{IP: h.d.Trust.ClientIP(r), UserAgent: r.UserAgent()})
	switch {
	case err == nil:
	case errors.Is(err, authsvc.ErrInvalidCredentials), errors.Is(err, authsvc.ErrNotVerified), errors.Is(err, authsvc.ErrUnavailable):
		fail := h.d.Errors.Lookup(err, r)
		f.Error = fail.Message
		if fail.Status == http.StatusServiceUnavailable {
			c.Response().Header().Set("Retry-After", "1")
		}
		return h.render(c, fail.Status, f, fail.Code)
	default:
		return err
	}
	h.d.Jar.SetGrant(c.Response(), r, g)
	return seeOther(c, f.RD)
}

// Logout handles GET and POST /logout (rd in the query or, for POST, a form field):
// it revokes the session through the core like /api/auth/logout, clears the three
// cookies and answers 303 to the validated rd, or to the sign-in page without one.
// Errors: authsvc.ErrUnavailable (the revocation could not be recorded; the refresh
// cookie is kept so that signing out can be retried), and for a POST body those of
// SignIn except the media type: a POST without a form body is fine.
func (h *Handler) Logout(c echo.Context) error {
	r := c.Request()
	if r.Method == http.MethodPost {
		if err := h.readForm(c, false); err != nil {
			return err
		}
	}
	jar := h.d.Jar
	if err := h.d.Sessions.Logout(r.Context(), jar.RefreshToken(r), jar.AccessToken(r)); err != nil {
		jar.Clear(c.Response(), r, false)
		return err
	}
	jar.Clear(c.Response(), r, true)
	to := SignInPath
	if rd := returnTarget(r); rd != "" {
		to = h.d.Redirects.Safe(rd, r)
	}
	return seeOther(c, to)
}

// returnTarget is r's rd: the form field of a POST, else the query parameter.
func returnTarget(r *http.Request) string {
	if rd := r.PostForm.Get("rd"); rd != "" {
		return rd
	}
	return r.URL.Query().Get("rd")
}

// readForm parses an application/x-www-form-urlencoded body into r.PostForm, at most
// maxForm bytes. Without required, a request with no body or another media type reads
// as an empty form. Errors: see SignIn.
func (h *Handler) readForm(c echo.Context, required bool) error {
	r := c.Request()
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		if required {
			return fmt.Errorf("sign-in form: %w", echo.ErrUnsupportedMediaType)
		}
		r.PostForm = make(map[string][]string)
		return nil
	}
	r.Body = http.MaxBytesReader(c.Response(), r.Body, maxForm)
	err = r.ParseForm()
	var tooLarge *http.MaxBytesError
	var netErr net.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &tooLarge):
		return httperr.ErrBodyTooLarge
	case errors.As(err, &netErr) && netErr.Timeout():
		return httperr.ErrBodyTimeout
	case errors.Is(err, echo.ErrStatusRequestEntityTooLarge):
		return err // Echo's body limit, rendered as 413 by the table
	default:
		return fmt.Errorf("sign-in form: %w: %w", echo.ErrBadRequest, err)
	}
}

// render writes the form page with status; code, when set, is the error table's code
// of what went wrong (X-Authgate-Error, as on every error the gateway writes).
// Errors: the template's (500).
func (h *Handler) render(c echo.Context, status int, f form, code string) error {
	f.CSS = h.css
	var buf bytes.Buffer
	if err := h.page.Execute(&buf, f); err != nil {
		return fmt.Errorf("loginui: render: %w", err)
	}
	hdr := c.Response().Header()
	httperr.PageHeaders(hdr)
	if code != "" {
		hdr.Set(httperr.HeaderError, code)
	}
	return c.HTMLBlob(status, buf.Bytes())
}

// seeOther answers 303 to a validated target, never cached.
func seeOther(c echo.Context, to string) error {
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.Redirect(http.StatusSeeOther, to)
}

// The account core satisfies the handlers' needs.
var (
	_ Sessions = (*authsvc.Service)(nil)
	_ Visitors = (*authsvc.Service)(nil)
)
