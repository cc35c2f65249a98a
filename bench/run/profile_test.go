package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"testing"
	"time"
)

// TestProfileFetchedAndSummarised: a CPU profile served like the gateway's pprof endpoint
// is fetched, and `go tool pprof -top` names the function that burned the CPU.
func TestProfileFetchedAndSummarised(t *testing.T) {
	var prof bytes.Buffer
	if err := pprof.StartCPUProfile(&prof); err != nil {
		t.Fatal(err)
	}
	spinForProfile(300 * time.Millisecond)
	pprof.StopCPUProfile()
	var asked string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked = r.URL.RequestURI()
		_, _ = w.Write(prof.Bytes())
	}))
	defer srv.Close()
	ctx := context.Background()
	b, err := fetchProfile(ctx, strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	if asked != "/debug/pprof/profile?seconds=5" {
		t.Errorf("asked for %s", asked)
	}
	path := filepath.Join(t.TempDir(), "p.pprof")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	top, err := pprofTop(ctx, root, path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(top, "spinForProfile") {
		t.Errorf("top does not name the busy function:\n%s", top)
	}
}

func TestProfileFetchRefusesErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "profiling disabled", http.StatusForbidden)
	}))
	defer srv.Close()
	if _, err := fetchProfile(context.Background(), strings.TrimPrefix(srv.URL, "http://")); err == nil ||
		!strings.Contains(err.Error(), "profiling disabled") {
		t.Errorf("err = %v", err)
	}
}

var spinSink uint64

//go:noinline
func spinForProfile(d time.Duration) {
	for end := time.Now().Add(d); time.Now().Before(end); {
		for i := range 10000 {
			spinSink += uint64(i) * 2654435761
		}
	}
}
