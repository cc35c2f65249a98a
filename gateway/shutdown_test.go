package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// slowUpstream answers after d; arrived gets a value per request that reached it,
// aborted one per request whose caller went away first.
func slowUpstream(t *testing.T, d time.Duration) (string, chan struct{}, chan struct{}) {
	arrived, aborted := make(chan struct{}, 8), make(chan struct{}, 8)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select {
		case <-time.After(d):
			_, _ = w.Write([]byte(`{"status":"success"}`))
		case <-r.Context().Done():
			aborted <- struct{}{}
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL, arrived, aborted
}

// runGateway starts run() and returns its base URL, the cancel that stops it and the
// channel run's result arrives on.
func runGateway(t *testing.T, env map[string]string) (string, context.CancelFunc, chan error) {
	ctx, cancel := context.WithCancel(context.Background())
	out := newAddrWriter()
	errc := make(chan error, 1)
	go func() { errc <- run(ctx, nil, func(k string) string { return env[k] }, out, out) }()
	base := "http://" + out.wait(t, errc)
	t.Cleanup(cancel)
	return base, cancel, errc
}

// TestGracefulShutdown (SECURITY.md R4): after SIGTERM /readyz answers 503 for the drain
// delay, an in-flight proxied request still completes, and run returns cleanly.
func TestGracefulShutdown(t *testing.T) {
	up, arrived, _ := slowUpstream(t, 800*time.Millisecond)
	env := gatewayEnv(t, fmt.Sprintf("drain_%d", time.Now().UnixNano()))
	env["AUTHGATE_ROUTES"] = `[{"path":"/slow","upstream":"` + up + `","policy":"public"}]`
	env["AUTHGATE_SERVER__DRAIN_DELAY"] = "400ms"
	base, stop, errc := runGateway(t, env)

	done := make(chan response, 1)
	go func() { done <- newClient(t, base).do("GET", "/slow", nil) }()
	<-arrived
	probe := newClient(t, base) // keep-alive connection opened before the stop
	expect(t, probe.do("GET", "/healthz", nil), 200, "")
	stop()
	time.Sleep(100 * time.Millisecond)
	r := probe.do("GET", "/readyz", nil)
	expect(t, r, 503, "draining")

	if r := <-done; r.Status != 200 || !strings.Contains(r.Raw, "success") {
		t.Fatalf("in-flight request: %d %s", r.Status, r.Raw)
	}
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return")
	}
}

// TestShutdownTimeout: a request still running after the shutdown timeout is cancelled
// (its upstream call aborted) and run returns only after its handler has finished.
func TestShutdownTimeout(t *testing.T) {
	up, arrived, aborted := slowUpstream(t, 30*time.Second)
	env := gatewayEnv(t, fmt.Sprintf("forced_%d", time.Now().UnixNano()))
	env["AUTHGATE_ROUTES"] = `[{"path":"/slow","upstream":"` + up + `","policy":"public"}]`
	env["AUTHGATE_SERVER__SHUTDOWN_TIMEOUT"] = "300ms"
	base, stop, errc := runGateway(t, env)

	go func() {
		req, _ := http.NewRequest("GET", base+"/slow", nil)
		if res, err := http.DefaultClient.Do(req); err == nil {
			_ = res.Body.Close()
		}
	}()
	<-arrived
	start := time.Now()
	stop()
	select {
	case err := <-errc:
		if err == nil || !strings.Contains(err.Error(), "shutdown") {
			t.Fatalf("run = %v, want the shutdown timeout reported", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("run took %v to return", d)
		}
		// run returned only after the handler finished, so the upstream call was aborted
		// (not left running against closed stores).
		select {
		case <-aborted:
		case <-time.After(time.Second):
			t.Fatal("run returned while the proxied request was still running")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return: the slow request was not cancelled")
	}
}
