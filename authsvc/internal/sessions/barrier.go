package sessions

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// A revocation message reaches every replica's subscription before PUBLISH returns,
// but a replica applies it a moment later, when its subscriber goroutine runs: a
// request arriving at that replica in between could still be served from its cache.
// Barrier closes that gap for the changes that must count on the very next request
// (an administrator's): it publishes "barrier <nonce>" on the same channel after the
// revocation and waits until every subscriber has counted it (INCR on
// <prefix>barrier:<nonce>). Messages on one subscription arrive in order, so a replica
// that counted the barrier has applied the revocation before it. Replicas that do not
// know barriers read the message as a revocation of a user named "barrier" (nothing)
// and never count, so Barrier then waits its whole limit: slower during a rolling
// upgrade, never less safe.

const barrierPrefix = "barrier "

func (st *Store) barrierKey(nonce string) string { return st.cfg.Prefix + "barrier:{" + nonce + "}" }

// Barrier waits, at most wait, until every replica subscribed to the revocation channel
// has applied the revocations published before it. It reports whether they all did; a
// Redis failure or the limit is false (the changes themselves are done either way).
func (st *Store) Barrier(ctx context.Context, wait time.Duration) bool {
	var b [16]byte
	_, _ = rand.Read(b[:])
	nonce := hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), min(wait, st.cfg.Timeout))
	defer cancel()
	key := st.barrierKey(nonce)
	defer func() {
		dctx, dcancel := context.WithTimeout(context.WithoutCancel(ctx), st.cfg.Timeout)
		defer dcancel()
		_ = st.rdb.Del(dctx, key).Err()
	}()
	n, err := st.rdb.Publish(ctx, st.channel(), barrierPrefix+nonce).Result()
	if err != nil {
		return false
	}
	if n == 0 {
		return true // nobody caches sessions
	}
	for delay := 200 * time.Microsecond; ; delay = min(2*delay, 5*time.Millisecond) {
		got, err := st.rdb.Get(ctx, key).Int64()
		if err == nil && got >= n {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(delay):
		}
	}
}

// ackBarrier counts this replica's passing of the barrier in payload, if it is one.
func (st *Store) ackBarrier(ctx context.Context, payload string) bool {
	nonce, ok := strings.CutPrefix(payload, barrierPrefix)
	if !ok {
		return false
	}
	if len(nonce) != 32 || strings.Trim(nonce, "0123456789abcdef") != "" {
		return true // not ours to count
	}
	ctx, cancel := context.WithTimeout(ctx, st.cfg.Timeout)
	defer cancel()
	key := st.barrierKey(nonce)
	_, _ = st.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Incr(ctx, key)
		p.Expire(ctx, key, 10*time.Second)
		return nil
	})
	return true
}
