package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/authgate/authgate/authsvc"
	"github.com/authgate/authgate/gateway/internal/policy"
	"github.com/authgate/authgate/gateway/internal/proxy"
)

// TestErrorTable: every error a handler can return gets the seed's status, envelope and
// message, wrapped or not; anything unknown is a bare 500 that leaks no detail.
func TestErrorTable(t *testing.T) {
	s := &Server{table: failures(), log: slog.New(slog.DiscardHandler)}
	tests := []struct {
		err     error
		status  int
		message string
	}{
		{authsvc.ErrNotLoggedIn, 401, "You are not logged in"},
		{authsvc.ErrInvalidToken, 401, "Invalid token or user doesn't exist"},
		{authsvc.ErrSessionExpired, 401, "User session has expired"},
		{authsvc.ErrForbidden, 403, "You are not allowed to perform this action"},
		{authsvc.ErrInvalidCredentials, 401, "Invalid email or password"},
		{authsvc.ErrEmailTaken, 409, "Email already exist"},
		{authsvc.ErrRefreshFailed, 403, "Could not refresh access token"},
		{authsvc.ErrMalformedBody, 400, "Malformed JSON in request body"},
		{fmt.Errorf("%w: redis: dial tcp: refused", authsvc.ErrUnavailable), 503, "Service temporarily unavailable, please retry"},
		{fmt.Errorf("%w: detail", policy.ErrBadPath), 400, "Invalid request path"},
		{fmt.Errorf("%w: %w: i/o timeout", proxy.ErrUpstream, proxy.ErrUpstreamTimeout), 504, "Upstream service timed out"},
		{fmt.Errorf("%w: connection refused", proxy.ErrUpstream), 502, "Upstream service unavailable"},
		{errRouteNotFound, 404, "Route /api/nope?x=1 not found"},
		{echo.ErrNotFound, 404, "Route /api/nope?x=1 not found"},
		{echo.ErrMethodNotAllowed, 404, "Route /api/nope?x=1 not found"},
		{echo.ErrStatusRequestEntityTooLarge, 413, "Request body too large"},
		{errors.New("mongo: E11000 secret driver text"), 500, "Something went wrong"},
	}
	for _, tc := range tests {
		t.Run(tc.message, func(t *testing.T) {
			w := httptest.NewRecorder()
			r := httptest.NewRequest(http.MethodGet, "/api/nope?x=1", nil)
			s.writeError(w, r, tc.err)
			var body map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %q: %v", w.Body.String(), err)
			}
			want := "fail"
			if tc.status >= 500 {
				want = "error"
			}
			if w.Code != tc.status || body["message"] != tc.message || body["status"] != want || len(body) != 2 {
				t.Fatalf("got %d %s, want %d %s %q", w.Code, w.Body.String(), tc.status, want, tc.message)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/json; charset=UTF-8" {
				t.Fatalf("content type %q", ct)
			}
		})
	}
}

func TestValidationErrorShape(t *testing.T) {
	s := &Server{table: failures(), log: slog.New(slog.DiscardHandler)}
	w := httptest.NewRecorder()
	s.writeError(w, httptest.NewRequest(http.MethodPost, "/api/auth/register", nil), &authsvc.ValidationError{
		Issues: []authsvc.Issue{{Path: []string{"body", "email"}, Message: "Email is required", Code: "invalid_type"}},
	})
	if w.Code != 400 || w.Body.String() != `{"error":[{"path":["body","email"],"message":"Email is required","code":"invalid_type"}],"status":"fail"}`+"\n" {
		t.Fatalf("got %d %s", w.Code, w.Body.String())
	}
}
