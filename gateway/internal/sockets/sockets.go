// Package sockets keeps track of the WebSockets (and any other upgraded connection) the
// gateway has passed to an upstream for a signed-in session, and closes them once the
// session ends: an upgraded connection outlives the request that was authorised, so a
// logout, a detected refresh-token theft or an admin's revocation must reach it too. The
// sessions are checked every interval; Revoke closes a session's sockets at once.
package sockets

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/authgate/authgate/authsvc"
)

// Sessions says whether a session still lives.
type Sessions interface {
	// CheckSession returns nil for a live session, authsvc.ErrSessionExpired for one
	// that ended, ErrUnavailable when the store cannot answer.
	CheckSession(ctx context.Context, userID, sessionID string) error
}

// session names one session.
type session struct{ userID, sessionID string }

// Watcher tracks upgraded connections by session. It is safe for concurrent use.
type Watcher struct {
	sessions Sessions
	every    time.Duration
	log      *slog.Logger

	mu    sync.Mutex
	conns map[session]map[net.Conn]struct{}
}

// New returns a Watcher that checks sessions every interval (> 0). Run it with Run.
func New(sessions Sessions, every time.Duration, log *slog.Logger) *Watcher {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Watcher{sessions: sessions, every: every, log: log, conns: make(map[session]map[net.Conn]struct{})}
}

// Track registers conn, an upgraded connection of id's session (the zero Identity for
// an anonymous one, which only CloseAll closes); the returned function forgets it (call
// it when the connection ends).
func (w *Watcher) Track(id authsvc.Identity, conn net.Conn) (forget func()) {
	s := session{id.UserID, id.SessionID}
	w.mu.Lock()
	set := w.conns[s]
	if set == nil {
		set = make(map[net.Conn]struct{})
		w.conns[s] = set
	}
	set[conn] = struct{}{}
	w.mu.Unlock()
	return func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		if set := w.conns[s]; set != nil {
			delete(set, conn)
			if len(set) == 0 {
				delete(w.conns, s)
			}
		}
	}
}

// Revoked is the hook for revocation messages: it closes the session's connections, or
// with sessionID "*" every connection of the user.
func (w *Watcher) Revoked(userID, sessionID string) {
	if sessionID != "*" {
		w.Revoke(userID, sessionID)
		return
	}
	w.mu.Lock()
	var ids []string
	for s := range w.conns {
		if s.userID == userID {
			ids = append(ids, s.sessionID)
		}
	}
	w.mu.Unlock()
	for _, sid := range ids {
		w.Revoke(userID, sid)
	}
}

// Revoke closes every tracked connection of the session now.
func (w *Watcher) Revoke(userID, sessionID string) int {
	w.mu.Lock()
	set := w.conns[session{userID, sessionID}]
	delete(w.conns, session{userID, sessionID})
	w.mu.Unlock()
	for c := range set {
		_ = c.Close()
	}
	return len(set)
}

// CloseAll closes every tracked connection (shutdown: an upgraded connection would
// otherwise hold its handler, and the drain, until the client leaves).
func (w *Watcher) CloseAll() int {
	w.mu.Lock()
	all := w.conns
	w.conns = make(map[session]map[net.Conn]struct{})
	w.mu.Unlock()
	n := 0
	for _, set := range all {
		for c := range set {
			_ = c.Close()
			n++
		}
	}
	return n
}

// Count reports how many connections are tracked.
func (w *Watcher) Count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, set := range w.conns {
		n += len(set)
	}
	return n
}

// Run checks the tracked sessions every interval until ctx ends, closing the sockets
// of those that ended. A store that cannot answer closes nothing: an outage must not
// cut users off (SECURITY.md R2); the next check decides.
func (w *Watcher) Run(ctx context.Context) {
	t := time.NewTicker(w.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			w.sweep(ctx)
		}
	}
}

func (w *Watcher) sweep(ctx context.Context) {
	w.mu.Lock()
	list := make([]session, 0, len(w.conns))
	for s := range w.conns {
		list = append(list, s)
	}
	w.mu.Unlock()
	for _, s := range list {
		if s.userID == "" {
			continue // an upgrade on a public route: no session to end
		}
		err := w.sessions.CheckSession(ctx, s.userID, s.sessionID)
		if errors.Is(err, authsvc.ErrSessionExpired) {
			if n := w.Revoke(s.userID, s.sessionID); n > 0 {
				w.log.InfoContext(ctx, "websockets closed: session ended", "user_id", s.userID, "session_id", s.sessionID, "sockets", n)
			}
		}
	}
}
