package storetest

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/redis/go-redis/v9"
)

// sentinelMaster is the master name the started Sentinel monitors.
const sentinelMaster = "storetest"

// RedisSentinelURL returns, in go-redis's failover URL form
// (redis://sentinel:port?master_name=NAME), a Redis Sentinel started once per test
// binary: a redis-server master and one redis-server --sentinel monitoring it, both
// children on free loopback ports. It skips the test when redis-server is not installed.
// [Main] stops both.
func RedisSentinelURL(tb testing.TB) string {
	tb.Helper()
	server := lookPath("redis-server")
	if server == "" {
		tb.Skip("storetest: redis-server is needed to start a Redis Sentinel")
	}
	r := &servers
	r.sentinelOnce.Do(func() { r.sentinelURL, r.sentinelErr = r.startSentinel(server) })
	if r.sentinelErr != nil {
		tb.Fatalf("storetest: redis sentinel: %v", r.sentinelErr)
	}
	return r.sentinelURL
}

func (r *registry) startSentinel(server string) (string, error) {
	dir, err := os.MkdirTemp("", "storetest-redis-sentinel-")
	if err != nil {
		return "", err
	}
	master, err := tryRedisChild(server, dir)
	if err != nil {
		return "", errors.Join(err, os.RemoveAll(dir))
	}
	if err := r.track(func(r *registry) { r.cluster = append(r.cluster, master); r.dirs = append(r.dirs, dir) }); err != nil {
		return "", errors.Join(err, master.stop(stopTimeout))
	}
	mu, err := url.Parse(master.url)
	if err != nil {
		return "", err
	}
	port, err := freePort()
	if err != nil {
		return "", err
	}
	conf := filepath.Join(dir, "sentinel.conf") // Sentinel rewrites its config file
	if err := os.WriteFile(conf, fmt.Appendf(nil,
		"port %d\nbind 127.0.0.1\ndir %s\nlogfile %s\nsentinel monitor %s %s %s 1\n",
		port, dir, filepath.Join(dir, "sentinel.log"), sentinelMaster, mu.Hostname(), mu.Port()), 0o600); err != nil {
		return "", err
	}
	//nolint:gosec // G204: redis-server from PATH, arguments built here; no shell.
	cmd := exec.Command(server, conf, "--sentinel")
	cmd.Dir = dir
	cmd.SysProcAttr = childProcAttr()
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("exec %s --sentinel: %w", server, err)
	}
	sentinel := &redisChild{cmd: cmd, url: fmt.Sprintf("redis://127.0.0.1:%d", port), dir: dir, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait() // the exit status of a server we stop ourselves says nothing useful
		close(sentinel.exited)
	}()
	if err := r.track(func(r *registry) { r.cluster = append(r.cluster, sentinel) }); err != nil {
		return "", errors.Join(err, sentinel.stop(stopTimeout))
	}
	sc := redis.NewSentinelClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port)})
	defer func() { _ = sc.Close() }()
	err = waitUntil(startTimeout, func(ctx context.Context) (bool, error) {
		addr, err := sc.GetMasterAddrByName(ctx, sentinelMaster).Result()
		return err == nil && len(addr) == 2 && addr[1] == mu.Port(), nil
	})
	if err != nil {
		return "", fmt.Errorf("sentinel not ready: %w: %s", err, tail(filepath.Join(dir, "sentinel.log")))
	}
	return sentinel.url + "?master_name=" + sentinelMaster, nil
}
