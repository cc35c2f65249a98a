package adminapi

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/authgate/authgate/authsvc"
	"github.com/authgate/authgate/gateway/internal/httperr"
)

// fakeCore records calls; the store behaviour is tested end to end (gateway/admin_test.go).
type fakeCore struct {
	calls []string
	err   error
}

func (f *fakeCore) ListUsers(_ context.Context, q authsvc.UserQuery) (authsvc.UserPage, error) {
	f.calls = append(f.calls, "list")
	return authsvc.UserPage{Page: max(q.Page, 1), Limit: max(q.Limit, 20)}, f.err
}

func (f *fakeCore) User(context.Context, string) (authsvc.User, error) { return authsvc.User{}, f.err }

func (f *fakeCore) UpdateUser(_ context.Context, id string, up authsvc.UserUpdate) (authsvc.User, error) {
	f.calls = append(f.calls, "update "+id)
	u := authsvc.User{ID: id, Role: "user"}
	if up.Role != nil {
		u.Role = *up.Role
	}
	if up.Disabled != nil {
		u.Disabled = *up.Disabled
	}
	return u, f.err
}

func (f *fakeCore) DeleteUser(_ context.Context, id string) error {
	f.calls = append(f.calls, "delete "+id)
	return f.err
}

func (f *fakeCore) UserSessions(context.Context, string) ([]authsvc.Session, error) {
	return nil, f.err
}

func (f *fakeCore) RevokeUserSessions(context.Context, string) (int, error) { return 0, f.err }

func (f *fakeCore) RevokeUserSession(context.Context, string, string) error { return f.err }

const uid = "0123456789abcdef01234567"

func serve(t *testing.T, f *fakeCore, log *slog.Logger, method, target, body string) *httptest.ResponseRecorder {
	t.Helper()
	a := New(f, f, log)
	e := echo.New()
	errs := httperr.New(nil)
	e.HTTPErrorHandler = func(err error, c echo.Context) { errs.Write(c.Response(), c.Request(), err) }
	g := e.Group("/api/admin", func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			c.SetRequest(r.WithContext(WithActor(r.Context(), authsvc.Identity{UserID: "admin-1", SessionID: "s-1", Role: "admin"})))
			return next(c)
		}
	})
	g.GET("/users", a.ListUsers)
	g.PATCH("/users/:id", a.UpdateUser)
	g.DELETE("/users/:id", a.DeleteUser)
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	return rec
}

// TestAuditLine: every change logs one "admin action" line with the actor, the action
// and the target; refused input reaches neither the core nor the log.
func TestAuditLine(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	f := &fakeCore{}
	if rec := serve(t, f, log, "PATCH", "/api/admin/users/"+uid, `{"role":"editor","disabled":false,"extra":1}`); rec.Code != 200 {
		t.Fatalf("PATCH: %d %s", rec.Code, rec.Body)
	}
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("log %q: %v", buf.String(), err)
	}
	for k, v := range map[string]any{"msg": "admin action", "actor_id": "admin-1", "actor_session_id": "s-1", "action": "user.update",
		"target_id": uid, "role": "editor", "disabled": false} {
		if line[k] != v {
			t.Errorf("log %s = %v, want %v", k, line[k], v)
		}
	}
	buf.Reset()
	for _, c := range []struct{ method, target, body string }{
		{"PATCH", "/api/admin/users/" + uid, `{"role":""}`},
		{"PATCH", "/api/admin/users/" + uid, `{"role":`},
		{"PATCH", "/api/admin/users/" + uid, `{}`},
		{"PATCH", "/api/admin/users/nothex", `{"role":"admin"}`},
		{"DELETE", "/api/admin/users/" + uid + "0", ""},
		{"GET", "/api/admin/users?limit=500", ""},
	} {
		if rec := serve(t, f, log, c.method, c.target, c.body); rec.Code != 400 && rec.Code != 404 {
			t.Errorf("%s %s %s: %d %s", c.method, c.target, c.body, rec.Code, rec.Body)
		}
	}
	if len(f.calls) != 1 || buf.Len() != 0 {
		t.Fatalf("refused requests reached the core %v or the log %q", f.calls, buf.String())
	}
	f.err = authsvc.ErrLastAdmin
	if rec := serve(t, f, log, "DELETE", "/api/admin/users/"+uid, ""); rec.Code != 409 || buf.Len() != 0 {
		t.Fatalf("refused delete: %d %s, log %q", rec.Code, rec.Body, buf.String())
	}
}
