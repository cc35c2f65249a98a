package main

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// target is what one scenario requests: a GET of url with headers, answered expect.
type target struct {
	url    string
	header http.Header
	expect int
}

// result is one measured leg of load: a fixed-concurrency run (throughput) or a
// fixed-rate run (latency).
type result struct {
	requests int64
	duration time.Duration
	rps      float64
	p50      time.Duration
	p90      time.Duration
	p99      time.Duration
	max      time.Duration
	errors   int64 // answers other than target.expect, and socket errors/timeouts
	statuses map[int]int64
	note     string // e.g. the first error seen
}

// throughputGen applies load at a fixed concurrency (a closed loop of conns clients).
type throughputGen interface {
	name() string
	throughput(ctx context.Context, t target, conns int, d time.Duration) (result, error)
}

// vegetaGen is the in-process generator: github.com/tsenart/vegeta/v12. It is the
// fixed-rate (open-loop) generator of every latency leg, and the throughput generator when
// wrk is not installed.
type vegetaGen struct{}

func (vegetaGen) name() string { return "vegeta v12.13.0 (in-process)" }

// throughput runs vegeta at rate 0 (as fast as possible) with exactly conns workers.
func (v vegetaGen) throughput(ctx context.Context, t target, conns int, d time.Duration) (result, error) {
	return runVegeta(ctx, t, vegeta.ConstantPacer{}, uint64(conns), conns, d) //nolint:gosec // G115: conns is a small positive flag value
}

// atRate runs vegeta at a constant rate, so that latency includes any queueing: requests
// are sent on schedule whether or not earlier ones have been answered.
func (vegetaGen) atRate(ctx context.Context, t target, rate int, d time.Duration) (result, error) {
	return runVegeta(ctx, t, vegeta.ConstantPacer{Freq: rate, Per: time.Second}, 0, 0, d)
}

// runVegeta attacks t for d. workers > 0 fixes the worker count (throughput mode);
// otherwise vegeta adds workers as needed to keep the rate.
func runVegeta(ctx context.Context, t target, p vegeta.Pacer, workers uint64, conns int, d time.Duration) (result, error) {
	opts := []func(*vegeta.Attacker){
		vegeta.Timeout(10 * time.Second), vegeta.KeepAlive(true), vegeta.MaxBody(0),
		vegeta.Redirects(vegeta.NoFollow), vegeta.Connections(1024),
	}
	if workers > 0 {
		opts = append(opts, vegeta.Workers(workers), vegeta.MaxWorkers(workers), vegeta.MaxConnections(conns))
	}
	atk := vegeta.NewAttacker(opts...)
	tr := vegeta.NewStaticTargeter(vegeta.Target{Method: http.MethodGet, URL: t.url, Header: t.header})
	stop := context.AfterFunc(ctx, func() { atk.Stop() })
	defer stop()

	var m vegeta.Metrics
	res := result{statuses: map[int]int64{}}
	for r := range atk.Attack(tr, p, d, "") {
		m.Add(r)
		code := int(r.Code)
		res.statuses[code]++
		if code != t.expect {
			res.errors++
			if res.note == "" && r.Error != "" {
				res.note = r.Error
			}
		}
	}
	m.Close()
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("vegeta: %w", err)
	}
	res.requests = int64(m.Requests) //nolint:gosec // G115: a request count fits
	res.duration = m.Duration + m.Wait
	if res.duration > 0 {
		res.rps = float64(res.requests) / res.duration.Seconds()
	}
	res.p50, res.p90, res.p99, res.max = m.Latencies.P50, m.Latencies.P90, m.Latencies.P99, m.Latencies.Max
	return res, nil
}

// statusText renders the status counts as "200×123 401×4", sorted by status (0: socket
// errors, -1: wrk's count of answers that were not 2xx/3xx).
func statusText(s map[int]int64) string {
	codes := make([]int, 0, len(s))
	for c := range s {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	out := ""
	for _, c := range codes {
		if out != "" {
			out += " "
		}
		name := strconv.Itoa(c)
		switch c {
		case 0:
			name = "socket-error"
		case -1:
			name = "non-2xx/3xx"
		}
		out += fmt.Sprintf("%s×%d", name, s[c])
	}
	return out
}
