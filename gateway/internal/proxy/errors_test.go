package proxy

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/authgate/authgate/gateway/internal/routing"
)

// slowUpstream waits longer than any test's response header timeout before
// answering, or until the proxy gives up and closes the connection.
func slowUpstream(t *testing.T) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(s.Close)
	return s
}

func TestErrorsReachErrorHandler(t *testing.T) {
	t.Parallel()
	up := newUpstream(t)
	slow := slowUpstream(t)
	down := "http://" + closedAddr(t)
	tests := []struct {
		name    string
		target  string
		access  routing.Access
		roles   []string
		id      *Identity
		want    []error // the error must match all
		notWant []error
	}{
		{"upstream down", down, routing.Public, nil, nil, []error{ErrUpstream}, []error{ErrUpstreamTimeout}},
		{"upstream slow", slow.URL, routing.Public, nil, nil, []error{ErrUpstream, ErrUpstreamTimeout}, nil},
		{"rule without upstream", "", routing.Authenticated, nil, &Identity{UserID: "u"}, []error{routing.ErrNoRoute}, []error{ErrUpstream}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var (
				mu  sync.Mutex
				got error
			)
			p := newProxy(t, Options{
				Transport: NewTransport(time.Second, 200*time.Millisecond),
				ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
					mu.Lock()
					got = err
					mu.Unlock()
					w.WriteHeader(http.StatusTeapot)
				},
			})
			route := mustRoute(t, routing.Rule{Upstream: tt.target, Access: tt.access, Roles: tt.roles})
			front := newFront(t, p, route, tt.id)
			before := up.hits.Load()
			res, err := http.DefaultClient.Do(newRequest(t, http.MethodGet, front.URL+"/x", nil))
			if err != nil {
				t.Fatal(err)
			}
			_ = res.Body.Close()
			if res.StatusCode != http.StatusTeapot {
				t.Errorf("status %d, want the error handler's 418", res.StatusCode)
			}
			mu.Lock()
			defer mu.Unlock()
			for _, w := range tt.want {
				if !errors.Is(got, w) {
					t.Errorf("error %v does not match %v", got, w)
				}
			}
			for _, w := range tt.notWant {
				if errors.Is(got, w) {
					t.Errorf("error %v matches %v", got, w)
				}
			}
			if tt.target == up.URL && up.hits.Load() != before {
				t.Error("the upstream was called")
			}
		})
	}
}

// TestNewRequiresOptions: there is no default error envelope in this package; the
// gateway's one error table answers.
func TestNewRequiresOptions(t *testing.T) {
	t.Parallel()
	for _, opts := range []Options{
		{},
		{Transport: http.DefaultTransport, CookieNames: []string{"a"}},
		{ErrorHandler: func(http.ResponseWriter, *http.Request, error) {}, CookieNames: []string{"a"}},
		{Transport: http.DefaultTransport, ErrorHandler: func(http.ResponseWriter, *http.Request, error) {}},
	} {
		if p, err := New(opts); err == nil || p != nil {
			t.Errorf("New(%+v) = %v, %v; want an error", opts, p, err)
		}
	}
}

// TestClientAbort: a client that goes away mid-request reaches the error
// handler as ErrUpstream wrapping context.Canceled, without a panic.
func TestClientAbort(t *testing.T) {
	t.Parallel()
	errs := make(chan error, 1)
	p := newProxy(t, Options{ErrorHandler: func(_ http.ResponseWriter, _ *http.Request, err error) { errs <- err }})
	front := newFront(t, p, mustRoute(t, routing.Rule{Upstream: slowUpstream(t).URL}), nil)
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, front.URL+"/x", nil)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := http.DefaultClient.Do(req); err == nil {
		_ = res.Body.Close()
		t.Fatal("request succeeded")
	}
	select {
	case err := <-errs:
		if !errors.Is(err, ErrUpstream) || !errors.Is(err, context.Canceled) {
			t.Errorf("error %v, want ErrUpstream wrapping context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("error handler not called")
	}
}

func TestForwardWithoutRoute(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		route *routing.Route
	}{
		{"nil route", nil},
		{"route without target", &routing.Route{Rule: routing.Rule{Access: routing.Public}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got error
			p := newProxy(t, Options{ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
				got = err
				w.WriteHeader(http.StatusInternalServerError)
			}})
			w := httptest.NewRecorder()
			p.Forward(w, httptest.NewRequest(http.MethodGet, "/x", nil), decision(tt.route, nil))
			if !errors.Is(got, routing.ErrNoRoute) || w.Code != http.StatusInternalServerError {
				t.Errorf("got %d, %v; want routing.ErrNoRoute", w.Code, got)
			}
		})
	}
}

// TestHandlersAreCachedPerRoute runs concurrent requests (meaningful under
// -race) and checks that each route has exactly one reverse proxy.
func TestHandlersAreCachedPerRoute(t *testing.T) {
	t.Parallel()
	up := newUpstream(t)
	p := newProxy(t, Options{})
	a := mustRoute(t, routing.Rule{Upstream: up.URL + "/a"})
	b := mustRoute(t, routing.Rule{Upstream: up.URL + "/b"})
	p.Prepare([]*routing.Route{a, nil})
	ha := p.handler(a)
	front := newFront(t, p, b, nil)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			res, err := http.DefaultClient.Do(newRequest(t, http.MethodGet, front.URL+"/x", nil))
			if err != nil {
				t.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, res.Body)
			_ = res.Body.Close()
		})
	}
	wg.Wait()
	if p.handler(a) != ha {
		t.Error("route a got a second reverse proxy")
	}
	if hb := p.handler(b); hb == ha || hb != p.handler(b) {
		t.Error("route b does not have its own cached reverse proxy")
	}
}

func TestNewTransport(t *testing.T) {
	t.Parallel()
	tr := NewTransport(2*time.Second, 3*time.Second).std
	if tr.Proxy != nil || tr.ForceAttemptHTTP2 || !tr.DisableCompression {
		t.Error("transport uses an env proxy, HTTP/2 or transparent gzip")
	}
	if tr.ResponseHeaderTimeout != 3*time.Second || tr.TLSHandshakeTimeout != 2*time.Second {
		t.Errorf("timeouts %v/%v", tr.ResponseHeaderTimeout, tr.TLSHandshakeTimeout)
	}
	if tr.MaxIdleConnsPerHost != 256 || tr.DialContext == nil {
		t.Errorf("MaxIdleConnsPerHost %d", tr.MaxIdleConnsPerHost)
	}
}

func TestBufferPool(t *testing.T) {
	p := newBufferPool()
	b := p.Get()
	if len(b) != bufferSize {
		t.Fatalf("len %d", len(b))
	}
	p.Put(b[:10])                                                                    // too short: dropped, not a panic
	p.Put(make([]byte, 10))                                                          // not from the pool: dropped
	if allocs := testing.AllocsPerRun(100, func() { p.Put(p.Get()) }); allocs >= 1 { // under -race sync.Pool drops a quarter of Puts
		t.Errorf("Get/Put allocates %.1f times", allocs)
	}
}
