// Package adminapi is the admin JSON API under /api/admin.
package adminapi

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/authgate/authgate/authsvc"
	"github.com/authgate/authgate/gateway/internal/httperr"
)

// AuditLog is what reading the audit log needs from the account core.
type AuditLog interface {
	// AuditEvents returns a page of events, newest first: *authsvc.ValidationError,
	// ErrUnavailable.
	AuditEvents(ctx context.Context, q authsvc.AuditQuery) (authsvc.AuditPage, error)
}

// AuditAPI serves GET /api/admin/audit.
type AuditAPI struct{ core AuditLog }

// NewAuditAPI returns the handler.
func NewAuditAPI(core AuditLog) *AuditAPI { return &AuditAPI{core: core} }

// auditParams are the query parameters of GET /api/admin/audit, by the core's field
// names, with the messages of their problems.
var auditParams = []struct{ field, param, message string }{
	{"page", "page", "Page must be a positive integer"},
	{"limit", "limit", "Limit must be an integer from 1 to " + strconv.Itoa(authsvc.MaxAuditLimit)},
	{"type", "type", "Type must be an event type such as login.failure"},
	{"user", "user", "User must be a user id"},
}

// Events handles GET /api/admin/audit?page=&limit=&type=&user=: the audit log, newest
// first, as {"status":"success","data":{"events":[…],"page","limit","total"}}; user
// selects the events about that user or done by them. Errors: *httperr.ValidationError
// (a parameter that is not usable, path ["query", name]), authsvc.ErrUnavailable.
func (a *AuditAPI) Events(c echo.Context) error {
	q := authsvc.AuditQuery{Type: c.QueryParam("type"), UserID: c.QueryParam("user")}
	var bad []string
	for _, p := range []struct {
		name string
		dst  *int
	}{{"page", &q.Page}, {"limit", &q.Limit}} {
		raw := c.QueryParam(p.name)
		if raw == "" {
			continue
		}
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 { // 0 given is not "the default"
			bad = append(bad, p.name)
			n = 1 // the other parameters are checked by the core, so that every problem is reported at once
		}
		*p.dst = n
	}
	page, err := a.core.AuditEvents(c.Request().Context(), q)
	var ve *authsvc.ValidationError
	if errors.As(err, &ve) {
		for _, is := range ve.Issues {
			bad = append(bad, is.Field)
		}
	}
	if len(bad) > 0 {
		return queryProblems(bad)
	}
	if err != nil {
		return err
	}
	events := make([]map[string]any, 0, len(page.Events))
	for _, e := range page.Events {
		details := e.Details
		if details == nil {
			details = map[string]any{}
		}
		events = append(events, map[string]any{
			"id": e.ID, "time": e.Time.UTC().Format("2006-01-02T15:04:05.000Z07:00"), "type": e.Type,
			"actorId": e.ActorID, "userId": e.UserID, "sessionId": e.SessionID,
			"ip": e.IP, "userAgent": e.UserAgent, "details": details,
		})
	}
	return c.JSON(http.StatusOK, map[string]any{"status": "success", "data": map[string]any{
		"events": events, "page": page.Page, "limit": page.Limit, "total": page.Total,
	}})
}

// queryProblems is the validation error naming the fields, in the parameters' order.
func queryProblems(fields []string) error {
	var out []httperr.Problem
	for _, p := range auditParams {
		for _, f := range fields {
			if f == p.field {
				out = append(out, httperr.Problem{Path: []string{"query", p.param}, Message: p.message, Code: "invalid"})
				break
			}
		}
	}
	return &httperr.ValidationError{Problems: out}
}

// The account core satisfies the handler's needs.
var _ AuditLog = (*authsvc.Service)(nil)
