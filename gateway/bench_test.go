package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// BenchmarkProxied measures one authenticated proxied GET through the whole gateway
// (path check, route, RS256 verify (cached per token), Redis session lookup, header
// rewrite, forward, access log) against a plain Echo reverse proxy to the same upstream,
// in the same run, over loopback HTTP with keep-alive. Compare ns/op of the parallel
// sub-benchmarks (throughput) and p99-µs of the serial ones; `make bench` runs it.
func BenchmarkProxied(b *testing.B) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"success","data":{"ok":true}}`)
	}))
	defer upstream.Close()

	plain := plainEchoProxy(b, upstream.URL)
	base, token := benchGateway(b, upstream.URL)

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}}
	get := func(url, token string) error {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := client.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, res.Body)
		_ = res.Body.Close()
		if res.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", res.StatusCode)
		}
		return nil
	}
	for _, tc := range []struct {
		name, url, token string
	}{
		{"plain-echo-proxy", plain + "/bench", ""},
		{"authgate", base + "/bench", token},
	} {
		// parallel: throughput with 4×GOMAXPROCS concurrent clients.
		b.Run(tc.name+"/parallel", func(b *testing.B) {
			b.SetParallelism(4)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := get(tc.url, tc.token); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
		// serial: one request at a time, latency with its p99.
		b.Run(tc.name+"/serial", func(b *testing.B) {
			lat := make([]time.Duration, 0, b.N)
			b.ReportAllocs()
			for b.Loop() {
				start := time.Now()
				if err := get(tc.url, tc.token); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(start))
			}
			slices.Sort(lat)
			if len(lat) > 0 {
				b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
			}
		})
	}
}

// plainEchoProxy is the baseline: Echo with its own proxy middleware, no auth.
func plainEchoProxy(b *testing.B, target string) string {
	u, err := url.Parse(target)
	if err != nil {
		b.Fatal(err)
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.Use(middleware.ProxyWithConfig(middleware.ProxyConfig{
		Balancer:  middleware.NewRoundRobinBalancer([]*middleware.ProxyTarget{{URL: u}}),
		Transport: &http.Transport{MaxIdleConnsPerHost: 256},
	}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: e, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	b.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String()
}

// benchGateway starts run() with one authenticated route to target and returns its
// base URL and a valid access token.
func benchGateway(b *testing.B, target string) (string, string) {
	db := fmt.Sprintf("bench_%d", time.Now().UnixNano())
	env := gatewayEnv(b, db)
	env["AUTHGATE_ROUTES"] = `[{"path":"/bench","upstream":"` + target + `","policy":"authenticated"}]`
	ctx, cancel := context.WithCancel(context.Background())
	out := newAddrWriter()
	errc := make(chan error, 1)
	go func() { errc <- run(ctx, nil, func(k string) string { return env[k] }, out, out) }()
	addr := out.wait(b, errc)
	b.Cleanup(func() {
		cancel()
		if err := <-errc; err != nil {
			b.Errorf("run: %v", err)
		}
	})
	base := "http://" + addr
	c := newClient(b, base)
	s := &stack{base: base}
	if r := s.register(b, c, "Bench", "bench@example.com", "bench-password"); r.Status != 201 {
		b.Fatalf("register: %s", r.Raw)
	}
	return base, s.login(b, c, "bench@example.com", "bench-password")
}
