package users

// AfterBatch installs a hook Migrate calls after saving each batch (tests only).
func AfterBatch(s *Store, f func()) { s.afterBatch = f }
