package proxy

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"testing"
	"time"

	"github.com/authgate/authgate/gateway/internal/routing"
)

// The two benchmarks below proxy the same GET to the same upstream, each
// through its own real front server, so their ratio is the cost of the
// gateway's forwarding (identity headers, cookie and header stripping) over a
// plain httputil reverse proxy. Run them together:
//
//	go test -run '^$' -bench 'Forward|PlainReverseProxy' -benchmem ./gateway/internal/proxy/
//
// BenchmarkForwardReverseProxy is the gateway's own forwarding on ReverseProxy, which
// is what requests the direct path does not take get.

func benchUpstream(b *testing.B) *httptest.Server {
	b.Helper()
	body := []byte(`{"status":"success","data":{"user":{"id":"u1","name":"Alice"}}}`)
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	b.Cleanup(s.Close)
	return s
}

// benchClient reuses connections like a browser or load balancer would.
func benchClient(b *testing.B) *http.Client {
	b.Helper()
	tr := &http.Transport{MaxIdleConnsPerHost: 256, DisableCompression: true}
	b.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func runBench(b *testing.B, front *httptest.Server) {
	b.Helper()
	client := benchClient(b)
	req, err := http.NewRequestWithContext(b.Context(), http.MethodGet, front.URL+"/api/users/me?x=1", nil)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Cookie", "access_token=eyJhbGciOiJSUzI1NiJ9.e30.sig; logged_in=true; theme=dark")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "bench")
	get := func() {
		res, err := client.Do(req)
		if err != nil {
			b.Error(err)
			return
		}
		_, _ = io.Copy(io.Discard, res.Body)
		_ = res.Body.Close()
		if res.StatusCode != http.StatusOK {
			b.Errorf("status %d", res.StatusCode)
		}
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			get()
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				get()
			}
		})
	})
}

// BenchmarkForward: an authenticated route with an identity in the decision, the
// gateway's hot path minus authentication (by the direct path).
func BenchmarkForward(b *testing.B) { benchForward(b, nil) }

// BenchmarkForwardReverseProxy: the same through the Proxy's httputil.ReverseProxy path
// (the bare *http.Transport gives the Proxy no direct path).
func BenchmarkForwardReverseProxy(b *testing.B) {
	tr := NewTransport(5*time.Second, 30*time.Second)
	b.Cleanup(tr.CloseIdleConnections)
	benchForward(b, tr.std)
}

func benchForward(b *testing.B, transport http.RoundTripper) {
	up := benchUpstream(b)
	route := mustRoute(b, routing.Rule{Upstream: up.URL, Access: routing.Authenticated})
	p := newProxy(b, Options{Transport: transport})
	p.Prepare([]*routing.Route{route})
	id := Identity{UserID: "65f1c0ffee0000000000beef", Role: "user"}
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Header.Set("X-Request-Id", "rid")
		p.Forward(w, r, decision(route, &id))
	}))
	b.Cleanup(front.Close)
	runBench(b, front)
}

// BenchmarkPlainReverseProxy: httputil.NewSingleHostReverseProxy to the same
// upstream with default settings, the baseline.
func BenchmarkPlainReverseProxy(b *testing.B) {
	up := benchUpstream(b)
	target, err := url.Parse(up.URL)
	if err != nil {
		b.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.Transport = &http.Transport{MaxIdleConnsPerHost: 256}
	front := httptest.NewServer(rp)
	b.Cleanup(front.Close)
	runBench(b, front)
}

// BenchmarkRewrite isolates the gateway's per-request work from the network:
// cloning the inbound request (as ReverseProxy does) and rewriting it.
func BenchmarkRewrite(b *testing.B) {
	route := mustRoute(b, routing.Rule{Upstream: "http://127.0.0.1:1/base", Access: routing.Authenticated})
	p := newProxy(b, Options{})
	in := httptest.NewRequest(http.MethodGet, "/api/users/me?x=1", nil)
	in.Header.Set("Cookie", "access_token=eyJhbGciOiJSUzI1NiJ9.e30.sig; logged_in=true; theme=dark")
	in.Header.Set("Accept", "application/json")
	in.Header.Set("X-Request-Id", "rid")
	in.Header.Set("X-User-Id", "spoof")
	in = in.WithContext(context.WithValue(in.Context(), forwardingKey{}, &forwarding{decision: decision(route, &Identity{UserID: "u1", Role: "user"})}))
	b.ReportAllocs()
	for b.Loop() {
		p.rewrite(&httputil.ProxyRequest{In: in, Out: in.Clone(in.Context())}, route)
	}
}

func BenchmarkStripIdentityHeaders(b *testing.B) {
	h := http.Header{
		"Accept": {"*/*"}, "User-Agent": {"x"}, "Cookie": {"a=b"}, "X-Request-Id": {"r"},
		"Accept-Encoding": {"gzip"}, "Content-Type": {"application/json"}, "X-Forwarded-For": {"1.2.3.4"},
		"Accept-Language": {"en"}, "Referer": {"https://app.example/"}, "Origin": {"https://app.example"},
	}
	aliases := []string{"X-Email"}
	b.ReportAllocs()
	for b.Loop() {
		StripIdentityHeaders(h, aliases)
	}
}
