// Package regulation keeps the account core's failure counters and bans in Redis, so
// that every replica sees the same ones. Counters are GCRA limiters
// (github.com/go-redis/redis_rate); bans are the fields of one hash. Every command
// touches one key, so it works on Redis Cluster as on a single server, and every key
// starts with the configured prefix. Times come from the Redis server's clock (the
// limiter's script and the ban script read TIME), so replicas with skewed clocks agree.
package regulation

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// ErrNotFound: no ban in force with that id.
var ErrNotFound = errors.New("regulation: no such ban")

// Limit allows Events per Window, all of them at once (GCRA with a burst of Events).
type Limit struct {
	Events int
	Window time.Duration
}

// Zero reports whether the limit is off.
func (l Limit) Zero() bool { return l.Events <= 0 || l.Window <= 0 }

// Result is the outcome of one Hit.
type Result struct {
	Allowed    bool          // the event fit in the limit
	Remaining  int           // events that still fit now
	RetryAfter time.Duration // when Allowed is false: until the next one fits
}

// Ban is one ban in force.
type Ban struct {
	ID       string
	Kind     string
	Subject  string
	Until    time.Time
	Failures int
}

// Store is the counters and bans under one key prefix. It is safe for concurrent use.
type Store struct {
	rdb     redis.UniversalClient
	lim     *redis_rate.Limiter
	prefix  string
	timeout time.Duration
}

// New returns the store on rdb; prefix begins every key, timeout bounds every call.
func New(rdb redis.UniversalClient, prefix string, timeout time.Duration) *Store {
	return &Store{rdb: rdb, lim: redis_rate.NewLimiter(prefixed{rdb, prefix}), prefix: prefix, timeout: timeout}
}

func (s *Store) bansKey() string { return s.prefix + "regulation:bans" }

// Hit charges one event to the counter key under l. Errors: the Redis client's.
func (s *Store) Hit(ctx context.Context, key string, l Limit) (Result, error) {
	return s.hit(ctx, key, l, 1)
}

// Peek is Hit without the charge: the same script and round trip, the count unchanged
// (so that a call that must not count takes as long as one that does).
func (s *Store) Peek(ctx context.Context, key string, l Limit) (Result, error) {
	return s.hit(ctx, key, l, 0)
}

func (s *Store) hit(ctx context.Context, key string, l Limit, n int) (Result, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	res, err := s.lim.AllowN(ctx, key, redis_rate.Limit{Rate: l.Events, Burst: l.Events, Period: l.Window}, n)
	if err != nil {
		return Result{}, fmt.Errorf("regulation: %w", err)
	}
	return Result{Allowed: res.Allowed > 0, Remaining: res.Remaining, RetryAfter: max(res.RetryAfter, 0)}, nil
}

// Reset forgets the counter key. Errors: the Redis client's.
func (s *Store) Reset(ctx context.Context, key string) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if err := s.lim.Reset(ctx, key); err != nil {
		return fmt.Errorf("regulation: %w", err)
	}
	return nil
}

// banScript records a ban unless one is in force: KEYS[1] the bans hash, ARGV the
// field (ban id), the duration in ms and the rest of the record
// ("failures|kind|subject"). The hash itself expires when its longest ban would, so
// that stale fields never outlive it. Returns {1, until_ms} when it recorded the ban,
// {0, until_ms} (the ban in force) when not.
var banScript = redis.NewScript(`
local t = redis.call("TIME")
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cur = redis.call("HGET", KEYS[1], ARGV[1])
if cur then
  local u = tonumber(string.match(cur, "^(%d+)|"))
  if u and u > now then return {0, u} end
end
local dur = tonumber(ARGV[2])
local untilms = now + dur
redis.call("HSET", KEYS[1], ARGV[1], untilms .. "|" .. ARGV[3])
local ttl = redis.call("PTTL", KEYS[1])
if ttl < dur then redis.call("PEXPIRE", KEYS[1], dur + 1000) end
return {1, untilms}
`)

// Ban bans b.ID for d unless a ban with that id is in force, and returns the ban in
// force and whether it is the one just made. Errors: the Redis client's.
func (s *Store) Ban(ctx context.Context, b Ban, d time.Duration) (Ban, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	rest := strconv.Itoa(b.Failures) + "|" + b.Kind + "|" + b.Subject
	v, err := banScript.Run(ctx, s.rdb, []string{s.bansKey()}, b.ID, d.Milliseconds(), rest).Int64Slice()
	if err != nil || len(v) != 2 {
		return Ban{}, false, fmt.Errorf("regulation: ban: %w", errors.Join(err, errors.New("unexpected reply")))
	}
	b.Until = time.UnixMilli(v[1])
	return b, v[0] == 1, nil
}

// bannedScript reads the bans ARGV (ids) of the hash KEYS[1] with the Redis server's
// time: {now_ms, record or "" per id}. Expiry is judged by the clock that set it
// (banScript), not by a replica's.
var bannedScript = redis.NewScript(`
local t = redis.call("TIME")
local out = {tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)}
local vals = redis.call("HMGET", KEYS[1], unpack(ARGV))
for i = 1, #ARGV do
  if vals[i] then out[i + 1] = vals[i] else out[i + 1] = "" end
end
return out
`)

// bansScript returns every ban of the hash KEYS[1] in force by the Redis server's
// time, as {id, record, id, record, …}, and deletes the expired ones (by that same
// clock, so a replica whose clock runs ahead cannot lift a ban in force).
var bansScript = redis.NewScript(`
local t = redis.call("TIME")
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local all = redis.call("HGETALL", KEYS[1])
local out, stale = {}, {}
for i = 1, #all, 2 do
  local u = tonumber(string.match(all[i + 1], "^(%d+)|"))
  if u and u > now then
    out[#out + 1] = all[i]
    out[#out + 1] = all[i + 1]
  else
    stale[#stale + 1] = all[i]
  end
end
if #stale > 0 then redis.call("HDEL", KEYS[1], unpack(stale)) end
return out
`)

// Banned returns the bans in force among ids, by the Redis server's clock (expired ones
// are left out). Errors: the Redis client's.
func (s *Store) Banned(ctx context.Context, ids ...string) ([]Ban, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	vals, err := bannedScript.Run(ctx, s.rdb, []string{s.bansKey()}, args...).Slice()
	if err != nil {
		return nil, fmt.Errorf("regulation: %w", err)
	}
	nowMS, ok := vals[0].(int64)
	if !ok || len(vals) != len(ids)+1 {
		return nil, errors.New("regulation: unexpected reply to the bans script")
	}
	now := time.UnixMilli(nowMS)
	var out []Ban
	for i, id := range ids {
		str, _ := vals[i+1].(string)
		if b, ok := parseBan(id, str); ok && b.Until.After(now) {
			out = append(out, b)
		}
	}
	return out, nil
}

// Bans returns every ban in force, soonest to end first, and deletes the expired ones,
// both by the Redis server's clock. Errors: the Redis client's.
func (s *Store) Bans(ctx context.Context) ([]Ban, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	all, err := bansScript.Run(ctx, s.rdb, []string{s.bansKey()}).StringSlice()
	if err != nil {
		return nil, fmt.Errorf("regulation: %w", err)
	}
	out := make([]Ban, 0, len(all)/2)
	for i := 0; i+1 < len(all); i += 2 {
		if b, ok := parseBan(all[i], all[i+1]); ok {
			out = append(out, b)
		}
	}
	slices.SortFunc(out, func(a, b Ban) int {
		if c := a.Until.Compare(b.Until); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// Lift ends the ban id and returns it. Errors: ErrNotFound (no ban in force with that
// id), the Redis client's.
func (s *Store) Lift(ctx context.Context, id string) (Ban, error) {
	bans, err := s.Banned(ctx, id)
	if err != nil {
		return Ban{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	n, err := s.rdb.HDel(ctx, s.bansKey(), id).Result()
	if err != nil {
		return Ban{}, fmt.Errorf("regulation: %w", err)
	}
	if len(bans) == 0 || n == 0 {
		return Ban{}, ErrNotFound
	}
	return bans[0], nil
}

// parseBan reads a field of the bans hash: "until_ms|failures|kind|subject".
func parseBan(id, v string) (Ban, bool) {
	parts := strings.SplitN(v, "|", 4)
	if len(parts) != 4 {
		return Ban{}, false
	}
	until, err1 := strconv.ParseInt(parts[0], 10, 64)
	failures, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil {
		return Ban{}, false
	}
	return Ban{ID: id, Kind: parts[2], Subject: parts[3], Until: time.UnixMilli(until), Failures: failures}, true
}

// prefixed is the client as the limiter sees it, with every key it names put under
// the prefix (the limiter itself only prepends "rate:").
type prefixed struct {
	redis.UniversalClient
	prefix string
}

func (p prefixed) keys(keys []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = p.prefix + k
	}
	return out
}

func (p prefixed) Eval(ctx context.Context, script string, keys []string, args ...any) *redis.Cmd {
	return p.UniversalClient.Eval(ctx, script, p.keys(keys), args...)
}

func (p prefixed) EvalSha(ctx context.Context, sha1 string, keys []string, args ...any) *redis.Cmd {
	return p.UniversalClient.EvalSha(ctx, sha1, p.keys(keys), args...)
}

func (p prefixed) EvalRO(ctx context.Context, script string, keys []string, args ...any) *redis.Cmd {
	return p.UniversalClient.EvalRO(ctx, script, p.keys(keys), args...)
}

func (p prefixed) EvalShaRO(ctx context.Context, sha1 string, keys []string, args ...any) *redis.Cmd {
	return p.UniversalClient.EvalShaRO(ctx, sha1, p.keys(keys), args...)
}

func (p prefixed) Del(ctx context.Context, keys ...string) *redis.IntCmd {
	return p.UniversalClient.Del(ctx, p.keys(keys)...)
}
