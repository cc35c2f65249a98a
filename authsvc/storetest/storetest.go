// Package storetest gives tests real stores: a Redis server and a MongoDB-compatible
// server, each started at most once per test binary and stopped by [Main].
//
// The environment wins: REDIS_URL and MONGODB_URI point the tests at servers someone
// else runs (CI, compose). Otherwise the package starts a `redis-server` child process
// (or, only when no redis-server binary exists, an in-process miniredis) and an embedded
// FerretDB v1 on SQLite files in a temporary directory.
//
// Every test gets its own namespace on the shared server: [Redis] returns a unique key
// prefix whose keys are deleted at cleanup, [MongoDatabase] a uniquely named database
// dropped at cleanup. Tests must never flush a server: other test binaries share it.
//
// Use it from a package's tests like this:
//
//	func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }
package storetest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
)

// How long the package waits for a server it started to accept connections, and
// for one to stop when the tests are over.
const (
	startTimeout = 15 * time.Second
	stopTimeout  = 10 * time.Second
)

// Environment variables naming servers that are already running.
const (
	envRedisURL   = "REDIS_URL"
	envMongoDBURI = "MONGODB_URI"
)

// servers is the package's only package-level variable. RedisURL and MongoURI promise
// one server per test binary, which is state shared by every test of the binary by
// definition; Main stops what it holds. Everything in it is guarded by its own locks.
var servers registry

// registry holds the servers this package started in this process.
type registry struct {
	redisOnce   sync.Once
	redisLogged sync.Once
	redisURL    string
	redisDesc   string // what the one-time log line says
	redisErr    error

	clusterOnce sync.Once
	clusterURL  string
	clusterErr  error
	cluster     []*redisChild // started Redis Cluster and Sentinel processes

	sentinelOnce sync.Once
	sentinelURL  string
	sentinelErr  error

	mongoOnce   sync.Once
	mongoLogged sync.Once
	mongoURI    string
	mongoDesc   string
	mongoErr    error

	mu      sync.Mutex
	stopped bool
	redis   *redisChild          // started redis-server, or nil
	mini    *miniredis.Miniredis // started miniredis fallback, or nil
	ferret  *ferretServer        // started embedded FerretDB, or nil
	dirs    []string             // temporary directories to remove at stop
}

// Main runs the tests and then stops whatever servers this package started (the
// redis-server child, the miniredis fallback, the embedded FerretDB) and removes their
// temporary files. It returns m.Run's exit code, or 1 when the tests passed but a
// server could not be stopped cleanly.
func Main(m *testing.M) int {
	code := m.Run()
	if errs := servers.stop(); len(errs) > 0 {
		for _, err := range errs {
			fmt.Fprintf(os.Stderr, "storetest: %v\n", err)
		}
		if code == 0 {
			code = 1
		}
	}
	return code
}

// stop stops every server in the registry once; later calls do nothing.
func (r *registry) stop() []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		return nil
	}
	r.stopped = true

	var errs []error
	if r.ferret != nil {
		if err := r.ferret.stop(stopTimeout); err != nil {
			errs = append(errs, err)
		}
	}
	if r.redis != nil {
		if err := r.redis.stop(stopTimeout); err != nil {
			errs = append(errs, err)
		}
	}
	for _, node := range r.cluster {
		if err := node.stop(stopTimeout); err != nil {
			errs = append(errs, err)
		}
	}
	if r.mini != nil {
		r.mini.Close()
	}
	for _, dir := range r.dirs {
		if err := os.RemoveAll(dir); err != nil {
			errs = append(errs, fmt.Errorf("remove %s: %w", dir, err))
		}
	}
	return errs
}

// track records started servers so that stop finds them. It fails when Main has
// already stopped everything (a server started after that would leak).
func (r *registry) track(add func(*registry)) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		return fmt.Errorf("storetest: servers already stopped by Main")
	}
	add(r)
	return nil
}

// waitUntil calls ready every 20 ms until it reports true, fails with the error of
// check, or the timeout passes.
func waitUntil(timeout time.Duration, ready func(context.Context) (bool, error)) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, err := ready(ctx)
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not ready after %s", timeout)
		case <-tick.C:
		}
	}
}

// lookPath reports the path of a binary on PATH, or "" when there is none.
func lookPath(name string) string {
	p, err := exec.LookPath(name)
	if err != nil {
		return ""
	}
	return p
}

// redact hides a password in a server URL before it is logged.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
