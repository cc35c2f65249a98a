// Package sessions stores login sessions in Redis: one record per login (many per
// user), each holding the user id, role, the current and previous refresh-token ids
// (jti) and metadata. Tokens themselves and password hashes are never stored.
//
// Key layout, safe for Redis Cluster because every key of one user carries the hash
// tag {<userID>} and so lives in one slot, which lets a Lua script touch all of them:
//
//	<prefix>sess:{<userID>}:<sessionID>   hash: the session record
//	<prefix>user:{<userID>}:sessions      sorted set of session ids, score = absolute expiry (unix ms)
//
// A record expires after IdleTTL without a refresh, and never lives past its
// absolute limit (CreatedAt + MaxTTL); the key's TTL enforces both on the server and
// every read checks them again against the injected clock. Every change that touches
// a record and the index runs in one Lua script (or MULTI), so a record never exists
// without its index entry. Times are stored as unix milliseconds.
package sessions

import (
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Sentinel errors; test for them with errors.Is.
var (
	// ErrNotFound: no such session (it never existed, expired or was revoked).
	ErrNotFound = errors.New("sessions: not found")
	// ErrReplay: a refresh token other than the current one (or the previous one within
	// the grace window) was presented; the session has been revoked.
	ErrReplay = errors.New("sessions: refresh token replayed; session revoked")
	// ErrUnavailable: Redis did not answer in time or answered with an error; the error
	// also wraps the cause. It never means "no session".
	ErrUnavailable = errors.New("sessions: store unavailable")
	// ErrInvalid: the caller passed an unusable argument (an empty or malformed id or
	// jti, an expiry in the past, a session id already in use). Nothing was changed.
	ErrInvalid = errors.New("sessions: invalid argument")
)

// Session is one login.
type Session struct {
	ID, UserID, Role string
	RefreshJTI       string    // current refresh token id
	PrevRefreshJTI   string    // the one rotated away most recently ("" before the first rotation)
	RotatedAt        time.Time // zero before the first rotation
	CreatedAt        time.Time
	LastSeen         time.Time // last rotation or grace replay
	ExpiresAt        time.Time // absolute limit (CreatedAt + MaxTTL)
	IP, UserAgent    string
}

// Config configures a Store. Zero fields take the defaults.
type Config struct {
	Prefix  string        // key prefix, default "authgate:"
	IdleTTL time.Duration // sliding idle expiry, default 60m
	MaxTTL  time.Duration // absolute maximum, default 168h
	Grace   time.Duration // refresh reuse grace window, default 10s; negative: no grace
	Timeout time.Duration // deadline added to every Redis call, default 1s
	Clock   func() time.Time
}

// Defaults applied by New to zero (or negative) fields of Config.
const (
	DefaultPrefix  = "authgate:"
	DefaultIdleTTL = 60 * time.Minute
	DefaultMaxTTL  = 7 * 24 * time.Hour
	DefaultGrace   = 10 * time.Second
	DefaultTimeout = time.Second
)

// Outcome tells how Rotate treated the presented refresh token.
type Outcome int

// Outcomes of Rotate.
const (
	// Rotated: the presented token was current; it is now the previous one and newJTI is current.
	Rotated Outcome = iota + 1
	// GraceReplay: the presented token was rotated away within the grace window; nothing
	// changed but LastSeen, and the caller issues no new refresh token.
	GraceReplay
)

func (o Outcome) String() string {
	switch o {
	case Rotated:
		return "Rotated"
	case GraceReplay:
		return "GraceReplay"
	default:
		return fmt.Sprintf("Outcome(%d)", int(o))
	}
}

// Store is the Redis session store. It is safe for concurrent use.
type Store struct {
	rdb     redis.UniversalClient
	cfg     Config
	scripts scripts
	fields  []string // record fields in the order of every HMGET and script reply
}

// New returns a Store on rdb. Give rdb ContextTimeoutEnabled (or read/write timeouts
// no longer than cfg.Timeout): without it go-redis ignores context deadlines on the
// socket and a silent server holds a call for its own ReadTimeout.
func New(rdb redis.UniversalClient, cfg Config) *Store {
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if cfg.IdleTTL <= 0 {
		cfg.IdleTTL = DefaultIdleTTL
	}
	if cfg.MaxTTL <= 0 {
		cfg.MaxTTL = DefaultMaxTTL
	}
	switch {
	case cfg.Grace == 0:
		cfg.Grace = DefaultGrace
	case cfg.Grace < 0:
		cfg.Grace = -time.Millisecond // now-RotatedAt is never <= -1 ms
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	return &Store{rdb: rdb, cfg: cfg, scripts: newScripts(), fields: recordFields()}
}

// recordKey is the key of one session record.
func (st *Store) recordKey(userID, sessionID string) string {
	return st.recordBase(userID) + sessionID
}

// recordBase is the record key without the session id; scripts append ids to it.
func (st *Store) recordBase(userID string) string {
	return st.cfg.Prefix + "sess:{" + userID + "}:"
}

// indexKey is the key of a user's sorted set of session ids.
func (st *Store) indexKey(userID string) string {
	return st.cfg.Prefix + "user:{" + userID + "}:sessions"
}

// validID reports whether s can be a user or session id: 1–128 bytes of
// [A-Za-z0-9._~-]. Braces and colons are excluded because they would let one
// (user, session) pair name another's key or hash slot.
func validID(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := range len(s) {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '.', c == '_', c == '~', c == '-':
		default:
			return false
		}
	}
	return true
}

// validJTI reports whether s can be a refresh token id: 1–256 bytes, no spaces or
// control characters.
func validJTI(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for i := range len(s) {
		if s[i] <= ' ' || s[i] == 0x7f {
			return false
		}
	}
	return true
}

// unavailable wraps a Redis or transport error so that errors.Is matches both
// ErrUnavailable and the cause.
func unavailable(op string, err error) error {
	return fmt.Errorf("%w: %s: %w", ErrUnavailable, op, err)
}

// invalid reports a bad argument.
func invalid(op, what string) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalid, op, what)
}
