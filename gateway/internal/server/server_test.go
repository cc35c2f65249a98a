package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/authgate/authsvc"
	"github.com/authgate/authgate/gateway/internal/authz"
	"github.com/authgate/authgate/gateway/internal/forwarded"
	"github.com/authgate/authgate/gateway/internal/httperr"
)

// lockedBuffer is a log sink safe for concurrent handlers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) lines(t *testing.T) []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(l.b.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// TestPanicInAccessLog: a handler's panic becomes a 500 in the envelope and one access
// log line with status 500, and the process goes on.
func TestPanicInAccessLog(t *testing.T) {
	var logs lockedBuffer
	s := &Server{log: slog.New(slog.NewJSONHandler(&logs, nil)), idPrefix: "p"}
	s.deps = Deps{Errors: httperr.New(s.log), Headers: &authz.Headers{}, Trust: &forwarded.Trust{}, AccessLog: &logs}
	boom := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("kaboom") })
	w := httptest.NewRecorder()
	s.newEdge(boom).ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/boom", nil))
	if w.Code != 500 || !strings.Contains(w.Body.String(), "Something went wrong") || strings.Contains(w.Body.String(), "kaboom") {
		t.Fatalf("got %d %s", w.Code, w.Body.String())
	}
	var access []map[string]any
	for _, l := range logs.lines(t) {
		if l["msg"] == "request" {
			access = append(access, l)
		}
	}
	if len(access) != 1 || access[0]["status"] != float64(500) || access[0]["path"] != "/boom" || access[0]["level"] != "WARN" {
		t.Fatalf("access log %v", access)
	}
}

// TestAccessLogLine: the hand-encoded line is valid JSON with the fields the JSON handler
// would write, escaped, and never the query string.
func TestAccessLogLine(t *testing.T) {
	var logs lockedBuffer
	s := &Server{log: slog.New(slog.DiscardHandler), idPrefix: "p"}
	s.deps = Deps{Errors: httperr.New(s.log), Headers: &authz.Headers{}, Trust: &forwarded.Trust{}, AccessLog: &logs}
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		setUserID(w, "u\\\x01\"")
		w.WriteHeader(http.StatusTeapot)
	})
	r := httptest.NewRequest(http.MethodGet, "/a%22b%0a%ff?token=secret", nil)
	s.newEdge(ok).ServeHTTP(httptest.NewRecorder(), r)
	lines := logs.lines(t)
	if len(lines) != 1 {
		t.Fatalf("lines %v", lines)
	}
	l := lines[0]
	if l["path"] != "/a\"b\n\ufffd" || l["status"] != float64(418) || l["user_id"] != "u\\\x01\"" || l["level"] != "INFO" ||
		l["method"] != "GET" || l["ip"] != "192.0.2.1" || !strings.HasPrefix(l["request_id"].(string), "p-") {
		t.Fatalf("line %v", l)
	}
	if strings.Contains(logs.b.String(), "secret") {
		t.Fatal("query string logged")
	}
	if _, err := time.Parse(time.RFC3339Nano, l["time"].(string)); err != nil {
		t.Fatalf("time %v", l["time"])
	}
}

// TestReadinessCachedAndQuiet (SECURITY.md R3): many probes within a second run the
// checks once; a dependency that stays down is logged once when it goes down and once
// when it recovers, not at every probe.
func TestReadinessCachedAndQuiet(t *testing.T) {
	var logs lockedBuffer
	var calls atomic.Int32
	var down atomic.Bool
	r := newReadiness([]authsvc.Check{
		{Name: "redis", Run: func(context.Context) error {
			calls.Add(1)
			if down.Load() {
				return errors.New("dial tcp: refused")
			}
			return nil
		}},
		{Name: "mongodb", Run: func(context.Context) error { return nil }},
	}, slog.New(slog.NewJSONHandler(&logs, nil)))
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() { r.status(context.Background()) })
	}
	wg.Wait()
	if n := calls.Load(); n != 1 {
		t.Fatalf("50 concurrent probes ran the check %d times, want 1", n)
	}
	down.Store(true)
	for range 3 {
		r.mu.Lock()
		r.at = r.at.Add(-2 * readinessTTL) // let the cache lapse without sleeping
		r.mu.Unlock()
		checks, failing := r.status(context.Background())
		if checks["redis"] != "down" || checks["mongodb"] != "ok" || len(failing) != 1 || failing[0] != "redis" {
			t.Fatalf("status %v %v", checks, failing)
		}
	}
	down.Store(false)
	r.mu.Lock()
	r.at = r.at.Add(-2 * readinessTTL)
	r.mu.Unlock()
	if _, failing := r.status(context.Background()); len(failing) != 0 {
		t.Fatalf("still failing %v", failing)
	}
	var msgs []string
	for _, l := range logs.lines(t) {
		msgs = append(msgs, l["msg"].(string)+" "+l["check"].(string))
	}
	if strings.Join(msgs, "|") != "readiness check failing redis|readiness check recovered redis" {
		t.Fatalf("readiness logged %q", msgs)
	}
}
