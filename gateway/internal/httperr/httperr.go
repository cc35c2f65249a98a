// Package httperr is the gateway's one error vocabulary: a single ordered table maps
// every sentinel error (of the account core, the route table, the proxy and the HTTP
// layer) to a status, a stable code and the message the seed's client expects, and the
// same table renders the seed's JSON envelope or an HTML page for browser navigations.
// Anything not in the table is a 500 "Something went wrong", with the detail only in
// the log (SECURITY.md: no driver text reaches a client).
package httperr

import (
	"context"
	"encoding/json"
	"errors"
	"html/template"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/authgate/authgate/authsvc"
	"github.com/authgate/authgate/gateway/internal/csrf"
	"github.com/authgate/authgate/gateway/internal/proxy"
	"github.com/authgate/authgate/gateway/internal/routing"
)

// HTTP-level sentinels (the account core and the route table have their own).
var (
	// ErrMalformedBody: the request body is not a JSON object.
	ErrMalformedBody = errors.New("malformed JSON body")
	// ErrBodyTooLarge: the request body is over the limit.
	ErrBodyTooLarge = errors.New("request body too large")
	// ErrBodyTimeout: the client did not send its body in time.
	ErrBodyTimeout = errors.New("request body timeout")
	// ErrUpgradeRefused: an upgrade the gateway does not pass on (h2c, which lets a
	// client talk past a lenient upstream's request parsing; SECURITY.md H9).
	ErrUpgradeRefused = errors.New("upgrade refused")
	// ErrForwardedRequest: a forward-auth check did not come from a trusted proxy, or its
	// description of the original request is missing or malformed (SECURITY.md H5).
	ErrForwardedRequest = errors.New("forward auth: missing, malformed or untrusted description of the original request")
)

// HeaderError is set on every error response the gateway writes itself, with the row's
// code, so that a client (or an operator reading a proxy's log) can tell a gateway-made
// error from one the upstream sent.
const HeaderError = "X-Authgate-Error"

// Failure is what a client is told about an error.
type Failure struct {
	Status  int
	Code    string // stable, machine-readable: "not_logged_in", "upstream_timeout", …
	Message string // the seed's message where it had one
}

// Problem is one validation problem in the seed's shape.
type Problem struct {
	Path    []string `json:"path"`
	Message string   `json:"message"`
	Code    string   `json:"code"`
}

// ValidationError is a request body's problems, rendered as
// {"status":"fail","error":[{"path":["body","email"],"message":…,"code":…}, …]}.
type ValidationError struct {
	Problems []Problem
}

func (e *ValidationError) Error() string {
	if len(e.Problems) == 0 {
		return "validation failed"
	}
	return "validation failed: " + e.Problems[0].Message
}

type row struct {
	err error
	Failure
}

// Table is the error table. Build it once with New; it is immutable.
type Table struct {
	rows []row
	log  *slog.Logger
	page *template.Template
}

// New returns the table; 5xx failures are logged to log (nil discards).
func New(log *slog.Logger) *Table {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Table{log: log, page: template.Must(template.New("error").Parse(errorPage)), rows: []row{
		{authsvc.ErrNotLoggedIn, Failure{http.StatusUnauthorized, "not_logged_in", "You are not logged in"}},
		{authsvc.ErrInvalidToken, Failure{http.StatusUnauthorized, "invalid_token", "Invalid token or user doesn't exist"}},
		{authsvc.ErrSessionExpired, Failure{http.StatusUnauthorized, "session_expired", "User session has expired"}},
		{authsvc.ErrForbidden, Failure{http.StatusForbidden, "forbidden", "You are not allowed to perform this action"}},
		{authsvc.ErrInvalidCredentials, Failure{http.StatusUnauthorized, "invalid_credentials", "Invalid email or password"}},
		{authsvc.ErrEmailTaken, Failure{http.StatusConflict, "email_taken", "Email already exist"}},
		{authsvc.ErrRefreshFailed, Failure{http.StatusForbidden, "refresh_failed", "Could not refresh access token"}},
		{authsvc.ErrNotVerified, Failure{http.StatusUnauthorized, "not_verified", "You are not verified, check your email to verify your account"}},
		{authsvc.ErrVerificationFailed, Failure{http.StatusUnauthorized, "verification_failed", "Could not verify email"}},
		{authsvc.ErrResetTokenInvalid, Failure{http.StatusForbidden, "reset_token_invalid", "Token is invalid or has expired"}},
		{authsvc.ErrMailFailed, Failure{http.StatusInternalServerError, "mail_failed", "There was an error sending email, please try again"}},
		{authsvc.ErrWrongPassword, Failure{http.StatusForbidden, "wrong_password", "Your current password is incorrect"}},
		{authsvc.ErrRateLimited, Failure{http.StatusTooManyRequests, "rate_limited", "Too many requests, please try again later"}},
		{authsvc.ErrLastAdmin, Failure{http.StatusConflict, "last_admin", "The last admin cannot be demoted, disabled or deleted"}},
		{authsvc.ErrNotFound, Failure{http.StatusNotFound, "not_found", "Not found"}},
		{authsvc.ErrUnavailable, Failure{http.StatusServiceUnavailable, "unavailable", "Service temporarily unavailable, please retry"}},
		{ErrMalformedBody, Failure{http.StatusBadRequest, "malformed_body", "Malformed JSON in request body"}},
		{ErrBodyTooLarge, Failure{http.StatusRequestEntityTooLarge, "body_too_large", "Request body too large"}},
		{ErrBodyTimeout, Failure{http.StatusRequestTimeout, "body_timeout", "Request body not received in time"}},
		{ErrUpgradeRefused, Failure{http.StatusBadRequest, "upgrade_refused", "Upgrade not supported"}},
		{csrf.ErrCrossSite, Failure{http.StatusForbidden, "cross_site", "Cross-site request refused"}},
		{ErrForwardedRequest, Failure{http.StatusUnauthorized, "forwarded_request", "Forward-auth request not accepted"}},
		{routing.ErrBadPath, Failure{http.StatusBadRequest, "bad_path", "Invalid request path"}},
		{proxy.ErrUpstreamTimeout, Failure{http.StatusGatewayTimeout, "upstream_timeout", "Upstream service timed out"}},
		{proxy.ErrUpstream, Failure{http.StatusBadGateway, "upstream_unavailable", "Upstream service unavailable"}},
	}}
}

// notFound is the seed's unknown-route answer: the original URL, query included.
func notFound(r *http.Request) Failure {
	return Failure{http.StatusNotFound, "route_not_found", "Route " + r.RequestURI + " not found"}
}

// Lookup returns the failure err stands for in answer to r. *ValidationError is a 400
// "validation"; echo's own errors (unknown route or method, a body over Echo's limit)
// are mapped like the seed answered them; anything else is a 500.
func (t *Table) Lookup(err error, r *http.Request) Failure {
	var ve *ValidationError
	if errors.As(err, &ve) {
		return Failure{http.StatusBadRequest, "validation", "Validation failed"}
	}
	for _, row := range t.rows {
		if errors.Is(err, row.err) {
			return row.Failure
		}
	}
	if errors.Is(err, routing.ErrNoRoute) {
		return notFound(r)
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		switch he.Code {
		case http.StatusNotFound, http.StatusMethodNotAllowed:
			return notFound(r) // Express answered an unknown method like an unknown route
		case http.StatusRequestEntityTooLarge:
			return t.Lookup(ErrBodyTooLarge, r)
		}
		if he.Code >= 400 && he.Code < 500 {
			return Failure{he.Code, "http_" + http.StatusText(he.Code), http.StatusText(he.Code)}
		}
	}
	return Failure{http.StatusInternalServerError, "internal", "Something went wrong"}
}

// Write answers r with err: an HTML page for a browser's top-level navigation (see
// WantsHTML), else the seed's JSON envelope.
func (t *Table) Write(w http.ResponseWriter, r *http.Request, err error) {
	if WantsHTML(r) {
		t.WriteHTML(w, r, err)
		return
	}
	t.WriteJSON(w, r, err)
}

// WriteJSON answers r with err in the seed's envelope: {"status":"fail"|"error",
// "message":…}, or {"status":"fail","error":[…]} for validation.
func (t *Table) WriteJSON(w http.ResponseWriter, r *http.Request, err error) {
	t.writeJSON(w, r, err, t.Lookup(err, r))
}

// WriteAs is WriteJSON with the status forced, for a client that understands only a few
// (nginx auth_request: 2xx, 401, 403); the message and code stay err's.
func (t *Table) WriteAs(w http.ResponseWriter, r *http.Request, err error, status int) {
	f := t.Lookup(err, r)
	t.logFailure(r, f, err)
	f.Status = status
	t.writeJSON(w, r, err, f)
}

func (t *Table) writeJSON(w http.ResponseWriter, r *http.Request, err error, f Failure) {
	if f.Status >= 500 {
		t.logFailure(r, f, err)
	}
	body := map[string]any{"status": envelopeStatus(f.Status), "message": f.Message}
	var ve *ValidationError
	if errors.As(err, &ve) {
		body = map[string]any{"status": "fail", "error": ve.Problems}
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=UTF-8")
	t.commonHeaders(h, f)
	w.WriteHeader(f.Status)
	if r.Method != http.MethodHead {
		_ = json.NewEncoder(w).Encode(body)
	}
}

func (t *Table) commonHeaders(h http.Header, f Failure) {
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set(HeaderError, f.Code)
	if f.Status == http.StatusServiceUnavailable {
		h.Set("Retry-After", "1")
	}
}

func (t *Table) logFailure(r *http.Request, f Failure, err error) {
	if f.Status < 500 || errors.Is(err, context.Canceled) { // a client that left is not a failure
		return
	}
	level := slog.LevelWarn // dependencies and upstreams: expected during outages
	if f.Status == http.StatusInternalServerError {
		level = slog.LevelError
	}
	t.log.Log(r.Context(), level, "request failed", "status", f.Status, "error", err,
		"method", r.Method, "path", r.URL.Path, "request_id", r.Header.Get("X-Request-Id"))
}

// envelopeStatus is the seed's "status": "fail" for 4xx, "error" for 5xx.
func envelopeStatus(status int) string {
	if status >= 500 {
		return "error"
	}
	return "fail"
}
