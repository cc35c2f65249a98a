package authsvc

// Len reports how many assertions are cached (tests only).
func (a *Assertions) Len() int {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return len(a.entries)
}
