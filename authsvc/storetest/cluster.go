package storetest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// envRedisClusterURL names a running Redis Cluster in go-redis's cluster URL form:
// redis://host1:port?addr=host2:port&addr=host3:port.
const envRedisClusterURL = "REDIS_CLUSTER_URL"

// RedisClusterURL returns REDIS_CLUSTER_URL when it is set. Otherwise it starts, once
// per test binary, a three-master Redis Cluster of redis-server children on free
// loopback ports and joins them with `redis-cli --cluster create`. It skips the test
// when redis-server or redis-cli is not installed, and fails it when the cluster cannot
// be formed. [Main] stops the nodes.
func RedisClusterURL(tb testing.TB) string {
	tb.Helper()
	if u := os.Getenv(envRedisClusterURL); u != "" {
		return u
	}
	server, cli := lookPath("redis-server"), lookPath("redis-cli")
	if server == "" || cli == "" {
		tb.Skip("storetest: redis-server and redis-cli are needed to start a Redis Cluster")
	}
	r := &servers
	r.clusterOnce.Do(func() { r.clusterURL, r.clusterErr = r.startCluster(server, cli) })
	if r.clusterErr != nil {
		tb.Fatalf("storetest: redis cluster: %v", r.clusterErr)
	}
	return r.clusterURL
}

func (r *registry) startCluster(server, cli string) (string, error) {
	var nodes []*redisChild
	var addrs []string
	for range 3 {
		dir, err := os.MkdirTemp("", "storetest-redis-cluster-")
		if err != nil {
			return "", err
		}
		node, err := tryRedisChild(server, dir, "--cluster-enabled", "yes",
			"--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "5000")
		if err != nil {
			return "", errors.Join(err, os.RemoveAll(dir))
		}
		if err := r.track(func(r *registry) { r.cluster = append(r.cluster, node); r.dirs = append(r.dirs, dir) }); err != nil {
			return "", errors.Join(err, node.stop(stopTimeout))
		}
		u, err := url.Parse(node.url)
		if err != nil {
			return "", err
		}
		nodes = append(nodes, node)
		addrs = append(addrs, u.Host)
	}
	//nolint:gosec // G204: redis-cli from PATH, arguments built here; no shell.
	out, err := exec.Command(cli, append(append([]string{"--cluster", "create"}, addrs...),
		"--cluster-replicas", "0", "--cluster-yes")...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("redis-cli --cluster create: %w: %s", err, out)
	}
	clusterURL := "redis://" + addrs[0] + "?addr=" + strings.Join(addrs[1:], "&addr=")
	err = waitUntil(startTimeout, func(ctx context.Context) (bool, error) {
		for _, n := range nodes {
			c := redis.NewClient(&redis.Options{Addr: strings.TrimPrefix(strings.TrimSuffix(n.url, "/0"), "redis://")})
			info, err := c.ClusterInfo(ctx).Result()
			_ = c.Close()
			if err != nil || !strings.Contains(info, "cluster_state:ok") {
				return false, nil
			}
		}
		return true, nil
	})
	return clusterURL, err
}

// RedisCluster returns a cluster client for [RedisClusterURL] and a key prefix unique to
// this test; at cleanup it deletes the prefix's keys on every master and closes the client.
func RedisCluster(tb testing.TB) (redis.UniversalClient, string) {
	tb.Helper()
	opts, err := redis.ParseClusterURL(RedisClusterURL(tb))
	if err != nil {
		tb.Fatalf("storetest: parse redis cluster URL: %v", err)
	}
	opts.ContextTimeoutEnabled = true
	rdb := redis.NewClusterClient(opts)
	prefix := "t:" + rand.Text() + ":"
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
		defer cancel()
		err := rdb.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
			it := node.Scan(ctx, 0, prefix+"*", 500).Iterator()
			for it.Next(ctx) {
				if err := node.Unlink(ctx, it.Val()).Err(); err != nil { // one key: keys of one call must share a slot
					return err
				}
			}
			return it.Err()
		})
		if err != nil {
			tb.Errorf("storetest: delete cluster keys %s*: %v", prefix, err)
		}
		_ = rdb.Close()
	})
	return rdb, prefix
}
