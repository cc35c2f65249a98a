package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
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
