package authsvc

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/authgate/authgate/authsvc/internal/audit"
	"github.com/authgate/authgate/authsvc/internal/sessions"
	"github.com/authgate/authgate/authsvc/internal/users"
)

// Administration of accounts, for the admin API and the CLI: list, look up, change the
// role or disable, delete, reset a password, list and revoke sessions. A change takes
// effect on the user's very next request through any replica: the sessions in Redis
// are updated or deleted, which publishes the revocation every replica's session cache
// and socket watcher hear (sessions/revocations.go).
//
// The last enabled admin cannot be demoted, disabled or deleted. Without transactions
// (FerretDB v1 has none) the check is: count the other enabled admins before the
// change (the common refusal, nothing written), write the change, count again, and if
// no enabled admin is left undo it with an update conditional on the values just
// written. Of two admins demoting each other at once, whichever counts last sees the
// other's change: at worst both are refused and rolled back, never both accepted.

// ErrLastAdmin: the change would leave no enabled admin.
var ErrLastAdmin = errors.New("the last admin cannot be demoted, disabled or deleted")

// Paging of ListUsers.
const (
	DefaultPageLimit = 20
	MaxPageLimit     = 100
	maxPage          = 1_000_000
	MaxQueryLength   = 256 // characters of UserQuery.Q
)

// UserQuery selects a page of users.
type UserQuery struct {
	Q     string // matches email or name, case-insensitive, literally; "" matches all
	Page  int    // from 1; 0 means 1
	Limit int    // 1..MaxPageLimit; 0 means DefaultPageLimit
}

// UserPage is one page of users, oldest first, and how many match in all.
type UserPage struct {
	Users       []User
	Page, Limit int
	Total       int64
}

// UserUpdate is an administrator's change of a user; nil fields stay as they are.
type UserUpdate struct {
	Role     *string
	Disabled *bool
}

// rolePattern is what a role name may look like: routes compare roles as strings, so
// any such name is the operator's to use.
var rolePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$`)

// ValidRole reports whether role is an acceptable role name: a letter or digit, then up
// to 63 letters, digits, "_", ".", ":" or "-".
func ValidRole(role string) bool { return rolePattern.MatchString(role) }

func roleIssues(role string) []Issue {
	switch {
	case role == "":
		return []Issue{{"role", IssueRequired}}
	case !ValidRole(role):
		return []Issue{{"role", IssueInvalid}}
	}
	return nil
}

// ListUsers returns a page of the users whose email or name contains q.Q.
// Errors: *ValidationError (fields "q", "page", "limit"), ErrUnavailable.
func (s *Service) ListUsers(ctx context.Context, q UserQuery) (UserPage, error) {
	if q.Page == 0 {
		q.Page = 1
	}
	if q.Limit == 0 {
		q.Limit = DefaultPageLimit
	}
	var issues []Issue
	if utf8.RuneCountInString(q.Q) > MaxQueryLength {
		issues = append(issues, Issue{"q", IssueTooLong})
	} else if !utf8.ValidString(q.Q) || strings.ContainsRune(q.Q, 0) {
		issues = append(issues, Issue{"q", IssueInvalid})
	}
	if q.Page < 1 || q.Page > maxPage {
		issues = append(issues, Issue{"page", IssueInvalid})
	}
	if q.Limit < 1 || q.Limit > MaxPageLimit {
		issues = append(issues, Issue{"limit", IssueInvalid})
	}
	if len(issues) > 0 {
		return UserPage{}, &ValidationError{Issues: issues}
	}
	list, total, err := s.users.List(ctx, q.Q, (q.Page-1)*q.Limit, q.Limit)
	if err != nil {
		return UserPage{}, userError(err, nil)
	}
	page := UserPage{Users: make([]User, 0, len(list)), Page: q.Page, Limit: q.Limit, Total: total}
	for _, u := range list {
		page.Users = append(page.Users, publicUser(u))
	}
	return page, nil
}

// FindUser returns the user named by ref: an id (24 hex digits) or an email.
// Errors: ErrNotFound, ErrUnavailable.
func (s *Service) FindUser(ctx context.Context, ref string) (User, error) {
	if users.ValidID(ref) {
		return s.User(ctx, ref)
	}
	u, err := s.users.ByEmail(ctx, ref)
	if err != nil {
		return User{}, userError(err, nil)
	}
	return publicUser(u), nil
}

// CreateUser creates a verified account (an operator's, no mail), with the rules of
// registration and role u.Role ("" means "user"). Errors: *ValidationError,
// ErrEmailTaken, ErrUnavailable.
func (s *Service) CreateUser(ctx context.Context, u NewUser) (User, error) {
	if u.Role != "" {
		if issues := roleIssues(u.Role); issues != nil {
			return User{}, &ValidationError{Issues: append(s.Validate(u), issues...)}
		}
	}
	created, err := s.register(ctx, u, false)
	if err == nil {
		s.audit.Record(ctx, audit.Event{Type: audit.UserCreated, UserID: created.ID, Details: map[string]any{"role": created.Role}})
	}
	return created, err
}

// UpdateUser changes id's role and/or disabled flag and returns the user as changed. A
// new role reaches every session of the user; disabling revokes them all (their
// WebSockets close too), and from then on login answers ErrInvalidCredentials and
// refresh ErrRefreshFailed. Errors: *ValidationError (role missing or malformed,
// nothing to change), ErrNotFound, ErrLastAdmin, ErrUnavailable.
func (s *Service) UpdateUser(ctx context.Context, id string, up UserUpdate) (User, error) {
	if up.Role == nil && up.Disabled == nil {
		return User{}, &ValidationError{Issues: []Issue{{"role", IssueRequired}, {"disabled", IssueRequired}}}
	}
	if up.Role != nil {
		if issues := roleIssues(*up.Role); issues != nil {
			return User{}, &ValidationError{Issues: issues}
		}
	}
	before, err := s.users.ByID(ctx, id)
	if err != nil {
		return User{}, userError(err, nil)
	}
	demotes := isAdmin(before) && ((up.Role != nil && *up.Role != RoleAdmin) || (up.Disabled != nil && *up.Disabled))
	if err := s.guardedUpdate(ctx, before, users.Changes(up), demotes); err != nil {
		return User{}, err
	}
	switch {
	case up.Disabled != nil && *up.Disabled:
		if _, err := s.sessions.DeleteAll(ctx, id); err != nil {
			return User{}, s.sessionError(err)
		}
	case up.Role != nil:
		if err := s.sessions.SetRole(ctx, id, *up.Role); err != nil {
			return User{}, s.sessionError(err)
		}
	}
	s.propagate(ctx)
	s.log.InfoContext(ctx, "user updated", "user_id", id, "role_changed", up.Role != nil, "disabled", up.Disabled)
	if up.Role != nil && *up.Role != before.Role {
		s.audit.Record(ctx, audit.Event{Type: audit.RoleChanged, UserID: id, Details: map[string]any{"role": *up.Role, "previous": before.Role}})
	}
	if up.Disabled != nil && *up.Disabled != before.Disabled {
		typ := audit.UserEnabled
		if *up.Disabled {
			typ = audit.UserDisabled
		}
		s.audit.Record(ctx, audit.Event{Type: typ, UserID: id})
	}
	return s.User(ctx, id)
}

// SetRole changes a user's role in MongoDB and in every live session, so that it takes
// effect on the user's next request (UpdateUser with only a role). Errors:
// *ValidationError, ErrNotFound, ErrLastAdmin, ErrUnavailable.
func (s *Service) SetRole(ctx context.Context, userID, role string) error {
	_, err := s.UpdateUser(ctx, userID, UserUpdate{Role: &role})
	return err
}

// DeleteUser removes id and ends every session of the user. The account is disabled
// first (the last-admin check), so a login racing the deletion cannot keep a session.
// Errors: ErrNotFound, ErrLastAdmin, ErrUnavailable (the account may be left disabled;
// retry).
func (s *Service) DeleteUser(ctx context.Context, id string) error {
	before, err := s.users.ByID(ctx, id)
	if err != nil {
		return userError(err, nil)
	}
	disabled := true
	if err := s.guardedUpdate(ctx, before, users.Changes{Disabled: &disabled}, isAdmin(before)); err != nil {
		return err
	}
	if _, err := s.sessions.DeleteAll(ctx, id); err != nil {
		return s.sessionError(err)
	}
	if err := s.users.Delete(ctx, id); err != nil && !errors.Is(err, users.ErrNotFound) {
		return userError(err, nil)
	}
	s.propagate(ctx)
	s.log.InfoContext(ctx, "user deleted", "user_id", id)
	s.audit.Record(ctx, audit.Event{Type: audit.UserDeleted, UserID: id, Details: map[string]any{"role": before.Role}})
	return nil
}

// SetPassword gives id a new password (an operator's reset, with the rules of
// registration) and ends every session of the user. Errors: *ValidationError,
// ErrNotFound, ErrUnavailable.
func (s *Service) SetPassword(ctx context.Context, id, password string) error {
	if issues := s.rules.checkPassword(password); len(issues) > 0 {
		return &ValidationError{Issues: issues}
	}
	if _, err := s.users.ByID(ctx, id); err != nil {
		return userError(err, nil)
	}
	hash, err := s.hasher.Hash(ctx, password)
	if err != nil {
		return hashError(err)
	}
	if err := s.users.SetPassword(ctx, id, hash); err != nil {
		return userError(err, nil)
	}
	if _, err := s.sessions.DeleteAll(ctx, id); err != nil {
		return s.sessionError(err)
	}
	s.propagate(ctx)
	s.log.InfoContext(ctx, "password set by an administrator; sessions revoked", "user_id", id)
	s.audit.Record(ctx, audit.Event{Type: audit.PasswordSet, UserID: id})
	return nil
}

// UserSessions lists the live sessions of user id, newest first. Errors: ErrNotFound
// (no such user), ErrUnavailable.
func (s *Service) UserSessions(ctx context.Context, id string) ([]Session, error) {
	if _, err := s.users.ByID(ctx, id); err != nil {
		return nil, userError(err, nil)
	}
	return s.Sessions(ctx, id)
}

// RevokeUserSessions ends every session of user id and returns how many there were.
// Errors: ErrNotFound (no such user), ErrUnavailable.
func (s *Service) RevokeUserSessions(ctx context.Context, id string) (int, error) {
	if _, err := s.users.ByID(ctx, id); err != nil {
		return 0, userError(err, nil)
	}
	n, err := s.RevokeAll(ctx, id)
	if err == nil {
		s.propagate(ctx)
	}
	return n, err
}

// RevokeUserSession ends one session of user id, as RevokeSession, and waits for every
// replica to have dropped it. Errors: ErrNotFound (no such live session of this user),
// ErrUnavailable.
func (s *Service) RevokeUserSession(ctx context.Context, id, sessionID string) error {
	if err := s.RevokeSession(ctx, id, sessionID); err != nil {
		return err
	}
	s.propagate(ctx)
	return nil
}

// propagateWait bounds how long an administrator's change waits for the replicas.
const propagateWait = 250 * time.Millisecond

// propagate waits (at most propagateWait) until every serving replica has applied the
// revocations just published, so that the change counts on the user's very next
// request whichever replica it reaches (sessions/barrier.go). A replica that does not
// answer in time still drops its copy when the message reaches it, and never serves
// one longer than the session cache's TTL.
func (s *Service) propagate(ctx context.Context) {
	if !s.sessions.Barrier(ctx, propagateWait) {
		s.log.WarnContext(ctx, "not every replica confirmed a revocation in time", "wait_ms", propagateWait.Milliseconds())
	}
}

// guardedUpdate writes c to before's document; when guard is set (the change removes
// an enabled admin) it refuses with ErrLastAdmin unless another enabled admin remains,
// counted before and again after the write, undoing the write when the second count
// finds none. Errors: ErrNotFound, ErrLastAdmin, ErrUnavailable.
func (s *Service) guardedUpdate(ctx context.Context, before users.User, c users.Changes, guard bool) error {
	id := before.ID.Hex()
	if guard {
		n, err := s.users.CountAdmins(ctx, RoleAdmin)
		if err != nil {
			return userError(err, nil)
		}
		if n <= 1 {
			return ErrLastAdmin
		}
	}
	if err := s.users.Update(ctx, id, c); err != nil {
		return userError(err, nil)
	}
	if !guard {
		return nil
	}
	n, err := s.users.CountAdmins(ctx, RoleAdmin)
	if err == nil && n >= 1 {
		return nil
	}
	// Undo, but only what is still ours: a field changed since stays as it is.
	undo := users.Changes{}
	if c.Role != nil {
		undo.Role = &before.Role
	}
	if c.Disabled != nil {
		undo.Disabled = &before.Disabled
	}
	rctx := context.WithoutCancel(ctx)
	if uerr := s.users.UpdateIf(rctx, id, c, undo); uerr != nil {
		s.log.ErrorContext(ctx, "last-admin check: change not undone", "user_id", id, "error", uerr)
	} else if c.Role != nil {
		// A refresh in between may have copied the role written a moment ago.
		if serr := s.sessions.SetRole(rctx, id, before.Role); serr != nil {
			s.log.WarnContext(ctx, "last-admin check: sessions' role not restored", "user_id", id, "error", serr)
		}
	}
	if err != nil {
		return userError(err, nil)
	}
	s.log.WarnContext(ctx, "last-admin check: concurrent change undone", "user_id", id)
	return ErrLastAdmin
}

// confirmLogin re-reads the user after Login created sess: an account disabled or
// deleted while the password was being checked must not keep the new session, and a
// role changed meanwhile reaches it. Errors: ErrInvalidCredentials, ErrUnavailable.
func (s *Service) confirmLogin(ctx context.Context, sess sessions.Session) error {
	u, err := s.users.ByID(ctx, sess.UserID)
	switch {
	case errors.Is(err, users.ErrNotFound) || err == nil && u.Disabled:
		if _, derr := s.sessions.DeleteAll(ctx, sess.UserID); derr != nil {
			return s.sessionError(derr)
		}
		return ErrInvalidCredentials
	case errors.Is(err, users.ErrUnavailable):
		return nil // the password was checked against a fresh read; refresh re-checks
	case err != nil:
		return err
	case u.Role != sess.Role:
		if err := s.sessions.SetRole(ctx, sess.UserID, u.Role); err != nil {
			return s.sessionError(err)
		}
	}
	return nil
}

func isAdmin(u users.User) bool { return u.Role == RoleAdmin && !u.Disabled }
