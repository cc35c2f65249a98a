package regulation_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/authgate/authgate/authsvc/internal/regulation"
	"github.com/authgate/authgate/authsvc/storetest"
)

func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }

type newStore func(t *testing.T) (*regulation.Store, redis.UniversalClient, string)

// TestStoreRedis runs the suite on the real test Redis.
func TestStoreRedis(t *testing.T) {
	runStoreTests(t, func(t *testing.T) (*regulation.Store, redis.UniversalClient, string) {
		rdb, prefix := storetest.Redis(t)
		return regulation.New(rdb, prefix, 5*time.Second), rdb, prefix
	})
}

// TestStoreRedisCluster runs it on a real three-master Redis Cluster: every command
// names one key, so no CROSSSLOT error can happen.
func TestStoreRedisCluster(t *testing.T) {
	runStoreTests(t, func(t *testing.T) (*regulation.Store, redis.UniversalClient, string) {
		rdb, prefix := storetest.RedisCluster(t)
		return regulation.New(rdb, prefix, 5*time.Second), rdb, prefix
	})
}

// TestStoreMiniredis runs it on miniredis, the embedded default's server (its Lua has
// TIME and redis.replicate_commands, which the limiter's script needs).
func TestStoreMiniredis(t *testing.T) {
	runStoreTests(t, func(t *testing.T) (*regulation.Store, redis.UniversalClient, string) {
		m := miniredis.RunT(t)
		m.ClockTTL(true)
		rdb := redis.NewClient(&redis.Options{Addr: m.Addr(), ContextTimeoutEnabled: true})
		t.Cleanup(func() { _ = rdb.Close() })
		return regulation.New(rdb, "authgate:", 5*time.Second), rdb, "authgate:"
	})
}

func runStoreTests(t *testing.T, open newStore) {
	t.Run("limit", func(t *testing.T) {
		s, _, _ := open(t)
		ctx := t.Context()
		l := regulation.Limit{Events: 3, Window: time.Minute}
		for i := range 3 {
			res, err := s.Hit(ctx, "k", l)
			if err != nil || !res.Allowed || res.Remaining != 2-i {
				t.Fatalf("hit %d: %+v %v", i+1, res, err)
			}
		}
		res, err := s.Hit(ctx, "k", l)
		if err != nil || res.Allowed || res.RetryAfter <= 0 || res.RetryAfter > 20*time.Second {
			t.Fatalf("4th hit: %+v %v", res, err)
		}
		if res, err := s.Hit(ctx, "other", l); err != nil || !res.Allowed {
			t.Fatalf("another key shares the count: %+v %v", res, err)
		}
		for range 3 {
			if res, err := s.Peek(ctx, "other", l); err != nil || res.Remaining != 2 {
				t.Fatalf("Peek charged: %+v %v", res, err)
			}
		}
		if err := s.Reset(ctx, "k"); err != nil {
			t.Fatal(err)
		}
		if res, err := s.Hit(ctx, "k", l); err != nil || !res.Allowed || res.Remaining != 2 {
			t.Fatalf("after reset: %+v %v", res, err)
		}
	})
	t.Run("limit refills", func(t *testing.T) {
		s, _, _ := open(t)
		l := regulation.Limit{Events: 2, Window: 2 * time.Second}
		for range 2 {
			if res, err := s.Hit(t.Context(), "k", l); err != nil || !res.Allowed {
				t.Fatal(res, err)
			}
		}
		if res, _ := s.Hit(t.Context(), "k", l); res.Allowed {
			t.Fatal("3rd allowed")
		}
		time.Sleep(1100 * time.Millisecond) // one event's share of the window
		if res, err := s.Hit(t.Context(), "k", l); err != nil || !res.Allowed {
			t.Fatalf("after a refill: %+v %v", res, err)
		}
	})
	t.Run("concurrent hits never exceed the limit", func(t *testing.T) {
		s, _, _ := open(t)
		l := regulation.Limit{Events: 5, Window: time.Minute}
		var mu sync.Mutex
		allowed := 0
		var wg sync.WaitGroup
		for range 40 {
			wg.Go(func() {
				res, err := s.Hit(t.Context(), "k", l)
				if err != nil {
					t.Error(err)
					return
				}
				if res.Allowed {
					mu.Lock()
					allowed++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if allowed != 5 {
			t.Fatalf("%d of 40 allowed, want 5", allowed)
		}
	})
	t.Run("bans", func(t *testing.T) {
		s, _, _ := open(t)
		ctx := t.Context()
		b, created, err := s.Ban(ctx, regulation.Ban{ID: "account-1", Kind: "account", Subject: "a|b@example.com", Failures: 5}, time.Minute)
		if err != nil || !created || time.Until(b.Until) < 50*time.Second || time.Until(b.Until) > 70*time.Second {
			t.Fatalf("ban: %+v %v %v", b, created, err)
		}
		again, created, err := s.Ban(ctx, regulation.Ban{ID: "account-1", Kind: "account", Subject: "a|b@example.com", Failures: 5}, time.Hour)
		if err != nil || created || !again.Until.Equal(b.Until) {
			t.Fatalf("a ban in force was replaced: %+v %v %v", again, created, err)
		}
		if _, _, err := s.Ban(ctx, regulation.Ban{ID: "ip-1", Kind: "ip", Subject: "192.0.2.1", Failures: 20}, 2*time.Second); err != nil {
			t.Fatal(err)
		}
		got, err := s.Banned(ctx, "account-1", "ip-1", "ip-unknown")
		if err != nil || len(got) != 2 {
			t.Fatalf("banned: %+v %v", got, err)
		}
		all, err := s.Bans(ctx)
		if err != nil || len(all) != 2 || all[0].ID != "ip-1" || all[1].Subject != "a|b@example.com" || all[1].Failures != 5 || all[1].Kind != "account" {
			t.Fatalf("bans: %+v %v", all, err)
		}
		time.Sleep(2100 * time.Millisecond)
		if got, err := s.Banned(ctx, "ip-1"); err != nil || len(got) != 0 {
			t.Fatalf("expired ban still in force: %+v %v", got, err)
		}
		if all, err := s.Bans(ctx); err != nil || len(all) != 1 {
			t.Fatalf("bans after expiry: %+v %v", all, err)
		}
		if _, err := s.Lift(ctx, "ip-1"); !errors.Is(err, regulation.ErrNotFound) {
			t.Fatalf("lift expired: %v", err)
		}
		if b, err := s.Lift(ctx, "account-1"); err != nil || b.ID != "account-1" {
			t.Fatalf("lift: %+v %v", b, err)
		}
		if _, err := s.Lift(ctx, "account-1"); !errors.Is(err, regulation.ErrNotFound) {
			t.Fatalf("lift twice: %v", err)
		}
		if all, err := s.Bans(ctx); err != nil || len(all) != 0 {
			t.Fatalf("bans after lift: %+v %v", all, err)
		}
	})
	t.Run("keys under the prefix", func(t *testing.T) {
		s, rdb, prefix := open(t)
		ctx := t.Context()
		if _, err := s.Hit(ctx, "login:x", regulation.Limit{Events: 3, Window: time.Minute}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.Ban(ctx, regulation.Ban{ID: "ip-1", Kind: "ip", Subject: "192.0.2.1"}, time.Minute); err != nil {
			t.Fatal(err)
		}
		keys := scanAll(ctx, t, rdb)
		want := map[string]bool{prefix + "rate:login:x": false, prefix + "regulation:bans": false}
		for _, k := range keys {
			if _, ok := want[k]; ok {
				want[k] = true
			} else if !strings.HasPrefix(k, "t:") && !strings.HasPrefix(k, prefix) {
				t.Errorf("key %q outside the prefix", k)
			}
		}
		for k, seen := range want {
			if !seen {
				t.Errorf("key %q not written; keys: %q", k, keys)
			}
		}
		ttl, err := rdb.PTTL(ctx, prefix+"regulation:bans").Result()
		if err != nil || ttl <= 0 || ttl > time.Minute+2*time.Second {
			t.Fatalf("the bans hash does not expire with its longest ban: %v %v", ttl, err)
		}
	})
}

// scanAll lists every key (on every master of a cluster).
func scanAll(ctx context.Context, t *testing.T, rdb redis.UniversalClient) []string {
	t.Helper()
	var keys []string
	var mu sync.Mutex
	scan := func(ctx context.Context, c *redis.Client) error {
		it := c.Scan(ctx, 0, "*", 1000).Iterator()
		for it.Next(ctx) {
			mu.Lock()
			keys = append(keys, it.Val())
			mu.Unlock()
		}
		return it.Err()
	}
	var err error
	switch c := rdb.(type) {
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, scan)
	case *redis.Client:
		err = scan(ctx, c)
	}
	if err != nil {
		t.Fatal(err)
	}
	return keys
}
