package main

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/mongo"
	mongoopts "go.mongodb.org/mongo-driver/v2/mongo/options"
)

// info is the report header: what ran where, and how to run it again.
type info struct {
	command   string // what to type to reproduce
	runner    string // the runner's own command line
	goVersion string
	cpus      int
	cpuModel  string
	kernel    string
	date      time.Time
	host      string
	commit    string
}

func collectInfo(ctx context.Context, root string, o options) info {
	in := info{
		goVersion: runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH,
		cpus:      runtime.NumCPU(),
		cpuModel:  cpuModel(),
		date:      time.Now(),
		host:      hostname(),
		commit:    gitCommit(ctx, root),
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		in.kernel = strings.TrimSpace(string(b))
	}
	in.runner = strings.TrimSpace("go run ./bench/run " + strings.Join(o.args, " "))
	in.command = o.invocationHint
	if in.command == "" {
		in.command = in.runner
	}
	return in
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// gitCommit is HEAD, with "+dirty" when tracked files outside bench/results differ.
func gitCommit(ctx context.Context, root string) string {
	out, err := exec.CommandContext(ctx, "git", "-C", root, "rev-parse", "--short=12", "HEAD").Output() //nolint:gosec // G204: root is the checkout
	if err != nil {
		return "unknown (not a git checkout)"
	}
	c := strings.TrimSpace(string(out))
	//nolint:gosec // G204: root is the checkout
	st, err := exec.CommandContext(ctx, "git", "-C", root, "status", "--porcelain", "--untracked-files=no",
		"--", ".", ":(exclude)bench/results").Output()
	if err == nil && len(strings.TrimSpace(string(st))) > 0 {
		c += "+dirty"
	}
	return c
}

// cleanStores removes what the run left in stores it did not start itself: its keys in
// REDIS_URL and its database in MONGODB_URI.
func (st *stack) cleanStores() {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if u := os.Getenv("REDIS_URL"); u != "" && st.redisURL == u {
		if opt, err := redis.ParseURL(u); err == nil {
			c := redis.NewClient(opt)
			for _, pattern := range []string{"authgate-bench-" + st.runID + "-*", "*_bench_o2p_" + st.runID + "*"} {
				iter := c.Scan(ctx, 0, pattern, 1000).Iterator()
				for iter.Next(ctx) {
					_ = c.Del(ctx, iter.Val()).Err()
				}
			}
			_ = c.Close()
		}
	}
	if u := os.Getenv("MONGODB_URI"); u != "" && st.mongoURI == u && st.mongoDB != "" {
		if c, err := mongo.Connect(mongoopts.Client().ApplyURI(u).SetTimeout(10 * time.Second)); err == nil {
			_ = c.Database(st.mongoDB).Drop(ctx)
			_ = c.Disconnect(ctx)
		}
	}
}
