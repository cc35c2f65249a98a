package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// via is c talking to another replica, with the same cookies.
func via(c *client, base string) *client { return &client{t: c.t, base: base, http: c.http} }

// mySessions lists the caller's sessions (GET /api/auth/sessions) by id.
func mySessions(t *testing.T, c *client, hdr ...string) map[string]map[string]any {
	t.Helper()
	r := c.do("GET", "/api/auth/sessions", nil, hdr...)
	expect(t, r, 200, "")
	data, _ := r.Body["data"].(map[string]any)
	list, ok := data["sessions"].([]any)
	if r.Body["status"] != "success" || !ok {
		t.Fatalf("sessions body %s", r.Raw)
	}
	out := map[string]map[string]any{}
	for _, x := range list {
		s := x.(map[string]any)
		out[s["id"].(string)] = s
	}
	return out
}

// currentSession is the id of the session marked current.
func currentSession(t *testing.T, list map[string]map[string]any) string {
	t.Helper()
	cur := ""
	for id, s := range list {
		if s["current"] == true {
			if cur != "" {
				t.Fatalf("two current sessions: %v", list)
			}
			cur = id
		}
	}
	if cur == "" {
		t.Fatalf("no current session: %v", list)
	}
	return cur
}

// TestSelfServiceSessions (SECURITY.md T6, T8, C3, C5): a user lists their sessions,
// ends one, changes the password and logs out everywhere, through two replicas on one
// Redis whose session caches would keep a session for a minute: every revocation made on
// replica A is refused by replica B on the next request and closes the session's
// WebSocket there (the periodic check is an hour away, so only the revocation message
// can do it). Refused requests change nothing.
func TestSelfServiceSessions(t *testing.T) {
	up, ws := echoUpstream(t), wsUpstream(t)
	env := gatewayEnv(t, fmt.Sprintf("self_%d", time.Now().UnixNano()))
	env["AUTHGATE_ROUTES"] = `[{"path":"/echo","upstream":"` + up + `","policy":"authenticated"},` +
		`{"path":"/ws","upstream":"` + ws + `","policy":"authenticated"}]`
	env["AUTHGATE_SESSIONS__CACHE_TTL"] = "1m"
	env["AUTHGATE_PROXY__WEBSOCKET_CHECK_INTERVAL"] = "1h"
	baseA := startGateway(t, env)
	baseB := startGateway(t, env) // same keys (data dir), MongoDB database and Redis prefix
	s := &stack{base: baseA}

	setup := newClient(t, baseA)
	expect(t, s.register(t, setup, "Alice", "alice@example.com", "alice-password"), 201, "")
	expect(t, s.register(t, setup, "Bob", "bob@example.com", "bob-password"), 201, "")
	var alice []*client
	var tokens []string
	for i := range 3 {
		c := newClient(t, baseA)
		r := c.do("POST", "/api/auth/login", map[string]string{"email": "alice@example.com", "password": "alice-password"},
			"User-Agent", fmt.Sprintf("browser-%d", i))
		expect(t, r, 200, "")
		alice, tokens = append(alice, c), append(tokens, r.Body["access_token"].(string))
	}
	bob := newClient(t, baseA)
	bobToken := s.login(t, bob, "bob@example.com", "bob-password")
	bearer := func(i int) []string { return []string{"Authorization", "Bearer " + tokens[i]} }
	anon := newClient(t, baseA)
	// Every session is read once on B, so that B's cache holds it.
	for i := range alice {
		expect(t, via(alice[i], baseB).do("GET", "/echo", nil), 200, "")
	}
	expect(t, via(bob, baseB).do("GET", "/echo", nil), 200, "")

	sids := make([]string, len(alice))
	t.Run("list", func(t *testing.T) {
		for i, c := range alice {
			list := mySessions(t, c)
			sids[i] = currentSession(t, list)
			if len(list) != 3 {
				t.Fatalf("%d sessions, want 3: %v", len(list), list)
			}
		}
		list := mySessions(t, anon, bearer(0)...) // a Bearer token works like the cookie
		cur := list[sids[0]]
		created, err1 := time.Parse("2006-01-02T15:04:05.000Z07:00", fmt.Sprint(cur["createdAt"]))
		_, err2 := time.Parse("2006-01-02T15:04:05.000Z07:00", fmt.Sprint(cur["lastSeen"]))
		if err1 != nil || err2 != nil || time.Since(created) > time.Minute || !strings.HasSuffix(fmt.Sprint(cur["createdAt"]), "Z") ||
			cur["ip"] != "127.0.0.1" || cur["userAgent"] != "browser-0" || list[sids[1]]["userAgent"] != "browser-1" || cur["current"] != true {
			t.Fatalf("session %v", cur)
		}
		if len(cur) != 6 {
			t.Fatalf("session fields %v, want id, createdAt, lastSeen, ip, userAgent, current", cur)
		}
		expect(t, anon.do("GET", "/api/auth/sessions", nil), 401, "You are not logged in")
		expect(t, anon.do("GET", "/api/auth/sessions", nil, "Authorization", "Bearer nope"), 401, "Invalid token or user doesn't exist")
	})

	bobSID := currentSession(t, mySessions(t, bob))
	unchanged := func(t *testing.T) {
		t.Helper()
		if n := len(mySessions(t, alice[0])); n != 3 {
			t.Fatalf("alice has %d sessions, want 3", n)
		}
		for i := range alice {
			expect(t, via(alice[i], baseB).do("GET", "/echo", nil), 200, "")
		}
		expect(t, via(bob, baseB).do("GET", "/echo", nil, "Authorization", "Bearer "+bobToken), 200, "")
	}

	t.Run("refused revocations change nothing", func(t *testing.T) {
		for _, id := range []string{bobSID, "nope", strings.Repeat("A", 22), "a}:b", "%2e%2e"} {
			expect(t, alice[0].do("DELETE", "/api/auth/sessions/"+id, nil), 404, "Not found")
		}
		expect(t, anon.do("DELETE", "/api/auth/sessions/"+sids[1], nil), 401, "You are not logged in")
		expect(t, anon.do("POST", "/api/auth/logout-all", nil), 401, "You are not logged in")
		cross := []string{"Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"}
		expect(t, alice[0].do("DELETE", "/api/auth/sessions/"+sids[1], nil, cross...), 403, "Cross-site request refused")
		expect(t, alice[0].do("POST", "/api/auth/logout-all", nil, cross...), 403, "Cross-site request refused")
		expect(t, alice[0].do("POST", "/api/auth/password", map[string]string{
			"currentPassword": "alice-password", "password": "alice-new-password", "passwordConfirm": "alice-new-password"}, cross...),
			403, "Cross-site request refused")
		unchanged(t)
	})

	wsURL := "ws" + strings.TrimPrefix(baseB, "http")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dial := func(t *testing.T, i int) *websocket.Conn {
		t.Helper()
		conn, _, err := websocket.Dial(ctx, wsURL+"/ws/echo", &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + tokens[i]}}}) //nolint:bodyclose // an upgraded response has no body to close
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = conn.CloseNow() })
		if _, _, err := conn.Read(ctx); err != nil { // the hello
			t.Fatal(err)
		}
		return conn
	}
	closed := func(t *testing.T, conn *websocket.Conn, what string) {
		t.Helper()
		start := time.Now()
		rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
		defer rcancel()
		if _, _, err := conn.Read(rctx); err == nil || rctx.Err() != nil {
			t.Fatalf("socket on replica B still open %v after %s (err %v)", time.Since(start), what, err)
		}
	}
	open := func(t *testing.T, conn *websocket.Conn) {
		t.Helper()
		if err := conn.Write(ctx, websocket.MessageText, []byte("ping")); err != nil {
			t.Fatalf("socket closed: %v", err)
		}
		if _, msg, err := conn.Read(ctx); err != nil || string(msg) != "ping" {
			t.Fatalf("socket echo %q %v", msg, err)
		}
	}

	t.Run("revoke one session on A", func(t *testing.T) {
		gone, stays := dial(t, 1), dial(t, 0)
		expect(t, alice[0].do("DELETE", "/api/auth/sessions/"+sids[1], nil), 200, "")
		expect(t, via(alice[1], baseB).do("GET", "/echo", nil), 401, "User session has expired")
		expect(t, alice[1].do("GET", "/api/auth/refresh", nil), 403, "Could not refresh access token")
		closed(t, gone, "its session was revoked")
		open(t, stays)
		expect(t, via(alice[0], baseB).do("GET", "/echo", nil), 200, "")
		list := mySessions(t, alice[0])
		if _, ok := list[sids[1]]; ok || len(list) != 2 {
			t.Fatalf("after revoking %s: %v", sids[1], list)
		}
	})

	t.Run("refused password changes change nothing", func(t *testing.T) {
		for _, tc := range []struct {
			body   any
			status int
			want   []string // validation messages, or the message
		}{
			{map[string]string{"currentPassword": "wrong-password", "password": "alice-new-password", "passwordConfirm": "alice-new-password"},
				403, []string{"Your current password is incorrect"}},
			{map[string]string{"currentPassword": "alice-password", "password": "short", "passwordConfirm": "short"},
				400, []string{"Password must be more than 8 characters"}},
			{map[string]string{"currentPassword": "alice-password", "password": strings.Repeat("p", 65), "passwordConfirm": strings.Repeat("p", 65)},
				400, []string{"Password must be less than 64 characters"}},
			{map[string]string{"currentPassword": "alice-password", "password": "alice-new-password", "passwordConfirm": "alice-other-password"},
				400, []string{"Passwords do not match"}},
			{map[string]string{}, 400, []string{"Current password is required", "Password is required", "Please confirm your password"}},
			{map[string]any{"currentPassword": "", "password": 5, "passwordConfirm": "x"}, 400,
				[]string{"Current password is required", "Expected string, received number"}},
			{`{"currentPassword":`, 400, []string{"Malformed JSON in request body"}},
		} {
			r := alice[0].do("POST", "/api/auth/password", tc.body)
			var got []string
			if issues, ok := r.Body["error"].([]any); ok {
				for _, is := range issues {
					got = append(got, is.(map[string]any)["message"].(string))
				}
			} else {
				got = []string{r.msg()}
			}
			if r.Status != tc.status || r.Body["status"] != "fail" || !slices.Equal(got, tc.want) {
				t.Errorf("%v: %d %s, want %d %q", tc.body, r.Status, r.Raw, tc.status, tc.want)
			}
		}
		expect(t, anon.do("POST", "/api/auth/password", map[string]string{
			"currentPassword": "alice-password", "password": "alice-new-password", "passwordConfirm": "alice-new-password"}),
			401, "You are not logged in")
		if n := len(mySessions(t, alice[0])); n != 2 {
			t.Fatalf("alice has %d sessions, want 2", n)
		}
		expect(t, via(alice[2], baseB).do("GET", "/echo", nil), 200, "")
		expect(t, newClient(t, baseB).do("POST", "/api/auth/login",
			map[string]string{"email": "alice@example.com", "password": "alice-new-password"}), 401, "Invalid email or password")
	})

	t.Run("change the password on A", func(t *testing.T) {
		other, mine := dial(t, 2), dial(t, 0)
		r := alice[0].do("POST", "/api/auth/password", map[string]string{
			"currentPassword": "alice-password", "password": "alice-new-password", "passwordConfirm": "alice-new-password"})
		expect(t, r, 200, "Password data successfully updated")
		if len(setCookies(t, r)) != 0 {
			t.Fatalf("the change touched cookies: %v", r.Header.Values("Set-Cookie"))
		}
		expect(t, via(alice[2], baseB).do("GET", "/echo", nil), 401, "User session has expired")
		closed(t, other, "the password changed")
		open(t, mine)
		expect(t, via(alice[0], baseB).do("GET", "/echo", nil), 200, "")
		expect(t, alice[0].do("GET", "/api/auth/refresh", nil), 200, "") // the changing session lives on
		list := mySessions(t, alice[0])
		if len(list) != 1 || currentSession(t, list) != sids[0] {
			t.Fatalf("after the change: %v", list)
		}
		expect(t, newClient(t, baseB).do("POST", "/api/auth/login",
			map[string]string{"email": "alice@example.com", "password": "alice-password"}), 401, "Invalid email or password")
		fresh := newClient(t, baseB)
		s.login(t, fresh, "alice@example.com", "alice-new-password")
		alice = append(alice, fresh)
		expect(t, via(bob, baseB).do("GET", "/echo", nil, "Authorization", "Bearer "+bobToken), 200, "") // another user: untouched
	})

	t.Run("logout everywhere through B", func(t *testing.T) {
		tokens[0] = cookieValue(t, alice[0], "access_token") // the refreshed one
		mine := dial(t, 0)
		r := via(alice[0], baseB).do("POST", "/api/auth/logout-all", nil)
		expect(t, r, 200, "")
		cks := setCookies(t, r)
		for _, name := range []string{"access_token", "refresh_token", "logged_in"} {
			if ck := cks[name]; ck == nil || ck.MaxAge >= 0 && !strings.Contains(ck.Raw, "Max-Age=0") {
				t.Errorf("cookie %s not cleared: %v", name, r.Header.Values("Set-Cookie"))
			}
		}
		closed(t, mine, "logout-all")
		expect(t, anon.do("GET", "/echo", nil, bearer(0)...), 401, "User session has expired")
		expect(t, alice[3].do("GET", "/echo", nil), 401, "User session has expired")
		expect(t, via(alice[3], baseB).do("GET", "/echo", nil), 401, "User session has expired")
		expect(t, alice[0].do("GET", "/api/auth/sessions", nil), 401, "You are not logged in") // cookies gone
		expect(t, via(bob, baseB).do("GET", "/echo", nil, "Authorization", "Bearer "+bobToken), 200, "")
	})

	t.Run("revoking the current session clears the cookies", func(t *testing.T) {
		c := newClient(t, baseA)
		s.login(t, c, "alice@example.com", "alice-new-password")
		r := c.do("DELETE", "/api/auth/sessions/"+currentSession(t, mySessions(t, c)), nil)
		expect(t, r, 200, "")
		if ck := setCookies(t, r)["access_token"]; ck == nil || ck.MaxAge >= 0 && !strings.Contains(ck.Raw, "Max-Age=0") {
			t.Fatalf("cookies not cleared: %v", r.Header.Values("Set-Cookie"))
		}
		expect(t, c.do("GET", "/api/auth/sessions", nil), 401, "You are not logged in")
	})
}
