package embedded

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/alicebob/miniredis/v2"
)

// Redis is a running in-process Redis-protocol server (miniredis) whose keys are saved to
// a snapshot file on Stop and loaded again on start, so development sessions survive a
// restart. It is not crash-safe and not shared between processes.
type Redis struct {
	mr       *miniredis.Miniredis
	snapshot string
}

// StartRedis listens on listen (host:port, port 0 for any) and loads snapshot if it
// exists. Errors: the address is taken or the snapshot is unreadable.
func StartRedis(listen, snapshot string) (*Redis, error) {
	mr := miniredis.NewMiniRedis()
	mr.ClockTTL(true) // expire keys with the wall clock, like a real server
	if err := mr.StartAddr(listen); err != nil {
		return nil, fmt.Errorf("embedded redis: %w", err)
	}
	r := &Redis{mr: mr, snapshot: snapshot}
	if err := r.load(); err != nil {
		mr.Close()
		return nil, err
	}
	return r, nil
}

// URL is the redis:// address of the server.
func (r *Redis) URL() string { return "redis://" + r.mr.Addr() + "/0" }

// Stop saves the snapshot and closes the server. Errors: the snapshot cannot be written.
func (r *Redis) Stop() error {
	err := r.save()
	r.mr.Close()
	return err
}

// entry is one key of the snapshot.
type entry struct {
	Type  string             `json:"type"`
	TTLms int64              `json:"ttl_ms,omitempty"`
	Str   string             `json:"str,omitempty"`
	Hash  map[string]string  `json:"hash,omitempty"`
	ZSet  map[string]float64 `json:"zset,omitempty"`
	Set   []string           `json:"set,omitempty"`
}

func (r *Redis) save() error {
	if r.snapshot == "" {
		return nil
	}
	out := map[string]entry{}
	for _, k := range r.mr.Keys() {
		e := entry{Type: r.mr.Type(k), TTLms: r.mr.TTL(k).Milliseconds()}
		switch e.Type {
		case "string":
			e.Str, _ = r.mr.Get(k)
		case "hash":
			fields, _ := r.mr.HKeys(k)
			e.Hash = make(map[string]string, len(fields))
			for _, f := range fields {
				e.Hash[f] = r.mr.HGet(k, f)
			}
		case "zset":
			members, _ := r.mr.ZMembers(k)
			e.ZSet = make(map[string]float64, len(members))
			for _, m := range members {
				e.ZSet[m], _ = r.mr.ZScore(k, m)
			}
		case "set":
			e.Set, _ = r.mr.Members(k)
		default:
			continue // rate-limit counters and the like are not worth keeping
		}
		out[k] = e
	}
	b, err := json.Marshal(out)
	if err != nil {
		return fmt.Errorf("embedded redis snapshot: %w", err)
	}
	tmp := r.snapshot + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("embedded redis snapshot: %w", err)
	}
	return os.Rename(tmp, r.snapshot)
}

func (r *Redis) load() error {
	if r.snapshot == "" {
		return nil
	}
	b, err := os.ReadFile(r.snapshot)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("embedded redis snapshot: %w", err)
	}
	var in map[string]entry
	if err := json.Unmarshal(b, &in); err != nil {
		return fmt.Errorf("embedded redis snapshot %s: %w", r.snapshot, err)
	}
	for k, e := range in {
		switch e.Type {
		case "string":
			_ = r.mr.Set(k, e.Str)
		case "hash":
			for f, v := range e.Hash {
				r.mr.HSet(k, f, v)
			}
		case "zset":
			for m, s := range e.ZSet {
				_, _ = r.mr.ZAdd(k, s, m)
			}
		case "set":
			_, _ = r.mr.SAdd(k, e.Set...)
		}
		if e.TTLms > 0 {
			r.mr.SetTTL(k, time.Duration(e.TTLms)*time.Millisecond)
		}
	}
	return nil
}
