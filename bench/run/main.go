// Command run is authgate's benchmark suite (`make bench`; see bench/README.md): it
// builds the gateway, upstream-demo and the plain proxy, starts them with Redis, nginx and
// oauth2-proxy on loopback, measures every scenario interleaved with its baseline, and
// writes bench/results/<date>-<host>.md with a chart.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// options are the runner's flags.
type options struct {
	root, out      string
	chartFormat    string
	only           map[string]bool // groups to run; empty: all
	quick, noPeer  bool
	noNginx        bool
	generator      string // auto, wrk or vegeta
	plan           plan
	sessions       int
	logins         int
	maxHashes      int
	wrkThreads     int
	timeout        time.Duration
	args           []string
	loginRounds    int
	refreshRounds  int
	invocationHint string
}

func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.root, "root", ".", "repository root (holds go.mod)")
	fs.StringVar(&o.out, "out", "bench/results", "directory for the report and chart, relative to -root")
	fs.StringVar(&o.chartFormat, "chart", "svg", "chart format: svg or png")
	fs.BoolVar(&o.quick, "quick", getenv("BENCH_QUICK") != "", "short legs (about a third of the time); also BENCH_QUICK=1")
	only := fs.String("only", "", "run only these groups, comma-separated: proxied, forward-auth, nginx-auth-request, rejected, refresh, login")
	fs.BoolVar(&o.noPeer, "no-peer", false, "do not build or run oauth2-proxy")
	fs.BoolVar(&o.noNginx, "no-nginx", false, "do not run nginx even if it is installed")
	fs.StringVar(&o.generator, "generator", "auto", "throughput load generator: auto (wrk when on PATH, else vegeta), wrk or vegeta")
	fs.IntVar(&o.plan.rounds, "rounds", 2, "rounds of every A/B comparison (A B A B is 2)")
	fs.DurationVar(&o.plan.thr, "thr", 5*time.Second, "fixed-concurrency run per leg")
	fs.DurationVar(&o.plan.lat, "lat", 3*time.Second, "fixed-rate run per leg")
	fs.IntVar(&o.plan.conns, "conns", 64, "connections of the fixed-concurrency runs")
	fs.IntVar(&o.plan.rate, "rate", 1000, "requests per second of the fixed-rate runs")
	fs.IntVar(&o.sessions, "sessions", 64, "refresh: sessions refreshing in parallel")
	fs.IntVar(&o.logins, "logins", 200, "login: simultaneous logins of distinct users")
	fs.IntVar(&o.maxHashes, "max-hashes", defaultMaxHashes(), "gateway passwords.max_concurrent_hashes (default: the gateway's own, 2×GOMAXPROCS)")
	fs.IntVar(&o.wrkThreads, "wrk-threads", 1, "wrk threads (the load generator shares the machine)")
	fs.DurationVar(&o.timeout, "timeout", 20*time.Minute, "hard limit for the whole run")
	if err := fs.Parse(args); err != nil {
		return o, fmt.Errorf("flags: %w", err)
	}
	o.args = args
	o.only = map[string]bool{}
	for _, k := range strings.Split(*only, ",") {
		if k = strings.TrimSpace(k); k != "" {
			o.only[k] = true
		}
	}
	o.plan.warm = time.Second
	o.loginRounds, o.refreshRounds = o.plan.rounds, o.plan.rounds
	if o.quick {
		o.plan.thr, o.plan.lat = 2*time.Second, time.Second
	}
	if o.plan.rounds < 1 || o.plan.conns < 1 || o.plan.rate < 1 || o.sessions < 1 || o.logins < 1 || o.maxHashes < 1 {
		return o, errors.New("flags: rounds, conns, rate, sessions, logins and max-hashes must be positive")
	}
	if o.generator != "auto" && o.generator != "wrk" && o.generator != "vegeta" {
		return o, errors.New("flags: -generator must be auto, wrk or vegeta")
	}
	if o.chartFormat != "svg" && o.chartFormat != "png" {
		return o, errors.New("flags: -chart must be svg or png")
	}
	if o.plan.thr < time.Second || o.plan.lat < 500*time.Millisecond {
		return o, errors.New("flags: -thr must be at least 1s (wrk counts whole seconds), -lat at least 500ms")
	}
	if getenv("MAKELEVEL") != "" { // started by `make bench`: say it the same way
		o.invocationHint = "make bench"
		if len(args) > 0 {
			o.invocationHint = "make bench BENCH_FLAGS='" + strings.Join(args, " ") + "'"
		}
	}
	return o, nil
}

func main() {
	testing.Init() // testing.Benchmark (signing and hashing rates) reads the test flags
	if err := flag.CommandLine.Set("test.benchtime", "1s"); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	o, err := parseFlags(os.Args[1:], os.Getenv, os.Stderr)
	if err != nil {
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	report, err := run(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		cancel()
		stop()
		os.Exit(1)
	}
	fmt.Fprintln(os.Stderr, "bench: report written to", report)
}

// run is the whole suite; it returns the report's path. Every child is stopped and the
// temporary directory removed before it returns, whatever happened.
func run(ctx context.Context, o options) (string, error) {
	root, err := filepath.Abs(o.root)
	if err != nil {
		return "", fmt.Errorf("root: %w", err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		return "", fmt.Errorf("-root %s: no go.mod there (run from the repository root)", root)
	}
	s := &suite{opts: o, started: time.Now(), root: root}
	s.info = collectInfo(ctx, root, o)
	progress("bench: %s, %d CPUs, %s — building", s.info.goVersion, runtime.NumCPU(), s.info.commit)
	s.bins, err = build(ctx, root, o.noPeer)
	if err != nil {
		return "", err
	}
	removeStaleDirs()
	dir, err := os.MkdirTemp("", "authgate-bench-")
	if err != nil {
		return "", fmt.Errorf("temp dir: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "runner.pid"), []byte(strconv.Itoa(os.Getpid())), 0o600); err != nil {
		return "", fmt.Errorf("temp dir: %w", err)
	}
	ps := &procs{dir: dir}
	s.st = &stack{dir: dir, runID: fmt.Sprintf("%x", time.Now().UnixNano()&0xffffffff), ps: ps, bins: s.bins, maxHashes: o.maxHashes}
	defer func() {
		ps.stopAll()
		s.st.cleanStores()
		_ = os.RemoveAll(dir)
	}()
	if err := s.measure(ctx); err != nil {
		return "", err
	}
	resultsDir, err := s.resultsDir()
	if err != nil {
		return "", err
	}
	s.profileMisses(ctx, resultsDir, s.stem())
	s.wall = time.Since(s.started)
	return s.write(resultsDir)
}

// removeStaleDirs deletes the temporary directories of runs that were killed before they
// could clean up (their runner.pid names no live process).
func removeStaleDirs() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "authgate-bench-*"))
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "runner.pid")) //nolint:gosec // G304: our own temp dirs
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(string(b))
		if err != nil || pid <= 0 {
			continue
		}
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); os.IsNotExist(err) {
			_ = os.RemoveAll(d)
		}
	}
}

// hostname for the report's file name: its first label, lower case, safe characters only.
func hostname() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "unknown-host"
	}
	h = strings.ToLower(strings.Split(h, ".")[0])
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '-'
	}, h)
}
