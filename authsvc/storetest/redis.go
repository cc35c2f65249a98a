package storetest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// RedisURL returns REDIS_URL when it is set. Otherwise it starts, once per test binary,
// a `redis-server` child on a free loopback port with persistence off (--save "",
// --appendonly no); only when no redis-server binary is on PATH does it start an
// in-process miniredis (whose TTLs follow the wall clock, like a real server's). The
// first call logs which server the tests use. It fails the test when no server can be
// started. A server it starts is stopped by [Main], so the package's TestMain must call it.
func RedisURL(tb testing.TB) string {
	tb.Helper()
	r := &servers
	r.redisOnce.Do(func() { r.redisURL, r.redisDesc, r.redisErr = r.startRedis() })
	if r.redisErr != nil {
		tb.Fatalf("storetest: redis: %v", r.redisErr)
	}
	r.redisLogged.Do(func() { tb.Logf("storetest: redis: %s", r.redisDesc) })
	return r.redisURL
}

// IsMiniredis reports whether the tests' Redis is the in-process miniredis (no
// redis-server installed), which lacks some server commands (CLIENT KILL).
func IsMiniredis(tb testing.TB) bool {
	tb.Helper()
	RedisURL(tb)
	return strings.Contains(servers.redisDesc, "miniredis")
}

// Redis returns a client for [RedisURL] and a key prefix ("t:<random>:") unique to
// this test. At cleanup it deletes every key under the prefix (SCAN + UNLINK) and closes
// the client. The client honours context deadlines (ContextTimeoutEnabled). It fails
// the test when the server does not answer a PING.
func Redis(tb testing.TB) (redis.UniversalClient, string) {
	tb.Helper()
	opts, err := redis.ParseURL(RedisURL(tb))
	if err != nil {
		tb.Fatalf("storetest: parse redis URL: %v", err)
	}
	opts.ContextTimeoutEnabled = true
	rdb := redis.NewClient(opts)
	prefix := "t:" + rand.Text() + ":"

	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
		defer cancel()
		if err := deleteKeys(ctx, rdb, prefix); err != nil {
			tb.Errorf("storetest: delete keys %s*: %v", prefix, err)
		}
		if err := rdb.Close(); err != nil {
			tb.Errorf("storetest: close redis client: %v", err)
		}
	})

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		tb.Fatalf("storetest: redis ping %s: %v", redact(RedisURL(tb)), err)
	}
	return rdb, prefix
}

// deleteKeys deletes every key that starts with prefix, in batches (SCAN MATCH +
// UNLINK). The prefix must not contain glob metacharacters (* ? [ ] \).
func deleteKeys(ctx context.Context, rdb redis.UniversalClient, prefix string) error {
	const batch = 500
	it := rdb.Scan(ctx, 0, prefix+"*", batch).Iterator()
	keys := make([]string, 0, batch)
	flush := func() error {
		if len(keys) == 0 {
			return nil
		}
		err := rdb.Unlink(ctx, keys...).Err()
		keys = keys[:0]
		return err
	}
	for it.Next(ctx) {
		keys = append(keys, it.Val())
		if len(keys) == batch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := it.Err(); err != nil {
		return err
	}
	return flush()
}

// startRedis picks the Redis server for this binary; it returns its URL and a line
// describing it.
func (r *registry) startRedis() (string, string, error) {
	if u := os.Getenv(envRedisURL); u != "" {
		return u, "using REDIS_URL " + redact(u), nil
	}
	if bin := lookPath("redis-server"); bin != "" {
		child, err := startRedisChild(bin)
		if err != nil {
			return "", "", err
		}
		if err := r.track(func(r *registry) { r.redis = child; r.dirs = append(r.dirs, child.dir) }); err != nil {
			return "", "", errors.Join(err, child.stop(stopTimeout), os.RemoveAll(child.dir))
		}
		return child.url, fmt.Sprintf("started %s (pid %d) at %s", bin, child.cmd.Process.Pid, child.url), nil
	}
	m := miniredis.NewMiniRedis()
	m.ClockTTL(true)
	if err := m.StartAddr("127.0.0.1:0"); err != nil {
		return "", "", fmt.Errorf("start miniredis: %w", err)
	}
	if err := r.track(func(r *registry) { r.mini = m }); err != nil {
		m.Close()
		return "", "", err
	}
	u := "redis://" + m.Addr()
	return u, "no redis-server on PATH; started in-process miniredis at " + u, nil
}

// redisChild is a redis-server process started by this package.
type redisChild struct {
	cmd    *exec.Cmd
	url    string
	dir    string        // working directory and log file
	exited chan struct{} // closed when the process has exited
}

// startRedisChild starts redis-server on a free loopback port and waits until it
// answers PING. A port taken between choosing and binding it is retried.
func startRedisChild(bin string) (*redisChild, error) {
	dir, err := os.MkdirTemp("", "storetest-redis-")
	if err != nil {
		return nil, fmt.Errorf("redis-server temp dir: %w", err)
	}
	var errs []error
	for range 3 {
		child, err := tryRedisChild(bin, dir)
		if err == nil {
			return child, nil
		}
		errs = append(errs, err)
	}
	errs = append(errs, os.RemoveAll(dir))
	return nil, fmt.Errorf("start redis-server: %w", errors.Join(errs...))
}

func tryRedisChild(bin, dir string, extra ...string) (*redisChild, error) {
	// A port free a moment ago can be taken before the server binds it (other test
	// binaries start servers too): try a few ports before giving up.
	var errs []error
	for range 5 {
		c, err := startRedisOnce(bin, dir, slices.Contains(extra, "--cluster-enabled"), extra...)
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

// startRedisOnce starts redis-server on one free port (for a cluster node, one whose
// cluster bus port, port+10000, is free too).
func startRedisOnce(bin, dir string, cluster bool, extra ...string) (*redisChild, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	if cluster {
		if port+10000 > 65535 {
			return nil, fmt.Errorf("port %d: no room for its cluster bus port", port)
		}
		bus, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port+10000))
		if err != nil {
			return nil, fmt.Errorf("cluster bus port %d taken: %w", port+10000, err)
		}
		_ = bus.Close()
	}
	logFile := filepath.Join(dir, "redis.log")
	args := append([]string{
		"--bind", "127.0.0.1", "--port", strconv.Itoa(port),
		"--save", "", "--appendonly", "no",
		"--dir", dir, "--logfile", logFile, "--daemonize", "no",
	}, extra...)
	//nolint:gosec // G204: the binary comes from PATH lookup and every argument is built here; no shell.
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.SysProcAttr = childProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("exec %s: %w", bin, err)
	}
	c := &redisChild{cmd: cmd, url: fmt.Sprintf("redis://127.0.0.1:%d/0", port), dir: dir, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait() // the exit status of a server we stop ourselves says nothing useful
		close(c.exited)
	}()

	rdb := redis.NewClient(&redis.Options{
		Addr: fmt.Sprintf("127.0.0.1:%d", port), DialTimeout: time.Second, MaxRetries: -1,
		ContextTimeoutEnabled: true,
	})
	defer func() { _ = rdb.Close() }()
	err = waitUntil(startTimeout, func(ctx context.Context) (bool, error) {
		select {
		case <-c.exited:
			return false, fmt.Errorf("redis-server exited at start: %s", tail(logFile))
		default:
		}
		return rdb.Ping(ctx).Err() == nil, nil
	})
	if err != nil {
		return nil, errors.Join(err, c.stop(stopTimeout))
	}
	return c, nil
}

// stop asks the server to shut down (SIGTERM) and kills it when it has not exited
// within timeout.
func (c *redisChild) stop(timeout time.Duration) error {
	select {
	case <-c.exited:
		return nil
	default:
	}
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stop redis-server: %w", err)
	}
	select {
	case <-c.exited:
		return nil
	case <-time.After(timeout):
	}
	if err := c.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("kill redis-server: %w", err)
	}
	<-c.exited
	return fmt.Errorf("redis-server did not stop within %s; killed", timeout)
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	return port, l.Close()
}

// tail returns the end of a log file for an error message.
func tail(path string) string {
	b, err := os.ReadFile(path) //nolint:gosec // G304: our own log file in our own temp dir.
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	const keep = 2000
	if len(b) > keep {
		b = b[len(b)-keep:]
	}
	return string(b)
}
