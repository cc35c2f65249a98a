package sessions

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Create stores s together with its index entry, atomically (one script). It fills
// CreatedAt and LastSeen with now and ExpiresAt with now+MaxTTL when they are zero, and
// caps ExpiresAt at now+MaxTTL. The record's TTL is min(IdleTTL, ExpiresAt-now). When
// the user already has MaxPerUser sessions, the least recently used are revoked to make
// room; their ids are returned in evicted. It returns the session as stored (times
// truncated to milliseconds).
//
// Errors: ErrInvalid (malformed ID, UserID or RefreshJTI, ExpiresAt not in the future,
// session ID already in use), ErrUnavailable.
func (st *Store) Create(ctx context.Context, s Session) (stored Session, evicted []string, err error) {
	const op = "create"
	switch {
	case !validID(s.UserID):
		return Session{}, nil, invalid(op, "malformed user id")
	case !validID(s.ID):
		return Session{}, nil, invalid(op, "malformed session id")
	case !validJTI(s.RefreshJTI):
		return Session{}, nil, invalid(op, "malformed refresh jti")
	}
	now := truncMS(st.cfg.Clock())
	if s.CreatedAt.IsZero() {
		s.CreatedAt = now
	}
	if s.LastSeen.IsZero() {
		s.LastSeen = now
	}
	if limit := now.Add(st.cfg.MaxTTL); s.ExpiresAt.IsZero() || s.ExpiresAt.After(limit) {
		s.ExpiresAt = limit
	}
	s.CreatedAt, s.LastSeen, s.ExpiresAt, s.RotatedAt = truncMS(s.CreatedAt), truncMS(s.LastSeen), truncMS(s.ExpiresAt), truncMS(s.RotatedAt)
	if !s.ExpiresAt.After(now) {
		return Session{}, nil, invalid(op, "expiry not in the future")
	}
	ttl := min(st.cfg.IdleTTL, s.ExpiresAt.Sub(now))

	ctx, cancel := context.WithTimeout(ctx, st.cfg.Timeout)
	defer cancel()
	args := append([]any{
		s.ID, now.UnixMilli(), max(ttl.Milliseconds(), 1), st.recordBase(s.UserID), st.cfg.MaxPerUser,
	}, encode(s)...)
	keys := []string{st.recordKey(s.UserID, s.ID), st.indexKey(s.UserID)}
	reply, err := st.scripts.create.Run(ctx, st.rdb, keys, args...).Slice()
	if err != nil {
		return Session{}, nil, unavailable(op, err)
	}
	if len(reply) == 0 {
		return Session{}, nil, unavailable(op, errors.New("empty script reply"))
	}
	if code, _ := reply[0].(int64); code != 1 {
		return Session{}, nil, invalid(op, "session id already in use")
	}
	for _, v := range reply[1:] {
		if sid, ok := v.(string); ok {
			evicted = append(evicted, sid)
			st.publish(ctx, s.UserID, sid)
		}
	}
	return s, evicted, nil
}

// Get returns the session in exactly one round trip (HMGET). A record past its
// absolute or idle limit by the Store's clock counts as absent, as does one stored
// under another user.
//
// Errors: ErrNotFound, ErrUnavailable.
func (st *Store) Get(ctx context.Context, userID, sessionID string) (Session, error) {
	const op = "get"
	if !validID(userID) || !validID(sessionID) {
		return Session{}, fmt.Errorf("%s: %w", op, ErrNotFound)
	}
	ctx, cancel := context.WithTimeout(ctx, st.cfg.Timeout)
	defer cancel()
	// HMGET through Do with the field names boxed once (New): the hot path's only
	// Redis command allocates its argument list, not one interface per field.
	args := make([]any, 2, 2+len(st.hmgetFields))
	args[0], args[1] = "hmget", st.recordKey(userID, sessionID)
	vals, err := st.rdb.Do(ctx, append(args, st.hmgetFields...)...).Slice()
	if errors.Is(err, redis.Nil) {
		return Session{}, fmt.Errorf("%s: %w", op, ErrNotFound)
	}
	if err != nil {
		return Session{}, unavailable(op, err)
	}
	s, ok := decode(sessionID, vals)
	if !ok || s.UserID != userID || !st.live(s, st.cfg.Clock()) {
		return Session{}, fmt.Errorf("%s: %w", op, ErrNotFound)
	}
	return s, nil
}

// Rotate compares presentedJTI with the session's refresh token ids, atomically (one
// script):
//   - the current one: newJTI becomes current, presentedJTI previous, RotatedAt and
//     LastSeen now, and the idle TTL slides (capped by ExpiresAt) → Rotated;
//   - the previous one, rotated away at most Grace ago: only LastSeen changes →
//     GraceReplay (two tabs refreshing at once must not log the user out);
//   - anything else: the session and its index entry are deleted → ErrReplay.
//
// Errors: ErrNotFound (no live session; nothing is revoked), ErrReplay, ErrInvalid
// (empty or malformed jti, newJTI equal to presentedJTI; nothing is changed),
// ErrUnavailable.
func (st *Store) Rotate(ctx context.Context, userID, sessionID, presentedJTI, newJTI string) (Session, Outcome, error) {
	const op = "rotate"
	if !validID(userID) || !validID(sessionID) {
		return Session{}, 0, fmt.Errorf("%s: %w", op, ErrNotFound)
	}
	if !validJTI(presentedJTI) || !validJTI(newJTI) || presentedJTI == newJTI {
		return Session{}, 0, invalid(op, "malformed refresh jti")
	}
	ctx, cancel := context.WithTimeout(ctx, st.cfg.Timeout)
	defer cancel()
	keys := []string{st.recordKey(userID, sessionID), st.indexKey(userID)}
	reply, err := st.scripts.rotate.Run(ctx, st.rdb, keys, sessionID, presentedJTI, newJTI,
		st.cfg.Clock().UnixMilli(), st.graceMS, st.cfg.IdleTTL.Milliseconds()).Slice()
	if err != nil {
		return Session{}, 0, unavailable(op, err)
	}
	if len(reply) == 0 {
		return Session{}, 0, unavailable(op, errors.New("empty script reply"))
	}
	code, _ := reply[0].(int64)
	switch code {
	case 0:
		return Session{}, 0, fmt.Errorf("%s: %w", op, ErrNotFound)
	case 3:
		st.publish(ctx, userID, sessionID)
		return Session{}, 0, fmt.Errorf("%s: %w", op, ErrReplay)
	}
	s, ok := decode(sessionID, reply[1:])
	if !ok || (code != 1 && code != 2) {
		return Session{}, 0, unavailable(op, fmt.Errorf("unexpected script reply %v", reply))
	}
	return s, Outcome(code), nil
}

// Touch proves that refreshJTI belongs to a live session (the current refresh token, or
// the one rotated away within the grace window) and slides the session's idle expiry,
// at most once per every; nothing is rotated and nothing is revoked (reuse is judged by
// Rotate alone). It returns the session as stored.
//
// Errors: ErrNotFound (no live session, or not its refresh token), ErrUnavailable.
func (st *Store) Touch(ctx context.Context, userID, sessionID, refreshJTI string, every time.Duration) (Session, error) {
	const op = "touch"
	if !validID(userID) || !validID(sessionID) || !validJTI(refreshJTI) {
		return Session{}, fmt.Errorf("%s: %w", op, ErrNotFound)
	}
	ctx, cancel := context.WithTimeout(ctx, st.cfg.Timeout)
	defer cancel()
	keys := []string{st.recordKey(userID, sessionID), st.indexKey(userID)}
	reply, err := st.scripts.touch.Run(ctx, st.rdb, keys, sessionID, refreshJTI, st.cfg.Clock().UnixMilli(),
		max(st.graceMS, 0), st.cfg.IdleTTL.Milliseconds(), every.Milliseconds()).Slice()
	if err != nil {
		return Session{}, unavailable(op, err)
	}
	if len(reply) == 0 {
		return Session{}, unavailable(op, errors.New("empty script reply"))
	}
	if code, _ := reply[0].(int64); code != 1 {
		return Session{}, fmt.Errorf("%s: %w", op, ErrNotFound)
	}
	s, ok := decode(sessionID, reply[1:])
	if !ok || s.UserID != userID {
		return Session{}, fmt.Errorf("%s: %w", op, ErrNotFound)
	}
	return s, nil
}

// Delete removes the session and its index entry atomically (MULTI). It is idempotent:
// deleting an absent session returns nil.
//
// Errors: ErrUnavailable.
func (st *Store) Delete(ctx context.Context, userID, sessionID string) error {
	if !validID(userID) || !validID(sessionID) {
		return nil // no such key can exist
	}
	ctx, cancel := context.WithTimeout(ctx, st.cfg.Timeout)
	defer cancel()
	_, err := st.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, st.recordKey(userID, sessionID))
		p.ZRem(ctx, st.indexKey(userID), sessionID)
		return nil
	})
	if err != nil {
		return unavailable("delete", err)
	}
	st.publish(ctx, userID, sessionID)
	return nil
}

// List returns the user's live sessions, newest (by CreatedAt) first, in one script
// that also deletes records past a limit and drops index entries whose record is gone.
// A user without sessions gets an empty slice.
//
// Errors: ErrUnavailable.
func (st *Store) List(ctx context.Context, userID string) ([]Session, error) {
	const op = "list"
	if !validID(userID) {
		return []Session{}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, st.cfg.Timeout)
	defer cancel()
	reply, err := st.scripts.list.Run(ctx, st.rdb, []string{st.indexKey(userID)},
		st.recordBase(userID), st.cfg.Clock().UnixMilli(), st.cfg.IdleTTL.Milliseconds()).Slice()
	if err != nil {
		return nil, unavailable(op, err)
	}
	out := make([]Session, 0, len(reply))
	for _, item := range reply {
		row, _ := item.([]any)
		if len(row) != numFields+1 {
			return nil, unavailable(op, fmt.Errorf("unexpected script reply row %v", item))
		}
		sid, _ := row[0].(string)
		if s, ok := decode(sid, row[1:]); ok {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b Session) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	return out, nil
}

// DeleteAll revokes every session of the user (logout everywhere, password change,
// user deleted) in one script and returns how many session records it deleted.
//
// Errors: ErrUnavailable.
func (st *Store) DeleteAll(ctx context.Context, userID string) (int, error) {
	if !validID(userID) {
		return 0, nil
	}
	ctx, cancel := context.WithTimeout(ctx, st.cfg.Timeout)
	defer cancel()
	n, err := st.scripts.deleteAll.Run(ctx, st.rdb, []string{st.indexKey(userID)}, st.recordBase(userID)).Int()
	if err != nil {
		return 0, unavailable("delete all", err)
	}
	st.publish(ctx, userID, allSessions)
	return n, nil
}

// DeleteOthers revokes every session of the user but keep (a password change keeps the
// session that made it) in one script, announces each one revoked (so that only their
// connections close), and returns their ids.
//
// Errors: ErrUnavailable.
func (st *Store) DeleteOthers(ctx context.Context, userID, keep string) ([]string, error) {
	if !validID(userID) {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, st.cfg.Timeout)
	defer cancel()
	ids, err := st.scripts.deleteOthers.Run(ctx, st.rdb, []string{st.indexKey(userID)}, st.recordBase(userID), keep).StringSlice()
	if err != nil {
		return nil, unavailable("delete others", err)
	}
	for _, sid := range ids {
		st.publish(ctx, userID, sid)
	}
	return ids, nil
}

// SetRole sets the role of every session of the user in one script, so that a role
// change takes effect on the user's next request. Record TTLs are kept.
//
// Errors: ErrUnavailable.
func (st *Store) SetRole(ctx context.Context, userID, role string) error {
	if !validID(userID) {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, st.cfg.Timeout)
	defer cancel()
	err := st.scripts.setRole.Run(ctx, st.rdb, []string{st.indexKey(userID)}, st.recordBase(userID), role).Err()
	if err != nil {
		return unavailable("set role", err)
	}
	st.publish(ctx, userID, allSessions)
	return nil
}

// Ping checks that Redis answers within the Timeout (readiness).
//
// Errors: ErrUnavailable.
func (st *Store) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, st.cfg.Timeout)
	defer cancel()
	if err := st.rdb.Ping(ctx).Err(); err != nil {
		return unavailable("ping", err)
	}
	return nil
}
