// Package audit records security events and administrative actions: each one is a
// structured log line at once and, through a bounded asynchronous writer, a document
// in MongoDB's audit_events collection. Writing never blocks or fails the caller: a
// full queue or a failed write drops events, which are counted and logged.
//
// Retention works on every MongoDB-wire server: each document carries expiresAt, reads
// ignore expired documents, and a periodic cleanup deletes them; where the server
// supports TTL indexes one is created on expiresAt too (FerretDB has none).
//
// Events never carry passwords, tokens, hashes or codes: callers put only ids, roles
// and counts in Details.
package audit

import (
	"context"
	"time"
)

// Event types the core records. Other callers (lockout, the admin API) add theirs
// under the same scheme: "<what>.<outcome>", and "admin.<action>" for admin actions.
const (
	LoginFailure       = "login.failure"        // wrong password, unknown email, unverified
	LoginLockout       = "login.lockout"        // an account or client locked out (regulation)
	RefreshReuse       = "refresh.reuse"        // a rotated-away refresh token replayed: session revoked
	SessionLogout      = "session.logout"       // the user logged out (one session)
	SessionRevoked     = "session.revoked"      // one session ended by its user or an admin
	SessionsRevoked    = "session.revoked_all"  // every session of a user ended
	SessionEvicted     = "session.evicted"      // too many sessions: the least recently used ended
	PasswordChanged    = "password.changed"     // changed by the user, other sessions revoked
	PasswordChangeFail = "password.change_fail" // the current password given was wrong
	PasswordReset      = "password.reset"       // reset through a mailed link, every session revoked
	RoleChanged        = "role.changed"         // a user's role changed

	// Administrative actions (the admin API and the gateway's users/sessions commands;
	// the actor is the admin, or "cli"). Role changes and session revocations by an
	// admin are the RoleChanged and Session* events above, with the admin as actor.
	UserCreated  = "admin.user_created"  // an account made by an operator
	UserDisabled = "admin.user_disabled" // sign-in refused from now on, every session ended
	UserEnabled  = "admin.user_enabled"  // a disabled account may sign in again
	UserDeleted  = "admin.user_deleted"  // the account and its sessions removed
	PasswordSet  = "admin.password_set"  // a password set by an operator, every session ended
	BanLifted    = "admin.ban_lifted"    // a lockout ended before its time
)

// Event is one recorded event. Time, ActorID, IP and UserAgent left empty are filled
// by Record (the clock, and the request described by the context).
type Event struct {
	ID        string // the document id; set when read back
	Time      time.Time
	Type      string
	ActorID   string         // who did it ("" for an anonymous client)
	UserID    string         // whose account it concerns
	SessionID string         // the session concerned
	IP        string         // the client's address
	UserAgent string         // the client's User-Agent
	Details   map[string]any // never a password, token, hash or code
}

// Request describes who is behind the current request, for the events it causes.
type Request struct {
	ActorID   string
	IP        string
	UserAgent string
}

type requestKey struct{}

// WithRequest returns ctx carrying r; fields of r left empty keep what ctx already
// carries (so an actor can be added to a context that has the client).
func WithRequest(ctx context.Context, r Request) context.Context {
	old := RequestOf(ctx)
	if r.ActorID == "" {
		r.ActorID = old.ActorID
	}
	if r.IP == "" {
		r.IP = old.IP
	}
	if r.UserAgent == "" {
		r.UserAgent = old.UserAgent
	}
	return context.WithValue(ctx, requestKey{}, r)
}

// RequestOf returns what WithRequest put into ctx (zero if nothing).
func RequestOf(ctx context.Context) Request {
	r, _ := ctx.Value(requestKey{}).(Request)
	return r
}

// Query selects events for reading: newest first, Limit per Page (1-based).
type Query struct {
	Page, Limit int
	Type        string // exact type; "" any
	UserID      string // events whose subject or actor is this user; "" any
}

// Page is one page of events and the number of events the query matches.
type Page struct {
	Events      []Event
	Page, Limit int
	Total       int64
}
