package sessions

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Cache keeps sessions this replica read recently, so that the hot path (a proxied
// request) makes no network round trip, and stays revocation-safe:
//
//   - an entry is served at most TTL after it was read from Redis, and only while the
//     session is within its limits by the Store's clock;
//   - every revocation is published on the Store's channel (revocations.go) and drops
//     the entry on every replica at once; on the replica that made it, before the
//     change call returns (not when the message comes back);
//   - while the subscription is not confirmed (at start, after a disconnect or a missed
//     ping) the cache is bypassed, and when it comes back the cache starts empty, so a
//     message lost in between can never extend a revoked session beyond the window;
//   - a read that raced a revocation is not cached (a generation counter).
//
// With TTL 0 the cache is off and Get is Store.Get. Safe for concurrent use.
type Cache struct {
	st   *Store
	ttl  time.Duration
	max  int
	log  *slog.Logger
	up   atomic.Bool   // the subscription is confirmed
	gen  atomic.Uint64 // bumped by every invalidation
	subs []func(userID, sessionID string)

	mu      sync.RWMutex
	entries map[cacheKey]cached
}

type cacheKey struct{ userID, sessionID string }

type cached struct {
	s       Session
	fetched time.Time
}

// NewCache returns a cache of at most max sessions (≤ 0: 100000) over st, serving each
// for at most ttl. It serves nothing until Run has confirmed the subscription.
func NewCache(st *Store, ttl time.Duration, max int, log *slog.Logger) *Cache {
	if max <= 0 {
		max = 100000
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Cache{st: st, ttl: ttl, max: max, log: log, entries: make(map[cacheKey]cached)}
	st.dropLocal = c.drop
	return c
}

// OnRevoke registers f, called for every revocation message (sessionID "*" for every
// session of the user) — the socket watcher closes connections with it. Call it before Run.
func (c *Cache) OnRevoke(f func(userID, sessionID string)) { c.subs = append(c.subs, f) }

// Get is Store.Get, from memory when the session was read within the TTL and the
// subscription is up. Errors: those of Store.Get.
func (c *Cache) Get(ctx context.Context, userID, sessionID string) (Session, error) {
	if c.ttl <= 0 {
		return c.st.Get(ctx, userID, sessionID)
	}
	key := cacheKey{userID, sessionID}
	now := c.st.cfg.Clock()
	if c.up.Load() {
		c.mu.RLock()
		e, ok := c.entries[key]
		c.mu.RUnlock()
		if ok && now.Sub(e.fetched) < c.ttl && c.st.live(e.s, now) {
			return e.s, nil
		}
	}
	gen := c.gen.Load()
	s, err := c.st.Get(ctx, userID, sessionID)
	if err != nil || !c.up.Load() {
		return s, err
	}
	c.mu.Lock()
	if c.gen.Load() == gen { // no revocation arrived while Redis was read
		if len(c.entries) >= c.max {
			c.evict(now)
		}
		c.entries[key] = cached{s: s, fetched: now}
	}
	c.mu.Unlock()
	return s, nil
}

// evict drops stale entries, or an arbitrary eighth when none is. Called with mu held.
func (c *Cache) evict(now time.Time) {
	n := 0
	for k, e := range c.entries {
		if now.Sub(e.fetched) >= c.ttl {
			delete(c.entries, k)
			n++
		}
	}
	for k := range c.entries {
		if n >= c.max/8+1 {
			break
		}
		delete(c.entries, k)
		n++
	}
}

// invalidate applies a revocation message: the cached copy goes (drop) and the OnRevoke
// subscribers hear of it.
func (c *Cache) invalidate(userID, sessionID string) {
	c.drop(userID, sessionID)
	for _, f := range c.subs {
		f(userID, sessionID)
	}
}

// drop forgets the session (or, with sessionID "*", every session of the user).
func (c *Cache) drop(userID, sessionID string) {
	c.gen.Add(1)
	c.mu.Lock()
	if sessionID == allSessions {
		for k := range c.entries {
			if k.userID == userID {
				delete(c.entries, k)
			}
		}
	} else {
		delete(c.entries, cacheKey{userID, sessionID})
	}
	c.mu.Unlock()
}

// clear empties the cache (the subscription went down: messages may have been lost).
func (c *Cache) clear() {
	c.gen.Add(1)
	c.mu.Lock()
	clear(c.entries)
	c.mu.Unlock()
}

// Up reports whether the subscription is confirmed (the cache serves entries).
func (c *Cache) Up() bool { return c.up.Load() }

// Run keeps the subscription to the revocation channel until ctx ends, re-subscribing
// after failures, and pings it every second: a subscription that does not answer is
// taken as down. Run it in its own goroutine, also with TTL 0 (revocations still reach
// OnRevoke subscribers).
func (c *Cache) Run(ctx context.Context) {
	for ctx.Err() == nil {
		c.subscribe(ctx)
		c.up.Store(false)
		c.clear()
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// subscribe holds one subscription until it fails or ctx ends.
func (c *Cache) subscribe(ctx context.Context) {
	ps := c.st.rdb.Subscribe(ctx, c.st.channel())
	defer func() { _ = ps.Close() }()
	const every = time.Second
	heard := time.Now()
	for {
		msg, err := ps.ReceiveTimeout(ctx, every)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if isTimeout(err) && time.Since(heard) < 3*every {
				if err := ps.Ping(ctx); err == nil {
					continue // quiet channel: the ping's pong proves it alive
				}
			}
			if c.up.Load() {
				c.log.WarnContext(ctx, "session cache: revocation channel lost; cache bypassed", "error", err)
			}
			return
		}
		heard = time.Now()
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				c.clear()
				c.up.Store(true)
			}
		case *redis.Message:
			if c.st.ackBarrier(ctx, m.Payload) { // barrier.go: the revocations before it are applied
				continue
			}
			if uid, sid, ok := parseRevocation(m.Payload); ok {
				c.invalidate(uid, sid)
			}
		}
	}
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}
