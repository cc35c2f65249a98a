package tokens

import (
	"sync"
	"time"
)

// Cache remembers tokens its Codec has verified, so the proxy's hot path pays for a
// signature check once per token rather than once per request. A hit is served only while
// the token is still inside exp+leeway by the codec's clock (nbf and iat only become more
// valid with time) and while the key that verified it is still in the key set (a removed
// key drops its tokens at once); anything else goes back through Parse. Revocation is
// unaffected: callers still check the session on every request.
//
// It also remembers, for rejectedTTL, tokens Parse refused (a client retrying the same
// forged or broken token, or a flood of one), as long as the key set has not changed:
// saying no must be cheap too. A refused token can never become valid with time (exp
// only passes) except by a key change, which empties that memory. Safe for concurrent use.
type Cache struct {
	codec    *Codec
	max      int
	mu       sync.RWMutex
	entries  map[string]Claims // by the token itself
	rejected map[string]rejection
}

// rejection is a token Parse refused: the error, until when it is remembered, and the key
// set it was refused under.
type rejection struct {
	err   error
	until time.Time
	keys  *keyState
}

// rejectedTTL is how long a refused token is remembered; maxRejected bounds how many.
const (
	rejectedTTL = 30 * time.Second
	maxRejected = 1024
)

// NewCache wraps c with a cache of at most size verified tokens (size ≤ 0 → 10000).
func NewCache(c *Codec, size int) *Cache {
	if size <= 0 {
		size = 10000
	}
	return &Cache{codec: c, max: size, entries: make(map[string]Claims), rejected: make(map[string]rejection)}
}

// Parse returns the claims of token exactly as Codec.Parse would, from the cache when the
// token was verified before and has not expired. Errors wrap ErrInvalid.
func (k *Cache) Parse(token string) (Claims, error) {
	if len(token) > MaxTokenBytes {
		return k.codec.Parse(token)
	}
	now := k.codec.clock()
	keys := k.codec.keys.cur.Load()
	k.mu.RLock()
	cl, ok := k.entries[token]
	rej, refused := k.rejected[token]
	k.mu.RUnlock()
	if ok && now.Before(cl.ExpiresAt.Add(k.codec.leeway)) {
		if _, live := keys.keys[cl.KeyID]; live {
			return cl, nil
		}
	}
	if refused && now.Before(rej.until) && rej.keys == keys {
		return Claims{}, rej.err
	}
	cl, later, err := k.codec.parseRetry(token)
	if err != nil {
		k.mu.Lock()
		if ok {
			delete(k.entries, token)
		}
		if !later {
			if len(k.rejected) >= maxRejected {
				k.evictRejected(now)
			}
			k.rejected[token] = rejection{err: err, until: now.Add(rejectedTTL), keys: keys}
		}
		k.mu.Unlock()
		return Claims{}, err
	}
	k.mu.Lock()
	if len(k.entries) >= k.max {
		k.evict(now)
	}
	k.entries[token] = cl
	k.mu.Unlock()
	return cl, nil
}

// evict drops expired entries, or an arbitrary eighth of the cache when none has expired.
// Called with mu held.
func (k *Cache) evict(now time.Time) {
	n := 0
	for key, cl := range k.entries {
		if !now.Before(cl.ExpiresAt.Add(k.codec.leeway)) {
			delete(k.entries, key)
			n++
		}
	}
	for key := range k.entries {
		if n >= k.max/8+1 {
			break
		}
		delete(k.entries, key)
		n++
	}
}

// evictRejected drops refusals past their time, or an arbitrary eighth. Called with mu
// held.
func (k *Cache) evictRejected(now time.Time) {
	n := 0
	for key, r := range k.rejected {
		if !now.Before(r.until) {
			delete(k.rejected, key)
			n++
		}
	}
	for key := range k.rejected {
		if n >= maxRejected/8+1 {
			break
		}
		delete(k.rejected, key)
		n++
	}
}
