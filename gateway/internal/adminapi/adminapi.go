// Package adminapi is the admin role's JSON API under /api/admin, in the seed's
// envelope: users (list and search, read, change role or disabled, delete) and their
// sessions (list, revoke one or all). Every handler is a thin caller of the account
// core (authsvc) and returns errors, which the server maps in one place (httperr). The
// server authenticates the caller as an admin before any handler runs (WithActor).
package adminapi

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/authgate/authgate/authsvc"
	"github.com/authgate/authgate/gateway/internal/authapi"
)

// Users is what user administration needs from the account core.
type Users interface {
	// ListUsers: *authsvc.ValidationError, ErrUnavailable.
	ListUsers(ctx context.Context, q authsvc.UserQuery) (authsvc.UserPage, error)
	// User: ErrNotFound, ErrUnavailable.
	User(ctx context.Context, id string) (authsvc.User, error)
	// UpdateUser: *authsvc.ValidationError, ErrNotFound, ErrLastAdmin, ErrUnavailable.
	UpdateUser(ctx context.Context, id string, up authsvc.UserUpdate) (authsvc.User, error)
	// DeleteUser: ErrNotFound, ErrLastAdmin, ErrUnavailable.
	DeleteUser(ctx context.Context, id string) error
}

// Sessions is what session administration needs from the account core.
type Sessions interface {
	// UserSessions: ErrNotFound (no such user), ErrUnavailable.
	UserSessions(ctx context.Context, userID string) ([]authsvc.Session, error)
	// RevokeUserSessions: ErrNotFound (no such user), ErrUnavailable.
	RevokeUserSessions(ctx context.Context, userID string) (int, error)
	// RevokeUserSession: ErrNotFound (no such session of this user), ErrUnavailable.
	RevokeUserSession(ctx context.Context, userID, sessionID string) error
}

// API holds the handlers' collaborators.
type API struct {
	users    Users
	sessions Sessions
	log      *slog.Logger
}

// New returns the API; every admin action is logged to log as an "admin action" line
// (actor, action, target).
func New(users Users, sessions Sessions, log *slog.Logger) *API {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &API{users: users, sessions: sessions, log: log}
}

type actorKey struct{}

// WithActor returns ctx carrying the authenticated admin making the request.
func WithActor(ctx context.Context, id authsvc.Identity) context.Context {
	return context.WithValue(ctx, actorKey{}, id)
}

func actor(ctx context.Context) authsvc.Identity {
	id, _ := ctx.Value(actorKey{}).(authsvc.Identity)
	return id
}

// audit logs one admin action; the audit log takes these lines over.
func (a *API) audit(c echo.Context, action, target string, attrs ...any) {
	ctx := c.Request().Context()
	id := actor(ctx)
	a.log.InfoContext(ctx, "admin action", append([]any{"actor_id", id.UserID, "actor_session_id", id.SessionID,
		"action", action, "target_id", target, "request_id", c.Request().Header.Get("X-Request-Id")}, attrs...)...)
}

// ListUsers handles GET /api/admin/users?q=&page=&limit=: a page of USERs (each with
// "disabled"), with page, limit and total. Errors: *httperr.ValidationError,
// authsvc.ErrUnavailable.
func (a *API) ListUsers(c echo.Context) error {
	q, err := parseQuery(c.Request().URL.Query())
	if err != nil {
		return err
	}
	p, err := a.users.ListUsers(c.Request().Context(), q)
	if err != nil {
		return coreError(err, "query")
	}
	list := make([]map[string]any, 0, len(p.Users))
	for _, u := range p.Users {
		list = append(list, RenderUser(u))
	}
	return c.JSON(http.StatusOK, map[string]any{"status": "success", "data": map[string]any{
		"users": list, "page": p.Page, "limit": p.Limit, "total": p.Total,
	}})
}

// GetUser handles GET /api/admin/users/:id. Errors: authsvc.ErrNotFound, ErrUnavailable.
func (a *API) GetUser(c echo.Context) error {
	id := c.Param("id")
	if !authsvc.ValidUserID(id) {
		return authsvc.ErrNotFound
	}
	u, err := a.users.User(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return userResponse(c, u)
}

// UpdateUser handles PATCH /api/admin/users/:id with {"role": …} and/or
// {"disabled": true|false}: the user as changed. The change reaches the user's very
// next request through any replica. Errors: authsvc.ErrNotFound,
// *httperr.ValidationError, ErrMalformedBody, authsvc.ErrLastAdmin, ErrUnavailable.
func (a *API) UpdateUser(c echo.Context) error {
	id := c.Param("id")
	if !authsvc.ValidUserID(id) {
		return authsvc.ErrNotFound
	}
	up, err := decodeUpdate(c.Request())
	if err != nil {
		return err
	}
	u, err := a.users.UpdateUser(c.Request().Context(), id, up)
	if err != nil {
		return coreError(err, "body")
	}
	var attrs []any
	if up.Role != nil {
		attrs = append(attrs, "role", *up.Role)
	}
	if up.Disabled != nil {
		attrs = append(attrs, "disabled", *up.Disabled)
	}
	a.audit(c, "user.update", id, attrs...)
	return userResponse(c, u)
}

// DeleteUser handles DELETE /api/admin/users/:id: the account and its sessions are
// gone. Errors: authsvc.ErrNotFound, ErrLastAdmin, ErrUnavailable.
func (a *API) DeleteUser(c echo.Context) error {
	id := c.Param("id")
	if !authsvc.ValidUserID(id) {
		return authsvc.ErrNotFound
	}
	if err := a.users.DeleteUser(c.Request().Context(), id); err != nil {
		return err
	}
	a.audit(c, "user.delete", id)
	return c.JSON(http.StatusOK, map[string]any{"status": "success"})
}

// ListSessions handles GET /api/admin/users/:id/sessions. Errors: authsvc.ErrNotFound,
// ErrUnavailable.
func (a *API) ListSessions(c echo.Context) error {
	id := c.Param("id")
	if !authsvc.ValidUserID(id) {
		return authsvc.ErrNotFound
	}
	list, err := a.sessions.UserSessions(c.Request().Context(), id)
	if err != nil {
		return err
	}
	out := make([]map[string]any, 0, len(list))
	for _, s := range list {
		out = append(out, authapi.RenderSession(s))
	}
	return c.JSON(http.StatusOK, map[string]any{"status": "success", "data": map[string]any{"sessions": out}})
}

// RevokeSessions handles DELETE /api/admin/users/:id/sessions: every session of the
// user ends, with its WebSockets. Errors: authsvc.ErrNotFound, ErrUnavailable.
func (a *API) RevokeSessions(c echo.Context) error {
	id := c.Param("id")
	if !authsvc.ValidUserID(id) {
		return authsvc.ErrNotFound
	}
	n, err := a.sessions.RevokeUserSessions(c.Request().Context(), id)
	if err != nil {
		return err
	}
	a.audit(c, "sessions.revoke_all", id, "sessions", n)
	return c.JSON(http.StatusOK, map[string]any{"status": "success", "data": map[string]any{"revoked": n}})
}

// RevokeSession handles DELETE /api/admin/users/:id/sessions/:sid. A session of
// another user is not found. Errors: authsvc.ErrNotFound, ErrUnavailable.
func (a *API) RevokeSession(c echo.Context) error {
	id, sid := c.Param("id"), c.Param("sid")
	if !authsvc.ValidUserID(id) {
		return authsvc.ErrNotFound
	}
	if err := a.sessions.RevokeUserSession(c.Request().Context(), id, sid); err != nil {
		return err
	}
	a.audit(c, "sessions.revoke", id, "session_id", sid)
	return c.JSON(http.StatusOK, map[string]any{"status": "success"})
}

func userResponse(c echo.Context, u authsvc.User) error {
	return c.JSON(http.StatusOK, map[string]any{"status": "success", "data": map[string]any{"user": RenderUser(u)}})
}

// RenderUser is the seed's USER (authapi.RenderUser) plus "disabled".
func RenderUser(u authsvc.User) map[string]any {
	out := authapi.RenderUser(u)
	out["disabled"] = u.Disabled
	return out
}

// The account core satisfies the handlers' needs.
var (
	_ Users    = (*authsvc.Service)(nil)
	_ Sessions = (*authsvc.Service)(nil)
)
