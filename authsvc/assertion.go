package authsvc

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/authgate/authgate/authsvc/internal/tokens"
)

// MaxAssertionTTL is the longest lifetime an identity assertion may have.
const MaxAssertionTTL = tokens.MaxAssertionTTL

// Sentinel errors of identity assertions.
var (
	// ErrNoAssertionKey: NewAssertions found no assertion signing key in the keys.
	ErrNoAssertionKey = errors.New("no assertion signing key configured")
	// ErrAssertionIdentity: Assertions.For got an empty audience, user id or session id.
	ErrAssertionIdentity = errors.New("an identity assertion needs an audience, a user id and a session id")
)

// AssertionConfig configures Assertions.
type AssertionConfig struct {
	TTL        time.Duration    // lifetime of each assertion: whole seconds, 1s..MaxAssertionTTL
	Issuer     string           // "iss"
	MaxEntries int              // assertions kept for reuse; 0 means 10000
	Clock      func() time.Time // nil means time.Now
}

// Assertions signs the identity assertions the gateway sends upstreams (X-Auth-Assertion)
// with the assertion key, so that an upstream can prove a request came through the
// gateway, and keeps them for reuse: the proxy's hot path signs once per session and
// audience every TTL/2, not on every request.
//
// An assertion is reused for the same session, audience, user id and role while more than
// half of its lifetime is left; a role change (the identity comes from the session on
// every request) gets a new assertion at once. At most MaxEntries are kept; when full,
// those past reuse go first, then an arbitrary eighth. Concurrent requests that miss on
// the same session and audience share one signature. Safe for concurrent use.
type Assertions struct {
	signer *tokens.Asserter
	ttl    time.Duration
	clock  func() time.Time
	max    int

	mu      sync.RWMutex
	entries map[assertionKey]*assertionEntry
}

type assertionKey struct{ sessionID, audience string }

// assertionEntry is one signed (or being signed) assertion. Every field but token and err
// is set before the entry is published and never changes; token and err are written once,
// inside once, and read only after once.Do.
type assertionEntry struct {
	userID, role string
	iat          time.Time // second precision, the "iat" claim
	reuseUntil   time.Time // exp - ttl/2

	once  sync.Once
	token string
	err   error
}

// reusable reports whether e may be served to id at now.
func (e *assertionEntry) reusable(id Identity, now time.Time) bool {
	return e.userID == id.UserID && e.role == id.Role && now.Before(e.reuseUntil)
}

// NewAssertions returns the assertion signer and cache on keys' assertion key. Errors:
// ErrNoAssertionKey, a TTL out of range or an empty issuer.
func NewAssertions(keys *Keys, cfg AssertionConfig) (*Assertions, error) {
	if keys == nil || keys.assertion == nil {
		return nil, ErrNoAssertionKey
	}
	signer, err := tokens.NewAsserter(keys.assertion, cfg.Issuer, cfg.TTL, nil)
	if err != nil {
		return nil, fmt.Errorf("authsvc: %w", err)
	}
	a := &Assertions{
		signer: signer, ttl: cfg.TTL, clock: cfg.Clock, max: cfg.MaxEntries,
		entries: make(map[assertionKey]*assertionEntry),
	}
	if a.clock == nil {
		a.clock = time.Now
	}
	if a.max <= 0 {
		a.max = 10000
	}
	return a, nil
}

// For returns the assertion for id's request to audience (the route's name or upstream):
// a cached one while it may be reused, else a newly signed one. Errors:
// ErrAssertionIdentity, or the signer's, wrapped (nothing is cached then).
func (a *Assertions) For(audience string, id Identity) (string, error) {
	if audience == "" || id.UserID == "" || id.SessionID == "" {
		return "", ErrAssertionIdentity
	}
	now := a.clock()
	key := assertionKey{sessionID: id.SessionID, audience: audience}
	a.mu.RLock()
	e := a.entries[key]
	a.mu.RUnlock()
	if e == nil || !e.reusable(id, now) {
		e = a.entry(key, id, now)
	}
	e.once.Do(func() {
		e.token, _, e.err = a.signer.Sign(tokens.Assertion{
			Audience: audience, Subject: id.UserID, Role: id.Role, SessionID: id.SessionID,
		}, e.iat)
	})
	if e.err != nil {
		a.mu.Lock()
		if a.entries[key] == e {
			delete(a.entries, key)
		}
		a.mu.Unlock()
		return "", fmt.Errorf("authsvc: identity assertion: %w", e.err)
	}
	return e.token, nil
}

// entry returns the reusable entry for key, or publishes a new, not yet signed one.
func (a *Assertions) entry(key assertionKey, id Identity, now time.Time) *assertionEntry {
	a.mu.Lock()
	defer a.mu.Unlock()
	if e := a.entries[key]; e != nil && e.reusable(id, now) {
		return e // another request got here first
	}
	iat := time.Unix(now.Unix(), 0)
	e := &assertionEntry{userID: id.UserID, role: id.Role, iat: iat, reuseUntil: iat.Add(a.ttl - a.ttl/2)}
	if _, replaced := a.entries[key]; !replaced && len(a.entries) >= a.max {
		a.evict(now)
	}
	a.entries[key] = e
	return e
}

// evict drops the entries past reuse, or an arbitrary eighth of the cache when none is.
// Called with mu held.
func (a *Assertions) evict(now time.Time) {
	n := 0
	for k, e := range a.entries {
		if !now.Before(e.reuseUntil) {
			delete(a.entries, k)
			n++
		}
	}
	for k := range a.entries {
		if n >= a.max/8+1 {
			break
		}
		delete(a.entries, k)
		n++
	}
}
