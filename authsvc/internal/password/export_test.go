package password

// Params returns the parameters new hashes are made with (tests only).
func (h *Hasher) Params() Params { return h.params }
