package tokens

import (
	"crypto/sha256"
	"sync"
	"time"
)

// Cache remembers tokens its Codec has verified, so the proxy's hot path pays for a
// signature check once per token rather than once per request. Only successful parses
// are cached; a hit is served only while the token is still inside exp+leeway by the
// codec's clock (nbf and iat only become more valid with time) and while the key that
// verified it is still in the key set (a removed key drops its tokens at once), and
// anything else goes back through Parse. Revocation is unaffected: callers still check the session on every
// request. Safe for concurrent use.
type Cache struct {
	codec   *Codec
	max     int
	mu      sync.RWMutex
	entries map[[sha256.Size]byte]Claims
}

// NewCache wraps c with a cache of at most size verified tokens (size ≤ 0 → 10000).
func NewCache(c *Codec, size int) *Cache {
	if size <= 0 {
		size = 10000
	}
	return &Cache{codec: c, max: size, entries: make(map[[sha256.Size]byte]Claims)}
}

// Parse returns the claims of token exactly as Codec.Parse would, from the cache when the
// token was verified before and has not expired. Errors wrap ErrInvalid.
func (k *Cache) Parse(token string) (Claims, error) {
	if len(token) > MaxTokenBytes {
		return k.codec.Parse(token)
	}
	key := sha256.Sum256([]byte(token))
	now := k.codec.clock()
	k.mu.RLock()
	cl, ok := k.entries[key]
	k.mu.RUnlock()
	if ok && now.Before(cl.ExpiresAt.Add(k.codec.leeway)) {
		if _, live := k.codec.keys.Lookup(cl.KeyID); live {
			return cl, nil
		}
	}
	cl, err := k.codec.Parse(token)
	if err != nil {
		if ok {
			k.mu.Lock()
			delete(k.entries, key)
			k.mu.Unlock()
		}
		return Claims{}, err
	}
	k.mu.Lock()
	if len(k.entries) >= k.max {
		k.evict(now)
	}
	k.entries[key] = cl
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
