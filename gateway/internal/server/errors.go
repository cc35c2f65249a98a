package server

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/authgate/authgate/authsvc"
	"github.com/authgate/authgate/gateway/internal/policy"
	"github.com/authgate/authgate/gateway/internal/proxy"
)

// errRouteNotFound: no route table entry and no built-in route matches.
var errRouteNotFound = errors.New("route not found")

// failure is one row of the error table: what the client sees.
type failure struct {
	status  int
	message string
}

// failures maps every sentinel a handler may return to the seed's status and message.
// It is the only place where errors become responses.
func failures() []struct {
	err error
	failure
} {
	return []struct {
		err error
		failure
	}{
		{authsvc.ErrNotLoggedIn, failure{http.StatusUnauthorized, "You are not logged in"}},
		{authsvc.ErrInvalidToken, failure{http.StatusUnauthorized, "Invalid token or user doesn't exist"}},
		{authsvc.ErrSessionExpired, failure{http.StatusUnauthorized, "User session has expired"}},
		{authsvc.ErrForbidden, failure{http.StatusForbidden, "You are not allowed to perform this action"}},
		{authsvc.ErrInvalidCredentials, failure{http.StatusUnauthorized, "Invalid email or password"}},
		{authsvc.ErrEmailTaken, failure{http.StatusConflict, "Email already exist"}},
		{authsvc.ErrRefreshFailed, failure{http.StatusForbidden, "Could not refresh access token"}},
		{authsvc.ErrMalformedBody, failure{http.StatusBadRequest, "Malformed JSON in request body"}},
		{authsvc.ErrUnavailable, failure{http.StatusServiceUnavailable, "Service temporarily unavailable, please retry"}},
		{policy.ErrBadPath, failure{http.StatusBadRequest, "Invalid request path"}},
		{proxy.ErrUnauthenticated, failure{http.StatusUnauthorized, "You are not logged in"}},
		{proxy.ErrForbidden, failure{http.StatusForbidden, "You are not allowed to perform this action"}},
		{proxy.ErrUpstreamTimeout, failure{http.StatusGatewayTimeout, "Upstream service timed out"}},
		{proxy.ErrUpstream, failure{http.StatusBadGateway, "Upstream service unavailable"}},
	}
}

// errorHandler is Echo's HTTPErrorHandler: every error a handler returns ends here.
func (s *Server) errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	s.writeError(c.Response(), c.Request(), err)
}

// writeError renders err in the seed's envelope: {"status":"fail"|"error","message":...},
// or {"status":"fail","error":[...]} for validation. Unknown errors are a 500 "Something
// went wrong" with the details only in the log.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, body := s.render(err, r)
	if status >= 500 && !errors.Is(err, context.Canceled) { // a client that left is not a failure
		level := slog.LevelWarn // dependencies and upstreams: expected during outages
		if status == http.StatusInternalServerError {
			level = slog.LevelError
		}
		s.log.Log(r.Context(), level, "request failed", "status", status, "error", err,
			"method", r.Method, "path", r.URL.Path, "request_id", r.Header.Get(headerRequestID))
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=UTF-8")
	h.Set("Cache-Control", "no-store")
	if status == http.StatusServiceUnavailable {
		h.Set("Retry-After", "1")
	}
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_ = json.NewEncoder(w).Encode(body)
	}
}

func (s *Server) render(err error, r *http.Request) (int, map[string]any) {
	var ve *authsvc.ValidationError
	if errors.As(err, &ve) {
		return http.StatusBadRequest, map[string]any{"status": "fail", "error": ve.Issues}
	}
	for _, f := range s.table {
		if errors.Is(err, f.err) {
			return f.status, envelope(f.status, f.message)
		}
	}
	notFound := envelope(http.StatusNotFound, "Route "+r.RequestURI+" not found")
	if errors.Is(err, errRouteNotFound) {
		return http.StatusNotFound, notFound
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		switch he.Code {
		case http.StatusNotFound, http.StatusMethodNotAllowed:
			// Express answered an unknown method on a known path like any unknown route.
			return http.StatusNotFound, notFound
		case http.StatusRequestEntityTooLarge:
			return he.Code, envelope(he.Code, "Request body too large")
		}
		if he.Code < 500 {
			return he.Code, envelope(he.Code, http.StatusText(he.Code))
		}
	}
	return http.StatusInternalServerError, envelope(http.StatusInternalServerError, "Something went wrong")
}

// envelope is the seed's error body: "fail" for 4xx, "error" for 5xx.
func envelope(status int, message string) map[string]any {
	st := "fail"
	if status >= 500 {
		st = "error"
	}
	return map[string]any{"status": st, "message": message}
}
