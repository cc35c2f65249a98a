package main

import (
	"fmt"
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/authgate/authgate/authsvc/storetest"
)

// TestRedisDown: with Redis unreachable, protected routes and login answer 503 (never a
// pass, never a 401 that would log the user out), /healthz stays 200 and /readyz names
// redis (SECURITY.md R1, R3).
func TestRedisDown(t *testing.T) {
	db := fmt.Sprintf("faults_%d", time.Now().UnixNano())
	up := echoUpstream(t)
	env := gatewayEnv(t, db)
	env["AUTHGATE_ROUTES"] = `[{"path":"/echo","upstream":"` + up + `","policy":"authenticated"}]`
	healthy := startGateway(t, env)
	c := newClient(t, healthy)
	s := &stack{base: healthy}
	expect(t, s.register(t, c, "Dora", "dora@example.com", "dora-password"), 201, "")
	tok := s.login(t, c, "dora@example.com", "dora-password")
	expect(t, c.do("GET", "/echo", nil), 200, "")

	// A second replica with the same keys and MongoDB, whose Redis is gone.
	env["AUTHGATE_REDIS__URL"] = "redis://127.0.0.1:1/0"
	env["AUTHGATE_REDIS__TIMEOUT"] = "200ms"
	broken := newClient(t, startGateway(t, env))

	start := time.Now()
	r := broken.do("GET", "/echo", nil, "Authorization", "Bearer "+tok)
	expect(t, r, 503, "Service temporarily unavailable, please retry")
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("503 took %v; every Redis call must have a deadline", d)
	}
	expect(t, broken.do("GET", "/echo", nil), 401, "You are not logged in")
	expect(t, broken.do("POST", "/api/auth/login", map[string]string{"email": "dora@example.com", "password": "dora-password"}),
		503, "Service temporarily unavailable, please retry")
	// Logout cannot revoke: 503, and the refresh cookie is kept so the client can retry.
	rt := cookieValue(t, c, "refresh_token")
	r = broken.do("POST", "/api/auth/logout", nil, "Cookie", "refresh_token="+rt)
	expect(t, r, 503, "Service temporarily unavailable, please retry")
	if cks := setCookies(t, r); cks["refresh_token"] != nil || cks["access_token"] == nil || cks["logged_in"] == nil {
		t.Fatalf("logout during outage set %v", r.Header.Values("Set-Cookie"))
	}
	expect(t, c.do("GET", "/echo", nil, "Authorization", "Bearer "+tok), 200, "")
	expect(t, broken.do("GET", "/healthz", nil), 200, "")
	r = broken.do("GET", "/readyz", nil)
	expect(t, r, 503, "not ready: redis")
}

// TestRedisModes runs the gateway on a real three-master Redis Cluster and through a
// real Sentinel: login, proxied request, refresh, logout.
func TestRedisModes(t *testing.T) {
	for _, mode := range []struct {
		name string
		url  func(testing.TB) string
	}{
		{"cluster", storetest.RedisClusterURL},
		{"sentinel", storetest.RedisSentinelURL},
	} {
		t.Run(mode.name, func(t *testing.T) {
			env := gatewayEnv(t, fmt.Sprintf("%s_%d", mode.name, time.Now().UnixNano()))
			env["AUTHGATE_REDIS__MODE"] = mode.name
			env["AUTHGATE_REDIS__URL"] = mode.url(t)
			env["AUTHGATE_ROUTES"] = `[{"path":"/echo","upstream":"` + echoUpstream(t) + `","policy":"authenticated"}]`
			c := newClient(t, startGateway(t, env))
			s := &stack{base: c.base}
			expect(t, s.register(t, c, "Gus", "gus@example.com", "gus-password"), 201, "")
			s.login(t, c, "gus@example.com", "gus-password")
			expect(t, c.do("GET", "/echo", nil), 200, "")
			expect(t, c.do("GET", "/api/auth/refresh", nil), 200, "")
			expect(t, c.do("GET", "/echo", nil), 200, "")
			expect(t, c.do("GET", "/readyz", nil), 200, "")
			expect(t, c.do("POST", "/api/auth/logout", nil), 200, "")
			expect(t, c.do("GET", "/echo", nil), 401, "You are not logged in")
		})
	}
}

// cutter forwards TCP connections to target until cut, which closes the listener and
// every open connection: a MongoDB (or anything) that disappears mid-test.
type cutter struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func newCutter(t *testing.T, target string) *cutter {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &cutter{ln: ln}
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				_ = in.Close()
				continue
			}
			c.mu.Lock()
			c.conns = append(c.conns, in, out)
			c.mu.Unlock()
			go func() { _, _ = io.Copy(out, in); _ = out.Close() }()
			go func() { _, _ = io.Copy(in, out); _ = in.Close() }()
		}
	}()
	t.Cleanup(c.cut)
	return c
}

func (c *cutter) cut() {
	_ = c.ln.Close()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, conn := range c.conns {
		_ = conn.Close()
	}
	c.conns = nil
}

// TestMongoDown (SECURITY.md R2): with MongoDB gone, login and register answer 503 while
// logged-in traffic keeps flowing: proxied requests and refresh need only Redis.
func TestMongoDown(t *testing.T) {
	u, err := url.Parse(storetest.MongoURI(t))
	if err != nil {
		t.Fatal(err)
	}
	link := newCutter(t, u.Host)
	up := echoUpstream(t)
	env := gatewayEnv(t, fmt.Sprintf("mongodown_%d", time.Now().UnixNano()))
	env["AUTHGATE_MONGODB__URI"] = "mongodb://" + link.ln.Addr().String() + "/"
	env["AUTHGATE_MONGODB__TIMEOUT"] = "500ms"
	env["AUTHGATE_ROUTES"] = `[{"path":"/echo","upstream":"` + up + `","policy":"authenticated"}]`
	c := newClient(t, startGateway(t, env))
	s := &stack{base: c.base}
	expect(t, s.register(t, c, "Ivy", "ivy@example.com", "ivy-password"), 201, "")
	s.login(t, c, "ivy@example.com", "ivy-password")

	link.cut()
	expect(t, c.do("GET", "/echo", nil), 200, "")
	expect(t, c.do("GET", "/api/auth/refresh", nil), 200, "")
	expect(t, c.do("GET", "/echo", nil), 200, "")
	unavailable := "Service temporarily unavailable, please retry"
	expect(t, newClient(t, c.base).do("POST", "/api/auth/login",
		map[string]string{"email": "ivy@example.com", "password": "ivy-password"}), 503, unavailable)
	expect(t, s.register(t, newClient(t, c.base), "Jo", "jo@example.com", "jo-password"), 503, unavailable)
	r := c.do("GET", "/readyz", nil)
	expect(t, r, 503, "not ready: mongodb")
	expect(t, c.do("GET", "/healthz", nil), 200, "")
}
