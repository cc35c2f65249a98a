package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// wsUpstream echoes messages and first sends the identity headers it got at the upgrade.
func wsUpstream(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ws/echo", "/public/ws":
			c, err := websocket.Accept(w, r, nil)
			if err != nil {
				return
			}
			defer func() { _ = c.CloseNow() }()
			hello, _ := json.Marshal(map[string]string{"user": r.Header.Get("X-User-Id"), "role": r.Header.Get("X-User-Role"),
				"spoof": r.Header.Get("X-Forwarded-User") + r.Header.Get("Remote-User")})
			ctx := r.Context()
			if err := c.Write(ctx, websocket.MessageText, hello); err != nil {
				return
			}
			for {
				typ, msg, err := c.Read(ctx)
				if err != nil {
					return
				}
				if err := c.Write(ctx, typ, msg); err != nil {
					return
				}
			}
		case "/sse/events":
			w.Header().Set("Content-Type", "text/event-stream")
			fl := http.NewResponseController(w)
			for i := range 3 {
				fmt.Fprintf(w, "data: event %d\n\n", i)
				_ = fl.Flush()
				select {
				case <-r.Context().Done():
					return
				case <-time.After(300 * time.Millisecond):
				}
			}
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestWebSocketAndSSE: upgrades and streams go through the same decision and header
// hygiene as any proxied request; a WebSocket whose session ends (logout here; refresh
// reuse and admin revocation end sessions the same way) is closed within
// proxy.websocket_check_interval.
func TestWebSocketAndSSE(t *testing.T) {
	up := wsUpstream(t)
	env := gatewayEnv(t, fmt.Sprintf("ws_%d", time.Now().UnixNano()))
	env["AUTHGATE_ROUTES"] = `[{"path":"/ws","upstream":"` + up + `","policy":"authenticated"},` +
		`{"path":"/sse","upstream":"` + up + `","policy":"authenticated"},` +
		`{"path":"/public","upstream":"` + up + `","policy":"public"}]`
	env["AUTHGATE_PROXY__WEBSOCKET_CHECK_INTERVAL"] = "300ms"
	base := startGateway(t, env)
	c := newClient(t, base)
	s := &stack{base: base}
	expect(t, s.register(t, c, "Wes", "wes@example.com", "wes-password"), 201, "")
	tok := s.login(t, c, "wes@example.com", "wes-password")
	wsURL := "ws" + strings.TrimPrefix(base, "http")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	t.Run("anonymous upgrade is refused", func(t *testing.T) {
		_, res, err := websocket.Dial(ctx, wsURL+"/ws/echo", nil) //nolint:bodyclose // the library closes a refused dial's body
		if err == nil || res == nil || res.StatusCode != 401 {
			t.Fatalf("anonymous dial: %v %v", res, err)
		}
	})

	t.Run("signed in: identity at the upgrade, spoofs stripped, messages flow", func(t *testing.T) {
		conn, _, err := websocket.Dial(ctx, wsURL+"/ws/echo", &websocket.DialOptions{HTTPHeader: http.Header{ //nolint:bodyclose // an upgraded response has no body to close
			"Authorization": {"Bearer " + tok}, "X-Forwarded-User": {"root"}, "Remote-User": {"root"},
		}})
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = conn.CloseNow() }()
		_, hello, err := conn.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var h map[string]string
		_ = json.Unmarshal(hello, &h)
		if h["user"] == "" || h["role"] != "user" || h["spoof"] != "" {
			t.Fatalf("upstream saw %s", hello)
		}
		if err := conn.Write(ctx, websocket.MessageText, []byte("ping")); err != nil {
			t.Fatal(err)
		}
		if _, msg, err := conn.Read(ctx); err != nil || string(msg) != "ping" {
			t.Fatalf("echo %q %v", msg, err)
		}
	})

	t.Run("public upgrade", func(t *testing.T) {
		conn, _, err := websocket.Dial(ctx, wsURL+"/public/ws", nil) //nolint:bodyclose // an upgraded response has no body to close
		if err != nil {
			t.Fatal(err)
		}
		_, hello, err := conn.Read(ctx)
		_ = conn.CloseNow()
		if err != nil || !strings.Contains(string(hello), `"user":""`) {
			t.Fatalf("public hello %s %v", hello, err)
		}
	})

	t.Run("server-sent events stream through", func(t *testing.T) {
		req, _ := http.NewRequestWithContext(ctx, "GET", base+"/sse/events", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		start := time.Now()
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		line, err := bufio.NewReader(res.Body).ReadString('\n')
		if err != nil || line != "data: event 0\n" || res.Header.Get("Content-Type") != "text/event-stream" {
			t.Fatalf("first event %q %v", line, err)
		}
		if d := time.Since(start); d > 500*time.Millisecond {
			t.Fatalf("first event after %v: the stream was buffered", d)
		}
	})

	t.Run("a socket of a session that ends is closed", func(t *testing.T) {
		conn, _, err := websocket.Dial(ctx, wsURL+"/ws/echo", &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + tok}}}) //nolint:bodyclose // an upgraded response has no body to close
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = conn.CloseNow() }()
		if _, _, err := conn.Read(ctx); err != nil {
			t.Fatal(err)
		}
		expect(t, c.do("POST", "/api/auth/logout", nil), 200, "")
		start := time.Now()
		rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
		defer rcancel()
		if _, _, err := conn.Read(rctx); err == nil || rctx.Err() != nil {
			t.Fatalf("socket still open %v after logout (err %v)", time.Since(start), err)
		}
		t.Logf("closed %v after logout", time.Since(start))
	})
}

// TestEdgeHygiene (SECURITY.md H8, H9): h2c upgrades are refused, a slow request body is
// 408, and a gateway-made error says so in X-Authgate-Error.
func TestEdgeHygiene(t *testing.T) {
	up := echoUpstream(t)
	env := gatewayEnv(t, fmt.Sprintf("edge_%d", time.Now().UnixNano()))
	env["AUTHGATE_ROUTES"] = `[{"path":"/echo","upstream":"` + up + `","policy":"public"}]`
	env["AUTHGATE_SERVER__READ_TIMEOUT"] = "1s"
	base := startGateway(t, env)
	c := newClient(t, base)

	r := c.do("GET", "/echo/x", nil, "Upgrade", "h2c", "Connection", "Upgrade, HTTP2-Settings", "HTTP2-Settings", "AAMAAABkAARAAAAAAAIAAAAA")
	expect(t, r, 400, "Upgrade not supported")
	if r.Header.Get("X-Authgate-Error") != "upgrade_refused" {
		t.Fatalf("X-Authgate-Error %q", r.Header.Get("X-Authgate-Error"))
	}
	if r := c.do("GET", "/echo/x", nil); r.Status != 200 || r.Header.Get("X-Authgate-Error") != "" {
		t.Fatalf("upstream answer marked as the gateway's: %d %v", r.Status, r.Header)
	}

	// A login body announced but sent too slowly: 408 in the envelope, not 500.
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"email\":")
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to a slow body: %v", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusRequestTimeout {
		t.Fatalf("slow body: %d, want 408", res.StatusCode)
	}
}

// TestShutdownClosesSockets (SECURITY.md R4): an open WebSocket does not hold the
// drain: run returns promptly and the socket is closed.
func TestShutdownClosesSockets(t *testing.T) {
	up := wsUpstream(t)
	env := gatewayEnv(t, fmt.Sprintf("wsdown_%d", time.Now().UnixNano()))
	env["AUTHGATE_ROUTES"] = `[{"path":"/public","upstream":"` + up + `","policy":"public"}]`
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := newAddrWriter()
	errc := make(chan error, 1)
	go func() { errc <- run(ctx, nil, func(k string) string { return env[k] }, out, out) }()
	addr := out.wait(t, errc)
	dctx, dcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer dcancel()
	conn, _, err := websocket.Dial(dctx, "ws://"+addr+"/public/ws", nil) //nolint:bodyclose // an upgraded response has no body to close
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.CloseNow() }()
	if _, _, err := conn.Read(dctx); err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("an open WebSocket held the shutdown")
	}
	if _, _, err := conn.Read(dctx); err == nil {
		t.Fatal("socket still open after shutdown")
	}
}

// TestCORSPreflightOnProxiedRoutes (SECURITY.md C4): a preflight for a proxied route is
// answered by the gateway for configured origins only, never reflecting others.
func TestCORSPreflightOnProxiedRoutes(t *testing.T) {
	up := echoUpstream(t)
	env := gatewayEnv(t, fmt.Sprintf("cors_%d", time.Now().UnixNano()))
	env["AUTHGATE_ROUTES"] = `[{"path":"/echo","upstream":"` + up + `","policy":"authenticated"}]`
	env["AUTHGATE_CORS__ORIGINS"] = "https://app.example"
	c := newClient(t, startGateway(t, env))
	pre := func(origin string) response {
		return c.do("OPTIONS", "/echo/x", nil, "Origin", origin, "Access-Control-Request-Method", "PUT",
			"Access-Control-Request-Headers", "Content-Type")
	}
	r := pre("https://app.example")
	if r.Status != http.StatusNoContent || r.Header.Get("Access-Control-Allow-Origin") != "https://app.example" ||
		r.Header.Get("Access-Control-Allow-Credentials") != "true" || !strings.Contains(r.Header.Get("Access-Control-Allow-Methods"), "PUT") {
		t.Fatalf("allowed preflight: %d %v", r.Status, r.Header)
	}
	r = pre("https://evil.example")
	if r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("foreign origin reflected: %v", r.Header)
	}
}

// TestCSRFEndToEnd (SECURITY.md C3): a cross-site request is refused where it would
// ride the browser's cookies: unsafe methods on protected proxied routes, the account
// API's login, and GET logout and refresh; Bearer requests and same-origin ones pass.
func TestCSRFEndToEnd(t *testing.T) {
	up := echoUpstream(t)
	env := gatewayEnv(t, fmt.Sprintf("csrf_%d", time.Now().UnixNano()))
	env["AUTHGATE_ROUTES"] = `[{"path":"/hooks","upstream":"` + up + `","policy":"authenticated","csrf":false},` +
		`{"path":"/echo","upstream":"` + up + `","policy":"authenticated"}]`
	env["AUTHGATE_CORS__ORIGINS"] = "https://app.example"
	base := startGateway(t, env)
	c := newClient(t, base)
	s := &stack{base: base}
	expect(t, s.register(t, c, "Cy", "cy@example.com", "cy-password"), 201, "")
	tok := s.login(t, c, "cy@example.com", "cy-password")
	cross := []string{"Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"}
	expect(t, c.do("POST", "/echo/x", nil, cross...), 403, "Cross-site request refused")
	expect(t, c.do("DELETE", "/echo/x", nil, "Origin", "https://evil.example"), 403, "Cross-site request refused")
	expect(t, c.do("POST", "/echo/x", nil, "Sec-Fetch-Site", "same-origin"), 200, "")
	expect(t, c.do("POST", "/echo/x", nil, "Origin", "https://app.example", "Sec-Fetch-Site", "cross-site"), 200, "") // cors.origins are trusted
	expect(t, c.do("GET", "/echo/x", nil, cross...), 200, "")
	expect(t, c.do("POST", "/hooks/x", nil, cross...), 200, "")
	bearer := newClient(t, base)
	expect(t, bearer.do("POST", "/echo/x", nil, append(cross, "Authorization", "Bearer "+tok)...), 200, "")
	expect(t, c.do("POST", "/api/auth/login", map[string]string{"email": "cy@example.com", "password": "cy-password"}, cross...),
		403, "Cross-site request refused")
	expect(t, c.do("GET", "/api/auth/refresh", nil, cross...), 403, "Cross-site request refused")
	expect(t, c.do("GET", "/api/auth/logout", nil, cross...), 403, "Cross-site request refused")
	expect(t, c.do("GET", "/echo/x", nil), 200, "") // still signed in
	expect(t, c.do("GET", "/api/auth/refresh", nil, "Sec-Fetch-Site", "same-origin"), 200, "")
	expect(t, c.do("GET", "/api/auth/logout", nil, "Sec-Fetch-Site", "same-origin"), 200, "")
}

// TestPageLoadsRefreshSilently: a browser page load to a protected route with an expired
// access token but a live refresh cookie passes and renews the access cookie; an API
// request gets the seed's 401, on which the seed client refreshes; a page load without
// a session goes to the sign-in page with rd.
func TestPageLoadsRefreshSilently(t *testing.T) {
	up := echoUpstream(t)
	env := gatewayEnv(t, fmt.Sprintf("silent_%d", time.Now().UnixNano()))
	env["AUTHGATE_ROUTES"] = `[{"path":"/echo","upstream":"` + up + `","policy":"authenticated"}]`
	env["AUTHGATE_TOKENS__ACCESS_TTL"] = "1s"
	env["AUTHGATE_TOKENS__REFRESH_TTL"] = "1h"
	base := startGateway(t, env)
	c := newClient(t, base)
	c.http.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	s := &stack{base: base}
	expect(t, s.register(t, c, "Sid", "sid@example.com", "sid-password"), 201, "")
	login := c.do("POST", "/api/auth/login", map[string]string{"email": "sid@example.com", "password": "sid-password"})
	expect(t, login, 200, "")
	rt := setCookies(t, login)["refresh_token"].Value
	time.Sleep(2100 * time.Millisecond) // the access token (and its cookie) expired
	anon := newClient(t, base)
	anon.http.CheckRedirect = c.http.CheckRedirect
	expect(t, anon.do("GET", "/echo/page", nil, "Cookie", "refresh_token="+rt), 401, "You are not logged in")
	r := anon.do("GET", "/echo/page?x=1", nil, "Cookie", "refresh_token="+rt, "Sec-Fetch-Mode", "navigate")
	expect(t, r, 200, "")
	if ck := setCookies(t, r); ck["access_token"] == nil || ck["logged_in"] == nil || ck["refresh_token"] != nil {
		t.Fatalf("page load cookies %v", r.Header.Values("Set-Cookie"))
	}
	fresh := newClient(t, base)
	fresh.http.CheckRedirect = c.http.CheckRedirect
	if r := fresh.do("GET", "/echo/page?x=1", nil, "Accept", "text/html"); r.Status != 302 ||
		r.Header.Get("Location") != "/login?rd=%2Fecho%2Fpage%3Fx%3D1" {
		t.Fatalf("anonymous page load: %d %q", r.Status, r.Header.Get("Location"))
	}
	nr := fresh.do("GET", "/echo/page?x=1", nil, "Sec-Fetch-Mode", "navigate", "Cookie", "refresh_token=forged")
	if nr.Status != 302 || nr.Header.Get("Location") != "/login?rd=%2Fecho%2Fpage%3Fx%3D1" {
		t.Fatalf("page load with a dead session: %d %q", nr.Status, nr.Header.Get("Location"))
	}

	// A sign-in page on another host gets the absolute way back.
	env["AUTHGATE_AUTHZ__SIGN_IN_URL"] = "https://auth.example.com/login"
	other := newClient(t, startGateway(t, env))
	other.http.CheckRedirect = c.http.CheckRedirect
	ar := other.do("GET", "/echo/page", nil, "Sec-Fetch-Mode", "navigate")
	want := "https://auth.example.com/login?rd=" + url.QueryEscape("http://"+strings.TrimPrefix(other.base, "http://")+"/echo/page")
	if ar.Status != 302 || ar.Header.Get("Location") != want {
		t.Fatalf("absolute sign-in URL: %d %q, want %q", ar.Status, ar.Header.Get("Location"), want)
	}
}
