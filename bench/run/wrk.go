package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// wrkGen runs wrk (a separate process) at a fixed number of connections. Its Lua script
// prints the totals, latency percentiles and, when the expected answer is not a 2xx, the
// count of every status, on lines the runner parses.
type wrkGen struct {
	bin     string
	threads int
	dir     string // where the Lua scripts go
}

func (w wrkGen) name() string { return "wrk (" + w.bin + ")" }

// wrkScript reports on stdout, after wrk's own summary:
//
//	BENCH_SUMMARY <requests> <duration µs> <connect> <read> <write> <timeout> <non-2xx/3xx>
//	BENCH_LATENCY <p50 µs> <p90 µs> <p99 µs> <max µs>
//	BENCH_STATUS <status> <count>      (one per status; only with countStatuses)
func wrkScript(countStatuses bool) string {
	var b strings.Builder
	b.WriteString(`local threads = {}
function setup(thread) table.insert(threads, thread) end
`)
	if countStatuses {
		b.WriteString(`counts = {}
function response(status, headers, body) counts[status] = (counts[status] or 0) + 1 end
`)
	}
	b.WriteString(`function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH_SUMMARY %d %d %d %d %d %d %d\n", summary.requests, summary.duration,
    e.connect, e.read, e.write, e.timeout, e.status))
  io.write(string.format("BENCH_LATENCY %d %d %d %d\n", latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max))
`)
	if countStatuses {
		b.WriteString(`  for _, t in ipairs(threads) do
    for status, n in pairs(t:get("counts")) do io.write(string.format("BENCH_STATUS %d %d\n", status, n)) end
  end
`)
	}
	b.WriteString("end\n")
	return b.String()
}

func (w wrkGen) throughput(ctx context.Context, t target, conns int, d time.Duration) (result, error) {
	count := t.expect < 200 || t.expect > 299
	script := filepath.Join(w.dir, fmt.Sprintf("wrk-%t.lua", count))
	if err := os.WriteFile(script, []byte(wrkScript(count)), 0o600); err != nil {
		return result{}, fmt.Errorf("wrk script: %w", err)
	}
	secs := max(1, int(d.Round(time.Second)/time.Second))
	args := []string{
		"-t", strconv.Itoa(w.threads), "-c", strconv.Itoa(conns), "-d", strconv.Itoa(secs) + "s",
		"--timeout", "10s", "--latency", "-s", script,
	}
	for k, vs := range t.header {
		for _, v := range vs {
			args = append(args, "-H", k+": "+v)
		}
	}
	args = append(args, t.url)
	ctx, cancel := context.WithTimeout(ctx, d+30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, w.bin, args...) //nolint:gosec // G204: wrk from PATH with the runner's own arguments
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return result{}, fmt.Errorf("wrk: %w: %s%s", err, out.String(), errb.String())
	}
	res, err := parseWrk(out.String(), t.expect, count)
	if err != nil {
		return res, fmt.Errorf("%w\n%s", err, out.String())
	}
	return res, nil
}

// parseWrk reads the BENCH_* lines of wrkScript's output. Errors are socket errors plus,
// when statuses were counted, every answer but expect, else wrk's non-2xx/3xx count.
func parseWrk(out string, expect int, counted bool) (result, error) {
	res := result{statuses: map[int]int64{}}
	var haveSummary, haveLatency bool
	var socketErrs, non2xx int64
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		n := make([]int64, 0, len(f)-1)
		for _, s := range f[1:] {
			v, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				break
			}
			n = append(n, v)
		}
		switch {
		case f[0] == "BENCH_SUMMARY" && len(n) == 7:
			res.requests, res.duration = n[0], time.Duration(n[1])*time.Microsecond
			socketErrs, non2xx = n[2]+n[3]+n[4]+n[5], n[6]
			haveSummary = true
		case f[0] == "BENCH_LATENCY" && len(n) == 4:
			res.p50, res.p90 = time.Duration(n[0])*time.Microsecond, time.Duration(n[1])*time.Microsecond
			res.p99, res.max = time.Duration(n[2])*time.Microsecond, time.Duration(n[3])*time.Microsecond
			haveLatency = true
		case f[0] == "BENCH_STATUS" && len(n) == 2:
			res.statuses[int(n[0])] += n[1]
		}
	}
	if !haveSummary || !haveLatency {
		return res, fmt.Errorf("wrk: no BENCH_SUMMARY/BENCH_LATENCY lines in its output")
	}
	if res.duration > 0 {
		res.rps = float64(res.requests) / res.duration.Seconds()
	}
	res.errors = socketErrs
	if socketErrs > 0 {
		res.statuses[0] += socketErrs
		res.note = fmt.Sprintf("%d socket errors", socketErrs)
	}
	if counted {
		for code, c := range res.statuses {
			if code != expect && code != 0 {
				res.errors += c
			}
		}
	} else {
		res.errors += non2xx
		if ok := res.requests - non2xx; ok > 0 {
			res.statuses[expect] += ok
		}
		if non2xx > 0 {
			res.statuses[-1] += non2xx // "non-2xx/3xx" as wrk counts them
		}
	}
	return res, nil
}
