package tokens

// Len reports how many tokens are cached (tests only).
func (k *Cache) Len() int {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return len(k.entries)
}
