package sessions

import (
	"context"
	"strings"
)

// Every change that ends a session or changes what it grants (delete, delete all,
// replay revocation, eviction, role change) is published on the revocation channel,
// <prefix>revocations, so that every replica drops its cached copy at once (cache.go) and
// closes the session's long-lived connections. A message is "<userID> <sessionID>", or
// "<userID> *" for every session of the user.

// allSessions in a message stands for every session of the user.
const allSessions = "*"

// channel is the revocation channel's name.
func (st *Store) channel() string { return st.cfg.Prefix + "revocations" }

// publish announces that the session (sessionID allSessions: every session of the user)
// ended or changed. A failure is not the caller's: the change itself is done; replicas
// that miss it keep their copy at most the cache window.
func (st *Store) publish(ctx context.Context, userID, sessionID string) {
	if st.dropLocal != nil {
		st.dropLocal(userID, sessionID) // this replica's next request must not wait for the echo
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), st.cfg.Timeout)
	defer cancel()
	_ = st.rdb.Publish(ctx, st.channel(), userID+" "+sessionID).Err()
}

// parseRevocation reads a message; ok is false for anything malformed.
func parseRevocation(msg string) (userID, sessionID string, ok bool) {
	userID, sessionID, ok = strings.Cut(msg, " ")
	if !ok || !validID(userID) || (sessionID != allSessions && !validID(sessionID)) {
		return "", "", false
	}
	return userID, sessionID, true
}
