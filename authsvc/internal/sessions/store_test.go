package sessions_test

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/authgate/authgate/authsvc/internal/sessions"
	"github.com/authgate/authgate/authsvc/storetest"
)

func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }

func mustNew(t testing.TB, rdb redis.UniversalClient, cfg sessions.Config) *sessions.Store {
	t.Helper()
	st, err := sessions.New(rdb, cfg)
	if err != nil {
		t.Fatalf("sessions.New: %v", err)
	}
	return st
}

// TestStoreRedis runs the suite on the real Redis (REDIS_URL or a redis-server child).
func TestStoreRedis(t *testing.T) {
	runStoreTests(t, func(t *testing.T, cfg sessions.Config) *sessions.Store {
		rdb, prefix := storetest.Redis(t)
		cfg.Prefix = prefix
		return mustNew(t, rdb, cfg)
	})
}

// TestStoreRedisCluster runs the suite on a real three-master Redis Cluster: every
// script touches one user's keys only, which share a hash tag and so a slot.
func TestStoreRedisCluster(t *testing.T) {
	runStoreTests(t, func(t *testing.T, cfg sessions.Config) *sessions.Store {
		rdb, prefix := storetest.RedisCluster(t)
		cfg.Prefix = prefix
		return mustNew(t, rdb, cfg)
	})
}

// TestStoreMiniredis runs the same suite on miniredis (the embedded default), which
// shows the suite tests the store's behaviour rather than one server's.
func TestStoreMiniredis(t *testing.T) {
	runStoreTests(t, func(t *testing.T, cfg sessions.Config) *sessions.Store {
		m := miniredis.RunT(t)
		m.ClockTTL(true) // TTLs follow the wall clock, as on a real server
		rdb := redis.NewClient(&redis.Options{Addr: m.Addr(), ContextTimeoutEnabled: true})
		t.Cleanup(func() { _ = rdb.Close() })
		return mustNew(t, rdb, cfg)
	})
}

// TestUnavailable (R1): when Redis cannot answer, every method returns ErrUnavailable
// (never ErrNotFound, never success) within the configured Timeout.
func TestUnavailable(t *testing.T) {
	const timeout = 300 * time.Millisecond
	targets := []struct {
		name string
		addr func(t *testing.T) string
	}{
		{name: "closed port", addr: func(*testing.T) string { return "127.0.0.1:1" }},
		{name: "server that never answers", addr: silentServer},
	}
	for _, target := range targets {
		t.Run(target.name, func(t *testing.T) {
			rdb := redis.NewClient(&redis.Options{
				Addr: target.addr(t), DialTimeout: 100 * time.Millisecond, ContextTimeoutEnabled: true,
			})
			t.Cleanup(func() { _ = rdb.Close() })
			st := mustNew(t, rdb, sessions.Config{IdleTTL: time.Hour, MaxTTL: time.Hour, Grace: time.Second, Timeout: timeout, MaxPerUser: 5})
			ctx := context.Background()
			calls := []struct {
				name string
				call func() error
			}{
				{"Get", func() error { _, err := st.Get(ctx, "u1", "s1"); return err }},
				{"Create", func() error {
					_, _, err := st.Create(ctx, sessions.Session{ID: "s1", UserID: "u1", RefreshJTI: "j1"})
					return err
				}},
				{"Rotate", func() error { _, _, err := st.Rotate(ctx, "u1", "s1", "j1", "j2"); return err }},
				{"Delete", func() error { return st.Delete(ctx, "u1", "s1") }},
				{"List", func() error { _, err := st.List(ctx, "u1"); return err }},
				{"DeleteAll", func() error { _, err := st.DeleteAll(ctx, "u1"); return err }},
				{"SetRole", func() error { return st.SetRole(ctx, "u1", "admin") }},
				{"Ping", func() error { return st.Ping(ctx) }},
			}
			for _, c := range calls {
				t.Run(c.name, func(t *testing.T) {
					t.Parallel()
					start := time.Now()
					err := c.call()
					elapsed := time.Since(start)
					if !errors.Is(err, sessions.ErrUnavailable) || errors.Is(err, sessions.ErrNotFound) {
						t.Fatalf("err = %v; want ErrUnavailable and not ErrNotFound", err)
					}
					if elapsed > timeout+250*time.Millisecond {
						t.Fatalf("took %v; the Timeout is %v", elapsed, timeout)
					}
				})
			}
		})
	}
}

// silentServer accepts connections and reads from them but never answers, like a
// Redis that hangs; it stops at cleanup.
func silentServer(t *testing.T) string {
	t.Helper()
	var lc net.ListenConfig
	l, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	var (
		mu     sync.Mutex
		conns  []net.Conn
		closed bool
		wg     sync.WaitGroup
	)
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			if closed {
				mu.Unlock()
				_ = c.Close()
				return
			}
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() { _, _ = io.Copy(io.Discard, c) })
		}
	})
	t.Cleanup(func() {
		_ = l.Close()
		mu.Lock()
		closed = true
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return l.Addr().String()
}

// BenchmarkGet measures the hot-path lookup on the real Redis.
func BenchmarkGet(b *testing.B) {
	rdb, prefix := storetest.Redis(b)
	st := mustNew(b, rdb, sessions.Config{Prefix: prefix, IdleTTL: time.Hour, MaxTTL: time.Hour, Grace: time.Second, Timeout: time.Second, MaxPerUser: 50})
	ctx := context.Background()
	s, _, err := st.Create(ctx, sessions.Session{ID: id("s"), UserID: id("u"), Role: "user", RefreshJTI: id("j")})
	if err != nil {
		b.Fatalf("Create: %v", err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := st.Get(ctx, s.UserID, s.ID); err != nil {
			b.Fatalf("Get: %v", err)
		}
	}
}
