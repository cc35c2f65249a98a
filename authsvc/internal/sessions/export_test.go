package sessions

import "github.com/redis/go-redis/v9"

// Test-only access to the raw keys, so that the external conformance suite can check
// what is stored (R5) without the package exporting its key layout.

// RawClient returns the client the Store talks to.
func (st *Store) RawClient() redis.UniversalClient { return st.rdb }

// RecordKey returns the key of a session record.
func (st *Store) RecordKey(userID, sessionID string) string { return st.recordKey(userID, sessionID) }

// IndexKey returns the key of a user's session index.
func (st *Store) IndexKey(userID string) string { return st.indexKey(userID) }

// RecordFields returns the hash fields of a record.
func RecordFields() []string { return recordFields() }

// MarkUp makes the cache serve entries as if its subscription were confirmed, with no
// subscription at all: no revocation message ever arrives.
func (c *Cache) MarkUp() { c.up.Store(true) }
