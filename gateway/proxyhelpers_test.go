package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// This file starts the real proxies of the forward-auth tests (nginx, Caddy) and the
// gateway on the example configuration files of configs/<proxy>/, and gives the tests
// a client that reaches any host name through one proxy port.

// needBinary returns the path of a program the test needs. A missing program skips the
// test with the package to install, except under CI=true, where it fails: CI installs
// every one (.ci/run), so a skip there would hide a test that never ran.
func needBinary(t testing.TB, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/usr/bin", "/usr/local/bin"} {
		if fi, err := os.Stat(filepath.Join(dir, name)); err == nil && !fi.IsDir() {
			return filepath.Join(dir, name)
		}
	}
	msg := fmt.Sprintf("%s not installed (apt-get install %s); .ci/run installs it", name, pkg)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// repoFile is the path of a file of the repository (tests run in gateway/).
func repoFile(parts ...string) string { return filepath.Join(append([]string{".."}, parts...)...) }

var placeholder = regexp.MustCompile(`\{\{[A-Z_]+\}\}`)

// render returns the example file configs/<dir>/<name> with its placeholders replaced;
// a placeholder without a value fails the test (the example and the test disagree).
func render(t testing.TB, dir, name string, vars map[string]string) []byte {
	t.Helper()
	raw, err := os.ReadFile(repoFile("configs", dir, name))
	if err != nil {
		t.Fatal(err)
	}
	var missing []string
	out := placeholder.ReplaceAllStringFunc(string(raw), func(p string) string {
		if v, ok := vars[strings.Trim(p, "{}")]; ok {
			return v
		}
		missing = append(missing, p)
		return p
	})
	if len(missing) > 0 {
		t.Fatalf("configs/%s/%s: no value for %v", dir, name, missing)
	}
	return []byte(out)
}

// renderDir writes every file of configs/<dir>/ into dst with placeholders replaced.
func renderDir(t testing.TB, dir, dst string, vars map[string]string) {
	t.Helper()
	entries, err := os.ReadDir(repoFile("configs", dir))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), render(t, dir, e.Name(), vars), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// worldDir is a temporary directory that processes dropping root (nginx workers run as
// nobody) can read; removed at cleanup.
func worldDir(t testing.TB, prefix string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// lockedBuffer is a process's output, readable while it runs.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf.Len() > 1<<20 {
		return len(p), nil
	}
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startProcess runs the command newCmd makes until cleanup, when it gets SIGTERM (then
// SIGKILL after 10 s), and waits until addr accepts connections. Its output is logged if
// the test fails. A process that exits before listening is started again, up to three
// times: on a loaded machine Caddy has been seen to exit at start with status 1 and no
// output, and another test may briefly hold the port freePort chose.
func startProcess(t testing.TB, name string, newCmd func() *exec.Cmd, addr string) {
	t.Helper()
	var failures []string
	for attempt := 1; attempt <= 3; attempt++ {
		out, err := runProcess(t, name, newCmd(), addr)
		if err == nil {
			return
		}
		failures = append(failures, fmt.Sprintf("attempt %d: %v\n%s", attempt, err, out))
		time.Sleep(time.Duration(attempt) * 200 * time.Millisecond)
	}
	t.Fatalf("%s did not start:\n%s", name, strings.Join(failures, "\n"))
}

// runProcess starts cmd and waits until addr accepts connections. It returns the output
// and an error if the process exits first; a process that is listening is stopped at
// cleanup.
func runProcess(t testing.TB, name string, cmd *exec.Cmd, addr string) (string, error) {
	t.Helper()
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	exited := make(chan struct{}) // closed when the process is gone; waitErr is then set
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = c.Close()
			break
		}
		select {
		case <-exited:
			return out.String(), fmt.Errorf("exited before listening on %s: %w", addr, waitErr)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-exited
			t.Fatalf("%s not listening on %s after 20s:\n%s", name, addr, out.String())
		}
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		t.Logf("%s stopped: %v", name, waitErr)
		if t.Failed() {
			t.Logf("%s output:\n%s", name, out.String())
		}
	})
	return "", nil
}

// proxyVars are the placeholder values of one proxy in front of one gateway.
type proxyVars struct {
	port    int    // the proxy's port on 127.0.0.1
	gateway string // host:port
	app     string // app.example.com's and admin.example.com's backend, host:port
}

// startNginx runs nginx on configs/nginx/ and returns its address.
func startNginx(t testing.TB, v proxyVars) string {
	t.Helper()
	bin := needBinary(t, "nginx", "nginx-light")
	dir := worldDir(t, "authgate-nginx-")
	addr := fmt.Sprintf("127.0.0.1:%d", v.port)
	renderDir(t, "nginx", dir, map[string]string{
		"LISTEN": addr, "GATEWAY": v.gateway, "APP": v.app, "ADMIN_APP": v.app,
		"PUBLIC_SCHEME": "http", "PUBLIC_PORT": fmt.Sprintf(":%d", v.port),
	})
	startProcess(t, "nginx", func() *exec.Cmd {
		cmd := exec.Command(bin, "-p", dir, "-c", "nginx.conf", "-g", "daemon off;")
		cmd.Dir = dir
		return cmd
	}, addr)
	return addr
}

// startCaddy runs Caddy on configs/caddy/Caddyfile and returns its address.
func startCaddy(t testing.TB, v proxyVars) string {
	t.Helper()
	bin := needBinary(t, "caddy", "caddy")
	dir := t.TempDir()
	renderDir(t, "caddy", dir, map[string]string{
		"GATEWAY": v.gateway, "APP": v.app, "ADMIN_APP": v.app, "PORT": fmt.Sprint(v.port),
		"PUBLIC_SCHEME": "http", "PUBLIC_PORT": fmt.Sprintf(":%d", v.port),
	})
	addr := fmt.Sprintf("127.0.0.1:%d", v.port)
	startProcess(t, "caddy", func() *exec.Cmd {
		cmd := exec.Command(bin, "run", "--config", filepath.Join(dir, "Caddyfile"), "--adapter", "caddyfile")
		cmd.Dir = dir
		cmd.Env = []string{
			"PATH=" + os.Getenv("PATH"),
			"HOME=" + dir,
			"XDG_CONFIG_HOME=" + filepath.Join(dir, "config"),
			"XDG_DATA_HOME=" + filepath.Join(dir, "data"),
		}
		return cmd
	}, addr)
	return addr
}

// gatewayOn runs the real run() with --config on the example gateway.yaml of configs/<dir>
// (placeholders replaced) and env (gatewayEnv plus overrides, which win over the file).
// It returns the gateway's base URL and, when authz.grpc_listen is set, the gRPC address.
func gatewayOn(t testing.TB, dir string, vars, env map[string]string) (base, grpcAddr string) {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "gateway.yaml")
	if err := os.WriteFile(cfg, render(t, dir, "gateway.yaml", vars), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := newAddrWriter()
	errc := make(chan error, 1)
	getenv := func(k string) string { return env[k] }
	go func() { errc <- run(ctx, []string{"--config", cfg}, getenv, out, out) }()
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
		if t.Failed() {
			t.Logf("gateway log:\n%s", out.String())
		}
	})
	if m := regexp.MustCompile(`"msg":"grpc listening","addr":"([^"]+)"`).FindStringSubmatch(out.String()); m != nil {
		grpcAddr = m[1]
	}
	return "http://" + addr, grpcAddr
}

// hostClient is a client that reaches every host name (app.example.com:PORT, …)
// through one address, as DNS would, keeps cookies like a browser (Domain=example.com
// included) and does not follow redirects, so that tests see each one.
type hostClient struct {
	t    testing.TB
	http *http.Client
	// browser makes every request look like a page load (Accept: text/html,
	// Sec-Fetch-Mode: navigate); otherwise requests look like the seed client's fetch.
	browser bool
}

func newHostClient(t testing.TB, via string, browser bool) *hostClient {
	jar, _ := cookiejar.New(nil)
	d := &net.Dialer{Timeout: 5 * time.Second}
	tr := &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return d.DialContext(ctx, network, via)
	}}
	t.Cleanup(tr.CloseIdleConnections)
	return &hostClient{t: t, browser: browser, http: &http.Client{
		Jar: jar, Transport: tr, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// do sends one request; hdr are name, value pairs added to it.
func (c *hostClient) do(method, rawURL, body string, hdr ...string) response {
	c.t.Helper()
	req, err := http.NewRequest(method, rawURL, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.browser {
		req.Header.Set("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
		req.Header.Set("Sec-Fetch-Mode", "navigate")
		req.Header.Set("Sec-Fetch-Dest", "document")
		req.Header.Set("Sec-Fetch-Site", "none")
	} else {
		req.Header.Set("Accept", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if http.CanonicalHeaderKey(hdr[i]) == "Content-Type" {
			req.Header.Set(hdr[i], hdr[i+1])
			continue
		}
		req.Header.Add(hdr[i], hdr[i+1])
	}
	res, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, rawURL, err)
	}
	defer res.Body.Close()
	var raw bytes.Buffer
	_, _ = raw.ReadFrom(res.Body)
	out := response{Status: res.StatusCode, Header: res.Header, Raw: raw.String()}
	_ = json.Unmarshal(raw.Bytes(), &out.Body)
	return out
}

// cookie returns the value of the named cookie the client would send to rawURL.
func (c *hostClient) cookie(rawURL, name string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		c.t.Fatal(err)
	}
	for _, ck := range c.http.Jar.Cookies(u) {
		if ck.Name == name {
			return ck.Value
		}
	}
	return ""
}

var (
	formRe  = regexp.MustCompile(`(?is)<form[^>]*>.*?</form>`)
	inputRe = regexp.MustCompile(`(?is)<input[^>]*>`)
	attrRe  = regexp.MustCompile(`(?is)\b(name|value|type)\s*=\s*("[^"]*"|'[^']*')`)
)

// errNoSignInPage: GET /login answers 404, the sign-in page is not there yet.
var errNoSignInPage = errors.New("no sign-in page")

// signIn signs in on the sign-in page signInURL (as a browser would: GET the form,
// POST it back with email, password and every hidden field, 303 to rd) and returns
// where the page sent the browser. When the gateway has no sign-in page yet (GET
// answers 404) it returns errNoSignInPage and the caller signs in another way.
func (c *hostClient) signIn(signInURL, email, password string) (string, error) {
	c.t.Helper()
	page := c.do("GET", signInURL, "")
	if page.Status == http.StatusNotFound {
		return "", errNoSignInPage
	}
	if page.Status != http.StatusOK {
		c.t.Fatalf("GET %s: %d %s", signInURL, page.Status, page.Raw)
	}
	form := url.Values{}
	if m := formRe.FindString(page.Raw); m != "" {
		for _, in := range inputRe.FindAllString(m, -1) {
			attrs := map[string]string{}
			for _, a := range attrRe.FindAllStringSubmatch(in, -1) {
				attrs[strings.ToLower(a[1])] = html.UnescapeString(strings.Trim(a[2], `"'`))
			}
			if attrs["name"] != "" && strings.EqualFold(attrs["type"], "hidden") {
				form.Set(attrs["name"], attrs["value"])
			}
		}
	}
	if form.Get("rd") == "" {
		if rd := mustParse(c.t, signInURL).Query().Get("rd"); rd != "" {
			form.Set("rd", rd)
		}
	}
	form.Set("email", email)
	form.Set("password", password)
	u := mustParse(c.t, signInURL)
	action := u.Scheme + "://" + u.Host + u.Path
	r := c.do("POST", action, form.Encode(), "Content-Type", "application/x-www-form-urlencoded",
		"Origin", u.Scheme+"://"+u.Host)
	if r.Status != http.StatusSeeOther {
		c.t.Fatalf("POST %s: %d %s, want 303", action, r.Status, r.Raw)
	}
	return r.Header.Get("Location"), nil
}

func mustParse(t testing.TB, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
