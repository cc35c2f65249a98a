package tokens

import "time"

// Len reports how many tokens are cached (tests only).
func (k *Cache) Len() int {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return len(k.entries)
}

// TTL returns the lifetime of the tokens the Codec issues (tests only).
func (c *Codec) TTL() time.Duration { return c.ttl }

// Type returns the token type the Codec issues and accepts (tests only).
func (c *Codec) Type() Type { return c.typ }

// Rejected reports how many refused tokens the cache remembers (tests only).
func (k *Cache) Rejected() int {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return len(k.rejected)
}
