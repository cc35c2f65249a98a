// Package sessions stores login sessions in Redis: one record per login (many per
// user), each holding the user id, role, the current and previous refresh-token ids
// (jti) and metadata. Tokens themselves and password hashes are never stored.
//
// Key layout, safe for Redis Cluster because every key of one user carries the hash
// tag {<userID>} and so lives in one slot, which lets a Lua script touch all of them:
//
//	<prefix>sess:{<userID>}:<sessionID>   hash: the session record
//	<prefix>user:{<userID>}:sessions      sorted set of session ids, score = the record's expiry (unix ms)
//
// A record expires after IdleTTL without a refresh, and never lives past its
// absolute limit (CreatedAt + MaxTTL); the key's TTL enforces both on the server and
// every read checks them again against the injected clock. The index score is the
// same expiry (slid by every rotation), so dead entries are pruned by score and the
// lowest score is the least recently used session. A user has at most MaxPerUser
// sessions: a new login evicts the least recently used beyond that, so no script
// ever walks more than MaxPerUser entries. Every change that touches a record and the
// index runs in one Lua script (or MULTI), so a record never exists without its index
// entry. Times are stored as unix milliseconds.
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
	Email, Name      string // shown to upstreams by forward auth; never used to authorise
}

// Config configures a Store. Every duration and MaxPerUser is required (the gateway's
// configuration is the one source of defaults); Prefix may be empty.
type Config struct {
	Prefix  string        // key prefix
	IdleTTL time.Duration // sliding idle expiry, > 0
	MaxTTL  time.Duration // absolute maximum, > 0 (it caps the idle expiry)
	Grace   time.Duration // refresh reuse grace window, >= 0 (0: none)
	Timeout time.Duration // deadline added to every Redis call, > 0
	// MaxPerUser bounds a user's sessions, > 0; a new one evicts the least recently used
	// beyond it.
	MaxPerUser int
	Clock      func() time.Time // nil means time.Now
}

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
	graceMS int64 // Grace for the scripts; -1 when there is none
	scripts scripts
	// hmgetFields are the record fields, in the order of every HMGET and script reply,
	// as HMGET arguments.
	hmgetFields []any
	// dropLocal, set by NewCache, drops this replica's cached copy of a session at the
	// moment its change is published (the message comes back only later).
	dropLocal func(userID, sessionID string)
}

// New returns a Store on rdb. Give rdb ContextTimeoutEnabled (or read/write timeouts
// no longer than cfg.Timeout): without it go-redis ignores context deadlines on the
// socket and a silent server holds a call for its own ReadTimeout.
//
// Errors: ErrInvalid when a required field of cfg is missing or out of range.
func New(rdb redis.UniversalClient, cfg Config) (*Store, error) {
	switch {
	case cfg.IdleTTL <= 0, cfg.MaxTTL <= 0, cfg.Timeout <= 0:
		return nil, invalid("new", "IdleTTL, MaxTTL and Timeout must be > 0")
	case cfg.Grace < 0:
		return nil, invalid("new", "Grace must be >= 0")
	case cfg.MaxPerUser <= 0:
		return nil, invalid("new", "MaxPerUser must be > 0")
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	graceMS := cfg.Grace.Milliseconds()
	if graceMS == 0 {
		graceMS = -1 // now-RotatedAt is never <= -1: no grace at all
	}
	st := &Store{rdb: rdb, cfg: cfg, graceMS: graceMS, scripts: newScripts()}
	for _, f := range recordFields() {
		st.hmgetFields = append(st.hmgetFields, f)
	}
	return st, nil
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
