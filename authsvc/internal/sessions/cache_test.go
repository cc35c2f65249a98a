package sessions_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/authgate/authgate/authsvc/internal/sessions"
	"github.com/authgate/authgate/authsvc/storetest"
)

// replica is one gateway's view: its own Store and Cache on the shared Redis.
type replica struct {
	st    *sessions.Store
	cache *sessions.Cache
	mu    sync.Mutex
	heard []string
}

func newReplica(t *testing.T, prefix string) *replica {
	t.Helper()
	rdb, _ := storetest.Redis(t)
	st := mustNew(t, rdb, sessions.Config{Prefix: prefix, IdleTTL: time.Hour, MaxTTL: time.Hour, Grace: time.Second,
		Timeout: 5 * time.Second, MaxPerUser: 50})
	r := &replica{st: st, cache: sessions.NewCache(st, time.Hour, 0, nil)}
	r.cache.OnRevoke(func(uid, sid string) { r.mu.Lock(); r.heard = append(r.heard, uid+" "+sid); r.mu.Unlock() })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.cache.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	waitFor(t, "subscription up", r.cache.Up)
	return r
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestCacheRevocationAcrossReplicas: a session one replica has cached for an hour is
// refused there right after another replica revokes it (delete, delete all, role change
// refresh the copy), with no wait for the TTL.
func TestCacheRevocationAcrossReplicas(t *testing.T) {
	_, prefix := storetest.Redis(t)
	a, b := newReplica(t, prefix), newReplica(t, prefix)
	ctx := t.Context()
	s, _, err := a.st.Create(ctx, sessions.Session{ID: id("s"), UserID: id("u"), Role: "user", RefreshJTI: id("j")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.cache.Get(ctx, s.UserID, s.ID); err != nil { // now cached on b
		t.Fatal(err)
	}
	if err := a.st.SetRole(ctx, s.UserID, "admin"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "role change seen on b", func() bool {
		got, err := b.cache.Get(ctx, s.UserID, s.ID)
		return err == nil && got.Role == "admin"
	})
	if err := a.st.Delete(ctx, s.UserID, s.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "revocation seen on b", func() bool {
		_, err := b.cache.Get(ctx, s.UserID, s.ID)
		return errors.Is(err, sessions.ErrNotFound)
	})
	b.mu.Lock()
	heard := append([]string(nil), b.heard...)
	b.mu.Unlock()
	if len(heard) < 2 || heard[0] != s.UserID+" *" || heard[len(heard)-1] != s.UserID+" "+s.ID {
		t.Fatalf("b heard %q", heard)
	}
}

// TestCacheBypassedWhileUnsubscribed: when the subscription is cut, the cache serves
// nothing until it is back, and comes back empty, so a revocation whose message was lost
// (here: a record deleted behind the store's back, which publishes nothing) is seen at
// once instead of after the TTL.
func TestCacheBypassedWhileUnsubscribed(t *testing.T) {
	if storetest.IsMiniredis(t) {
		t.Skip("needs a real Redis (CLIENT KILL)")
	}
	rdb, prefix := storetest.Redis(t)
	r := newReplica(t, prefix)
	ctx := t.Context()
	s, _, err := r.st.Create(ctx, sessions.Session{ID: id("s"), UserID: id("u"), Role: "user", RefreshJTI: id("j")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.cache.Get(ctx, s.UserID, s.ID); err != nil {
		t.Fatal(err)
	}
	// Silent revocation: cached, it would pass for the hour-long TTL.
	if err := rdb.Del(ctx, r.st.RecordKey(s.UserID, s.ID)).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.cache.Get(ctx, s.UserID, s.ID); err != nil {
		t.Fatalf("precondition: the cached copy is served: %v", err)
	}
	if err := rdb.Do(ctx, "CLIENT", "KILL", "TYPE", "pubsub").Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "cache bypassed or cleared", func() bool {
		_, err := r.cache.Get(ctx, s.UserID, s.ID)
		return errors.Is(err, sessions.ErrNotFound)
	})
	waitFor(t, "subscription back", r.cache.Up)
	if _, err := r.cache.Get(ctx, s.UserID, s.ID); !errors.Is(err, sessions.ErrNotFound) {
		t.Fatalf("after resubscribing: %v", err)
	}
}

// TestCacheRevocationOnThisReplica: a change made through a replica's own store drops
// its cached copy at once, not when the published message comes back (here it never
// does): the next request on the same replica already sees it.
func TestCacheRevocationOnThisReplica(t *testing.T) {
	rdb, prefix := storetest.Redis(t)
	st := mustNew(t, rdb, sessions.Config{Prefix: prefix, IdleTTL: time.Hour, MaxTTL: time.Hour, Grace: time.Second,
		Timeout: 5 * time.Second, MaxPerUser: 50})
	cache := sessions.NewCache(st, time.Hour, 0, nil)
	cache.MarkUp()
	ctx := t.Context()
	s, _, err := st.Create(ctx, sessions.Session{ID: id("s"), UserID: id("u"), Role: "user", RefreshJTI: id("j")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cache.Get(ctx, s.UserID, s.ID); err != nil {
		t.Fatal(err)
	}
	if err := st.SetRole(ctx, s.UserID, "admin"); err != nil {
		t.Fatal(err)
	}
	if got, err := cache.Get(ctx, s.UserID, s.ID); err != nil || got.Role != "admin" {
		t.Fatalf("right after the role change: %+v, %v", got, err)
	}
	if err := st.Delete(ctx, s.UserID, s.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := cache.Get(ctx, s.UserID, s.ID); !errors.Is(err, sessions.ErrNotFound) {
		t.Fatalf("right after the delete: %v, want ErrNotFound", err)
	}
}

// TestCacheOff: TTL 0 reads Redis every time.
func TestCacheOff(t *testing.T) {
	rdb, prefix := storetest.Redis(t)
	st := mustNew(t, rdb, sessions.Config{Prefix: prefix, IdleTTL: time.Hour, MaxTTL: time.Hour, Timeout: time.Second, MaxPerUser: 5})
	c := sessions.NewCache(st, 0, 0, nil)
	ctx := t.Context()
	s, _, err := st.Create(ctx, sessions.Session{ID: id("s"), UserID: id("u"), RefreshJTI: id("j")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, s.UserID, s.ID); err != nil {
		t.Fatal(err)
	}
	_ = rdb.Del(ctx, st.RecordKey(s.UserID, s.ID)).Err()
	if _, err := c.Get(ctx, s.UserID, s.ID); !errors.Is(err, sessions.ErrNotFound) {
		t.Fatalf("TTL 0 served a copy: %v", err)
	}
}

// BenchmarkCacheGet is the hot-path session lookup as a proxied request makes it: from
// the replica's memory (subscription up, entry fresh); BenchmarkGet is the Redis read.
func BenchmarkCacheGet(b *testing.B) {
	rdb, prefix := storetest.Redis(b)
	st := mustNew(b, rdb, sessions.Config{Prefix: prefix, IdleTTL: time.Hour, MaxTTL: time.Hour, Grace: time.Second,
		Timeout: time.Second, MaxPerUser: 50})
	cache := sessions.NewCache(st, time.Hour, 0, nil)
	cache.MarkUp()
	ctx := context.Background()
	s, _, err := st.Create(ctx, sessions.Session{ID: id("s"), UserID: id("u"), Role: "user", RefreshJTI: id("j")})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := cache.Get(ctx, s.UserID, s.ID); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
