package httperr

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/authgate/authgate/authsvc"
	"github.com/authgate/authgate/gateway/internal/proxy"
	"github.com/authgate/authgate/gateway/internal/routing"
)

// TestTable: every error a handler can return gets the seed's status, envelope and
// message, wrapped or not, with its code in X-Authgate-Error; anything unknown is a bare
// 500 that leaks no detail.
func TestTable(t *testing.T) {
	tbl := New(nil)
	tests := []struct {
		err     error
		status  int
		code    string
		message string
	}{
		{authsvc.ErrNotLoggedIn, 401, "not_logged_in", "You are not logged in"},
		{authsvc.ErrInvalidToken, 401, "invalid_token", "Invalid token or user doesn't exist"},
		{authsvc.ErrSessionExpired, 401, "session_expired", "User session has expired"},
		{authsvc.ErrForbidden, 403, "forbidden", "You are not allowed to perform this action"},
		{authsvc.ErrInvalidCredentials, 401, "invalid_credentials", "Invalid email or password"},
		{authsvc.ErrEmailTaken, 409, "email_taken", "Email already exist"},
		{authsvc.ErrRefreshFailed, 403, "refresh_failed", "Could not refresh access token"},
		{authsvc.ErrNotVerified, 401, "not_verified", "You are not verified, check your email to verify your account"},
		{authsvc.ErrVerificationFailed, 401, "verification_failed", "Could not verify email"},
		{authsvc.ErrResetTokenInvalid, 403, "reset_token_invalid", "Token is invalid or has expired"},
		{fmt.Errorf("%w: smtp: 451 try later", authsvc.ErrMailFailed), 500, "mail_failed", "There was an error sending email, please try again"},
		{ErrMalformedBody, 400, "malformed_body", "Malformed JSON in request body"},
		{ErrBodyTooLarge, 413, "body_too_large", "Request body too large"},
		{echo.ErrStatusRequestEntityTooLarge, 413, "body_too_large", "Request body too large"},
		{ErrBodyTimeout, 408, "body_timeout", "Request body not received in time"},
		{fmt.Errorf("%w: redis: dial tcp: refused", authsvc.ErrUnavailable), 503, "unavailable", "Service temporarily unavailable, please retry"},
		{fmt.Errorf("%w: detail", routing.ErrBadPath), 400, "bad_path", "Invalid request path"},
		{fmt.Errorf("%w: %w: i/o timeout", proxy.ErrUpstream, proxy.ErrUpstreamTimeout), 504, "upstream_timeout", "Upstream service timed out"},
		{fmt.Errorf("%w: connection refused", proxy.ErrUpstream), 502, "upstream_unavailable", "Upstream service unavailable"},
		{routing.ErrNoRoute, 404, "route_not_found", "Route /api/nope?x=1 not found"},
		{echo.ErrNotFound, 404, "route_not_found", "Route /api/nope?x=1 not found"},
		{echo.ErrMethodNotAllowed, 404, "route_not_found", "Route /api/nope?x=1 not found"},
		{errors.New("mongo: E11000 secret driver text"), 500, "internal", "Something went wrong"},
	}
	for _, tc := range tests {
		t.Run(tc.message, func(t *testing.T) {
			w := httptest.NewRecorder()
			r := httptest.NewRequest(http.MethodGet, "/api/nope?x=1", nil)
			tbl.WriteJSON(w, r, tc.err)
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
			h := w.Header()
			if h.Get("Content-Type") != "application/json; charset=UTF-8" || h.Get("Cache-Control") != "no-store" ||
				h.Get(HeaderError) != tc.code || h.Get("X-Content-Type-Options") != "nosniff" {
				t.Fatalf("headers %v", h)
			}
			if (tc.status == 503) != (h.Get("Retry-After") == "1") {
				t.Fatalf("Retry-After %q on %d", h.Get("Retry-After"), tc.status)
			}
		})
	}
}

func TestValidationShape(t *testing.T) {
	w := httptest.NewRecorder()
	New(nil).Write(w, httptest.NewRequest(http.MethodPost, "/api/auth/register", nil), &ValidationError{
		Problems: []Problem{{Path: []string{"body", "email"}, Message: "Email is required", Code: "invalid_type"}},
	})
	if w.Code != 400 || w.Body.String() != `{"error":[{"path":["body","email"],"message":"Email is required","code":"invalid_type"}],"status":"fail"}`+"\n" {
		t.Fatalf("got %d %s", w.Code, w.Body.String())
	}
}

func TestWantsHTML(t *testing.T) {
	tests := []struct {
		header map[string]string
		want   bool
	}{
		{nil, false},
		{map[string]string{"Accept": "*/*"}, false},
		{map[string]string{"Accept": "application/json"}, false},
		{map[string]string{"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}, true},
		{map[string]string{"Accept": "application/json, text/html"}, false},
		{map[string]string{"Sec-Fetch-Mode": "navigate", "Accept": "*/*"}, true},
		{map[string]string{"Sec-Fetch-Mode": "cors", "Accept": "text/html"}, false},
		{map[string]string{"Accept": "nonsense;;, text/html"}, true},
	}
	for _, tc := range tests {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		for k, v := range tc.header {
			r.Header.Set(k, v)
		}
		if got := WantsHTML(r); got != tc.want {
			t.Errorf("WantsHTML(%v) = %v, want %v", tc.header, got, tc.want)
		}
	}
}

// TestHTMLFromTheSameTable: a browser navigation gets a page with the same status and
// message as the JSON form, hardened and escaped.
func TestHTMLFromTheSameTable(t *testing.T) {
	tbl := New(nil)
	for _, err := range []error{authsvc.ErrNotLoggedIn, authsvc.ErrForbidden, routing.ErrNoRoute, errors.New("boom")} {
		r := httptest.NewRequest(http.MethodGet, "/x?<script>=1", nil)
		r.Header.Set("Sec-Fetch-Mode", "navigate")
		w := httptest.NewRecorder()
		tbl.Write(w, r, err)
		f := tbl.Lookup(err, r)
		body := w.Body.String()
		if w.Code != f.Status || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
			t.Fatalf("%v: %d %s", err, w.Code, w.Header().Get("Content-Type"))
		}
		if strings.Contains(body, "<script>") || !strings.Contains(body, escaped(f.Message)) {
			t.Fatalf("%v: page does not carry the escaped message %q:\n%s", err, f.Message, body)
		}
		if strings.Contains(body, "boom") {
			t.Fatal("internal detail on the page")
		}
		for h, want := range map[string]string{"X-Frame-Options": "DENY", "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"} {
			if w.Header().Get(h) != want {
				t.Errorf("%s = %q", h, w.Header().Get(h))
			}
		}
		if !strings.Contains(w.Header().Get("Content-Security-Policy"), "frame-ancestors 'none'") {
			t.Errorf("CSP %q", w.Header().Get("Content-Security-Policy"))
		}
		if (f.Status == 401) != strings.Contains(body, `href="/login"`) {
			t.Errorf("%v: sign-in link on a %d page", err, f.Status)
		}
	}
}

// escaped is what html/template makes of s in text.
func escaped(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;").Replace(s)
}
