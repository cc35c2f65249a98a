package authsvc

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/authgate/authgate/authsvc/internal/audit"
	"github.com/authgate/authgate/authsvc/internal/users"
)

// The audit log (internal/audit): every security event and admin action is a log line
// ("audit") and a document in audit_events, kept for AuditConfig.Retention. Inside the
// core an event is one call:
//
//	s.audit.Record(ctx, audit.Event{Type: audit.RoleChanged, UserID: uid, Details: map[string]any{"role": role}})
//
// Time, actor, client IP and User-Agent come from the context when the event leaves
// them empty (WithClient, WithActor). Recording never blocks and never fails the
// caller's operation.

// AuditConfig bounds the audit log. Both values are required.
type AuditConfig struct {
	Retention       time.Duration // events are kept this long, then never read and deleted
	CleanupInterval time.Duration // how often expired events are deleted
}

func (c *AuditConfig) check() []error {
	if c.Retention <= 0 || c.CleanupInterval <= 0 {
		return []error{errors.New("authsvc: Audit.Retention and Audit.CleanupInterval must be > 0")}
	}
	return nil
}

// auditQueue is how many events may wait for MongoDB; more are dropped (counted).
const auditQueue = 1024

// AuditEvent is one recorded event, as read back by AuditEvents.
type AuditEvent = audit.Event

// AuditQuery selects events: newest first, Limit (1..MaxAuditLimit, 0: 20) per Page
// (1-based, 0: 1), optionally of one Type and about one user (as subject or actor).
type AuditQuery struct {
	Page, Limit int
	Type        string
	UserID      string
}

// AuditPage is one page of events and how many match the query.
type AuditPage struct {
	Events      []AuditEvent
	Page, Limit int
	Total       int64
}

// MaxAuditLimit is the most events one page holds.
const MaxAuditLimit = 100

// auditType is what an event type looks like ("login.failure", "admin.user_deleted").
var auditType = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$`)

// AuditEvents returns a page of the audit log; expired events are never returned.
// Errors: *ValidationError (fields "page", "limit", "type", "user"), ErrUnavailable.
func (s *Service) AuditEvents(ctx context.Context, q AuditQuery) (AuditPage, error) {
	if q.Page == 0 {
		q.Page = 1
	}
	if q.Limit == 0 {
		q.Limit = 20
	}
	var issues []Issue
	if q.Page < 1 || q.Page > maxPage { // beyond it the skip would overflow
		issues = append(issues, Issue{"page", IssueInvalid})
	}
	if q.Limit < 1 || q.Limit > MaxAuditLimit {
		issues = append(issues, Issue{"limit", IssueInvalid})
	}
	if q.Type != "" && (len(q.Type) > 64 || !auditType.MatchString(q.Type)) {
		issues = append(issues, Issue{"type", IssueInvalid})
	}
	if q.UserID != "" && !users.ValidID(q.UserID) {
		issues = append(issues, Issue{"user", IssueInvalid})
	}
	if len(issues) > 0 {
		return AuditPage{}, &ValidationError{Issues: issues}
	}
	p, err := s.auditStore.Find(ctx, audit.Query{Page: q.Page, Limit: q.Limit, Type: q.Type, UserID: q.UserID}, s.cfg.Clock())
	if err != nil {
		return AuditPage{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return AuditPage{Events: p.Events, Page: p.Page, Limit: p.Limit, Total: p.Total}, nil
}

// WithClient returns ctx describing the client behind a request, for the audit events
// the request causes.
func WithClient(ctx context.Context, cl Client) context.Context {
	return audit.WithRequest(ctx, audit.Request{IP: truncate(cl.IP, 64), UserAgent: truncate(cl.UserAgent, 256)})
}

// WithActor returns ctx naming the signed-in user acting (an admin, or a user on their
// own account), for the audit events the request causes.
func WithActor(ctx context.Context, userID string) context.Context {
	return audit.WithRequest(ctx, audit.Request{ActorID: userID})
}

// runAudit writes audit events and deletes expired ones every CleanupInterval until ctx
// ends, then flushes the events still queued.
func (s *Service) runAudit(ctx context.Context) {
	done := make(chan struct{})
	go func() { s.audit.Run(ctx); close(done) }()
	t := time.NewTicker(s.cfg.Audit.CleanupInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			<-done
			return
		case <-t.C:
			n, err := s.auditStore.DeleteExpired(ctx, s.cfg.Clock())
			switch {
			case err != nil:
				s.log.WarnContext(ctx, "audit cleanup failed", "error", err)
			case n > 0:
				s.log.InfoContext(ctx, "audit cleanup", "deleted", n)
			}
		}
	}
}

// auditLoginFailure records a failed login; uid is "" when no account has the email.
// reason says why (invalid_credentials, locked_out, disabled, not_verified): the caller
// was answered like a wrong password in all but the last, the audit log (read by
// admins) says which.
func (s *Service) auditLoginFailure(ctx context.Context, email string, cl Client, uid, reason string) {
	s.audit.Record(ctx, audit.Event{Type: audit.LoginFailure, UserID: uid, IP: truncate(cl.IP, 64),
		UserAgent: truncate(cl.UserAgent, 256), Details: map[string]any{"email": truncate(email, 254), "reason": reason}})
}
