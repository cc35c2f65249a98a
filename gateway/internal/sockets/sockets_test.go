package sockets

import (
	"context"
	"net"
	"sync"
	"testing"

	"github.com/authgate/authgate/authsvc"
)

// store says which sessions ended; "down" means it cannot answer.
type store struct {
	mu    sync.Mutex
	ended map[string]bool
	down  bool
}

func (s *store) CheckSession(_ context.Context, _, sid string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.down:
		return authsvc.ErrUnavailable
	case s.ended[sid]:
		return authsvc.ErrSessionExpired
	}
	return nil
}

// conn is a connection that only remembers being closed.
type conn struct {
	net.Conn
	mu     sync.Mutex
	closed bool
}

func (c *conn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	return nil
}

func pipe(*testing.T) (*conn, *conn) { return &conn{}, &conn{} }

func closed(c *conn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

func TestWatcher(t *testing.T) {
	st := &store{ended: map[string]bool{}}
	w := New(st, 1, nil)
	alice := authsvc.Identity{UserID: "u1", SessionID: "s1"}
	bob := authsvc.Identity{UserID: "u2", SessionID: "s2"}
	a1, _ := pipe(t)
	a2, _ := pipe(t)
	b1, _ := pipe(t)
	anon, _ := pipe(t)
	w.Track(alice, a1)
	forget := w.Track(alice, a2)
	w.Track(bob, b1)
	w.Track(authsvc.Identity{}, anon)
	if w.Count() != 4 {
		t.Fatalf("Count %d", w.Count())
	}
	forget()
	if w.Count() != 3 {
		t.Fatalf("forget left %d", w.Count())
	}

	// The store is down: nothing closes.
	st.down = true
	st.ended["s1"] = true
	w.sweep(context.Background())
	if closed(a1) || w.Count() != 3 {
		t.Fatal("an outage closed a socket")
	}
	// Alice's session ended: her sockets close, Bob's and the anonymous one stay.
	st.down = false
	w.sweep(context.Background())
	if !closed(a1) || w.Count() != 2 || closed(b1) {
		t.Fatalf("after alice's session ended: count %d", w.Count())
	}
	if n := w.Revoke("u2", "s2"); n != 1 || !closed(b1) {
		t.Fatalf("Revoke closed %d", n)
	}
	if n := w.CloseAll(); n != 1 || !closed(anon) || w.Count() != 0 {
		t.Fatalf("CloseAll closed %d", n)
	}
}
