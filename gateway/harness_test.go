package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/authgate/authgate/authsvc/storetest"
)

func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }

// addrWriter collects a process's JSON log (the first MiB) and reports the "addr" of its
// "listening" line.
type addrWriter struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	scanned int
	found   chan string
	done    bool
}

func newAddrWriter() *addrWriter { return &addrWriter{found: make(chan string, 1)} }

func (w *addrWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.buf.Len() < 1<<20 {
		w.buf.Write(p)
	}
	for !w.done {
		rest := w.buf.Bytes()[w.scanned:]
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			break
		}
		w.scanned += i + 1
		var line struct{ Msg, Addr string }
		if json.Unmarshal(rest[:i], &line) == nil && line.Msg == "listening" && line.Addr != "" {
			w.done = true
			w.found <- line.Addr
		}
	}
	return len(p), nil
}

func (w *addrWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// waitFor waits (up to 5 s) until the log holds substr: the gateway batches its log
// lines, flushing within 50 ms.
func (w *addrWriter) waitFor(t testing.TB, substr string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(w.String(), substr); {
		if time.Now().After(deadline) {
			t.Fatalf("%q not in the log after 5s:\n%s", substr, w.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// syncLog makes sure every line of the requests answered so far is in the log: it sends
// a request with its own request id to base and waits for that line (lines are written
// in order).
func (w *addrWriter) syncLog(t testing.TB, base string) {
	t.Helper()
	id := fmt.Sprintf("log-sync-%d", time.Now().UnixNano())
	req, err := http.NewRequest(http.MethodGet, base+"/healthz", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Request-Id", id)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	w.waitFor(t, `"request_id":"`+id+`"`)
}

// wait returns the listening address, or fails the test when errc reports first.
func (w *addrWriter) wait(t testing.TB, errc <-chan error) string {
	t.Helper()
	select {
	case addr := <-w.found:
		return addr
	case err := <-errc:
		t.Fatalf("process exited before listening: %v\nlog:\n%s", err, w.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("not listening after 60s; log:\n%s", w.String())
	}
	return ""
}

// gatewayEnv is the environment of a test gateway: its own database, key prefix and
// data dir, on the shared test MongoDB and Redis. At cleanup (after the gateway has
// stopped) the database is dropped and every key under the prefix deleted, so tests
// leave nothing on shared servers.
func gatewayEnv(t testing.TB, db string) map[string]string {
	_, prefix := storetest.Redis(t)
	t.Cleanup(func() {
		mc, err := mongo.Connect(options.Client().ApplyURI(storetest.MongoURI(t)))
		if err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = mc.Database(db).Drop(ctx)
		_ = mc.Disconnect(ctx)
	})
	return map[string]string{
		"AUTHGATE_LISTEN":                           "127.0.0.1:0",
		"AUTHGATE_MONGODB__URI":                     storetest.MongoURI(t),
		"AUTHGATE_MONGODB__DATABASE":                db,
		"AUTHGATE_REDIS__URL":                       storetest.RedisURL(t),
		"AUTHGATE_REDIS__KEY_PREFIX":                prefix,
		"AUTHGATE_DATA_DIR":                         t.TempDir(),
		"AUTHGATE_TOKENS__LEEWAY":                   "0s",
		"AUTHGATE_PASSWORDS__MAX_CONCURRENT_HASHES": "4",
		// Every test's requests come from 127.0.0.1: limits that suit one client
		// would fail tests that register or fail many logins. The regulation tests
		// (regulation_test.go) set their own.
		"AUTHGATE_REGULATION__ACCOUNT__FAILURES":               "1000",
		"AUTHGATE_REGULATION__IP__FAILURES":                    "10000",
		"AUTHGATE_REGULATION__REGISTER__REQUESTS":              "10000",
		"AUTHGATE_REGULATION__FORGOT_PASSWORD__REQUESTS":       "10000",
		"AUTHGATE_REGULATION__VERIFY_EMAIL__REQUESTS":          "10000",
		"AUTHGATE_REGULATION__FORGOT_PASSWORD_EMAIL__REQUESTS": "10000",
	}
}

// startGateway runs the real run() on 127.0.0.1:0 and returns its base URL; it is
// stopped (and checked to exit cleanly) at cleanup.
func startGateway(t testing.TB, env map[string]string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := newAddrWriter()
	errc := make(chan error, 1)
	getenv := func(k string) string { return env[k] }
	go func() { errc <- run(ctx, nil, getenv, out, out) }()
	addr := out.wait(t, errc)
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-errc:
			if err != nil {
				t.Errorf("run returned %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("gateway did not stop within 30s")
		}
	})
	return "http://" + addr
}

var buildOnce struct {
	sync.Once
	path string
	err  error
}

// startUpstreamDemo builds the real upstream-demo binary once and runs it on a free
// loopback port against database db, with extra flags.
func startUpstreamDemo(t *testing.T, db string, extra ...string) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "authgate-upstream-demo")
		if err != nil {
			buildOnce.err = err
			return
		}
		buildOnce.path = filepath.Join(dir, "upstream-demo")
		cmd := exec.Command("go", "build", "-o", buildOnce.path, "../upstream-demo")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildOnce.err = fmt.Errorf("go build upstream-demo: %w\n%s", err, out)
		}
	})
	if buildOnce.err != nil {
		t.Fatal(buildOnce.err)
	}
	out := newAddrWriter()
	cmd := exec.Command(buildOnce.path, append([]string{"--listen", "127.0.0.1:0",
		"--mongodb-uri", storetest.MongoURI(t), "--mongodb-database", db}, extra...)...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case err := <-errc:
			t.Logf("upstream-demo exited: %v", err)
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
		}
	})
	return "http://" + out.wait(t, errc)
}

// client is a browser-like HTTP client with a cookie jar.
type client struct {
	t    testing.TB
	base string
	http *http.Client
}

func newClient(t testing.TB, base string) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, base: base, http: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
}

// response is a finished request: status, headers, decoded JSON body.
type response struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    string
}

func (r response) msg() string { s, _ := r.Body["message"].(string); return s }

func (c *client) do(method, path string, body any, hdr ...string) response {
	c.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		js, _ := json.Marshal(b)
		rd = bytes.NewReader(js)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Content-Type" {
			req.Header.Set(hdr[i], hdr[i+1])
			continue
		}
		req.Header.Add(hdr[i], hdr[i+1])
	}
	res, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := response{Status: res.StatusCode, Header: res.Header, Raw: string(raw)}
	_ = json.Unmarshal(raw, &out.Body)
	return out
}

// expect fails unless r has the status and, when msg is not empty, the message.
func expect(t testing.TB, r response, status int, msg string) {
	t.Helper()
	if r.Status != status || (msg != "" && r.msg() != msg) {
		t.Fatalf("got %d %s\nwant %d %q", r.Status, r.Raw, status, msg)
	}
	if status >= 400 {
		want := "fail"
		if status >= 500 {
			want = "error"
		}
		if r.Body["status"] != want {
			t.Fatalf("envelope status %v, want %q: %s", r.Body["status"], want, r.Raw)
		}
	}
}

// setCookies parses the response's Set-Cookie headers by name.
func setCookies(t *testing.T, r response) map[string]*http.Cookie {
	t.Helper()
	out := map[string]*http.Cookie{}
	for _, line := range r.Header.Values("Set-Cookie") {
		ck, err := http.ParseSetCookie(line)
		if err != nil {
			t.Fatalf("bad Set-Cookie %q: %v", line, err)
		}
		out[ck.Name] = ck
	}
	return out
}
