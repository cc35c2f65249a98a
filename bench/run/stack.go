package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// stack is every process of the run and how to reach it.
type stack struct {
	dir   string // temporary directory of the run (data dirs, keys, nginx, htpasswd)
	runID string
	ps    *procs
	bins  binaries

	redisURL   string
	redisNote  string // where Redis came from
	ferretAddr string // where the embedding gateway's FerretDB listens
	mongoURI   string // what the external-store gateways and upstream-demo use
	mongoNote  string
	mongoDB    string

	upstream, plain *proc
	// gwEmbedded embeds FerretDB (mongodb.uri empty); the others use it (or MONGODB_URI)
	// as an external MongoDB, like production: gwRS (RS256), gwEd (EdDSA), gwTTL
	// (RS256, access_ttl 1s, leeway 0, for expired tokens).
	gwEmbedded, gwRS, gwEd, gwTTL *proc
	keys                          map[string]keyPair
	maxHashes                     int
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// waitTCP waits until addr accepts connections, p ends, or timeout passes.
func waitTCP(ctx context.Context, p *proc, addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		c, err := (&net.Dialer{Timeout: time.Second}).DialContext(ctx, "tcp", addr)
		if err == nil {
			_ = c.Close()
			return nil
		}
		if err := p.alive(); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s: nothing listens on %s after %s:\n%s", p.name, addr, timeout, p.output())
}

// startRedis uses REDIS_URL when set (keys under this run's prefix, deleted at the end)
// and otherwise starts a redis-server of its own on a free port, without persistence.
func (st *stack) startRedis(ctx context.Context) error {
	if u := os.Getenv("REDIS_URL"); u != "" {
		opt, err := redis.ParseURL(u)
		if err != nil {
			return fmt.Errorf("REDIS_URL: %w", err)
		}
		c := redis.NewClient(opt)
		defer c.Close()
		if err := c.Ping(ctx).Err(); err != nil {
			return fmt.Errorf("REDIS_URL %s: %w", u, err)
		}
		st.redisURL, st.redisNote = u, "REDIS_URL ("+opt.Addr+"), keys under this run's prefixes, deleted afterwards"
		return nil
	}
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return fmt.Errorf("no REDIS_URL and no redis-server on PATH (apt-get install redis-server): %w", err)
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	p, err := st.ps.start(ctx, spec{name: "redis-server", bin: bin, dir: st.dir,
		args: []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"}})
	if err != nil {
		return err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	if err := waitTCP(ctx, p, addr, 10*time.Second); err != nil {
		return err
	}
	st.redisURL, st.redisNote = "redis://"+addr+"/0", "own redis-server on "+addr+" (--save \"\" --appendonly no)"
	return nil
}

// gwSpec is one gateway of the run.
type gwSpec struct {
	name     string
	alg      string            // algRS256 or algEdDSA; "" with embedded: development keys
	embedded bool              // embed FerretDB (mongodb.uri empty)
	extra    map[string]string // more AUTHGATE_ settings
}

// startGateway starts bin/gateway with its own data dir and working directory (so that
// no .env or configs/ of the checkout is read) and the route the scenarios use.
func (st *stack) startGateway(ctx context.Context, g gwSpec) (*proc, error) {
	dir := filepath.Join(st.dir, "gw-"+g.name)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("gateway %s: %w", g.name, err)
	}
	routes, err := json.Marshal([]map[string]any{{
		"path": "/api/whoami", "match": "exact", "methods": []string{"GET"},
		"upstream": "http://" + st.upstream.addr, "policy": "authenticated",
	}})
	if err != nil {
		return nil, fmt.Errorf("routes: %w", err)
	}
	env := map[string]string{
		"AUTHGATE_LISTEN":                           "127.0.0.1:0",
		"AUTHGATE_DATA_DIR":                         dir,
		"AUTHGATE_REDIS__URL":                       st.redisURL,
		"AUTHGATE_REDIS__KEY_PREFIX":                st.redisPrefix(g.name),
		"AUTHGATE_MONGODB__DATABASE":                st.mongoDB,
		"AUTHGATE_ROUTES":                           string(routes),
		"AUTHGATE_PASSWORDS__MAX_CONCURRENT_HASHES": strconv.Itoa(st.maxHashes),
		"AUTHGATE_TRUSTED_PROXIES":                  "127.0.0.1",
		// Every user of the run registers from 127.0.0.1: the per-IP registration
		// limit (20 an hour by default) is off for the run. Logins and refreshes
		// succeed, so the failure-counting limits never act.
		"AUTHGATE_REGULATION__REGISTER__REQUESTS": "0",
	}
	if g.embedded {
		env["AUTHGATE_EMBEDDED__MONGODB_LISTEN"] = st.ferretAddr
	} else {
		env["AUTHGATE_MODE"] = "production"
		env["AUTHGATE_MONGODB__URI"] = st.mongoURI
		kp := st.keys[g.alg]
		env["AUTHGATE_TOKENS__ACCESS_PRIVATE_KEY"] = kp.accessPath
		env["AUTHGATE_TOKENS__ACCESS_PUBLIC_KEY"] = kp.accessPub
		env["AUTHGATE_TOKENS__REFRESH_PRIVATE_KEY"] = kp.refreshPath
		env["AUTHGATE_TOKENS__REFRESH_PUBLIC_KEY"] = kp.refPub
		// Profiles of missed targets (profile.go); idle until asked.
		env["AUTHGATE_SERVER__PPROF_LISTEN"] = "127.0.0.1:0"
	}
	for k, v := range g.extra {
		env[k] = v
	}
	list := cleanEnv(os.Environ())
	for k, v := range env {
		list = append(list, k+"="+v)
	}
	p, err := st.ps.start(ctx, spec{name: "gateway-" + g.name, bin: st.bins.gateway, dir: dir, env: list, waitListening: true})
	if err != nil {
		return nil, err
	}
	if !g.embedded {
		p.pprof, _ = p.findLog("pprof listening (unauthenticated: keep it on loopback)") // logged before "listening"
	}
	return p, nil
}

// redisPrefix is the key prefix of one gateway in this run.
func (st *stack) redisPrefix(name string) string {
	return "authgate-bench-" + st.runID + "-" + name + ":"
}

// defaultMaxHashes is the gateway's own default bound on concurrent argon2id hashes.
func defaultMaxHashes() int { return 2 * runtime.GOMAXPROCS(0) }
