package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.mongodb.org/mongo-driver/v2/bson"
)

// adminStack is two gateway replicas on one MongoDB and Redis (same keys: one data
// dir), with upstream-demo behind both (/api/users is for admins only), and the
// bootstrap admin signed in on the first.
type adminStack struct {
	a, b    string // the replicas' base URLs
	admin   *client
	adminID string
	token   string // the admin's access token
}

func startAdminStack(t *testing.T, extra ...map[string]any) *adminStack {
	t.Helper()
	db := fmt.Sprintf("admin_%d", time.Now().UnixNano())
	up := startUpstreamDemo(t, db)
	routes, _ := json.Marshal(append([]map[string]any{
		{"path": "/api/users/me", "match": "exact", "upstream": up, "policy": "authenticated"},
		{"path": "/api/users", "upstream": up, "roles": []string{"admin"}},
	}, extra...))
	env := gatewayEnv(t, db)
	env["AUTHGATE_ROUTES"] = string(routes)
	// Sockets close on the revocation message, long before any periodic check.
	env["AUTHGATE_PROXY__WEBSOCKET_CHECK_INTERVAL"] = "1h"
	env["AUTHGATE_BOOTSTRAP__ADMIN_EMAIL"] = "root@authgate.test"
	env["AUTHGATE_BOOTSTRAP__ADMIN_PASSWORD"] = "root-password-1"
	s := &adminStack{a: startGateway(t, env)}
	s.b = startGateway(t, env)
	s.admin = newClient(t, s.a)
	s.token = (&stack{base: s.a}).login(t, s.admin, "root@authgate.test", "root-password-1")
	me := s.admin.do("GET", "/api/auth/me", nil)
	expect(t, me, 200, "")
	s.adminID = me.Body["data"].(map[string]any)["user"].(map[string]any)["id"].(string)
	return s
}

// user registers and signs in a user on replica a and returns its id and access token.
func (s *adminStack) user(t *testing.T, name, email string) (id, token string) {
	t.Helper()
	c := newClient(t, s.a)
	r := (&stack{}).register(t, c, name, email, "password-123")
	expect(t, r, 201, "")
	id = r.Body["data"].(map[string]any)["user"].(map[string]any)["id"].(string)
	return id, s.login(t, email)
}

func (s *adminStack) login(t *testing.T, email string) string {
	t.Helper()
	return (&stack{base: s.a}).login(t, newClient(t, s.a), email, "password-123")
}

// as sends a request to base with token as Bearer (no cookies).
func as(t *testing.T, base, token, method, path string, body any) response {
	t.Helper()
	return newClient(t, base).do(method, path, body, "Authorization", "Bearer "+token)
}

func dataOf(t *testing.T, r response) map[string]any {
	t.Helper()
	d, ok := r.Body["data"].(map[string]any)
	if r.Body["status"] != "success" || !ok {
		t.Fatalf("not a success envelope: %s", r.Raw)
	}
	return d
}

func validationMessages(t *testing.T, r response) []string {
	t.Helper()
	expect(t, r, 400, "")
	list, ok := r.Body["error"].([]any)
	if !ok || len(list) == 0 {
		t.Fatalf("not a validation envelope: %s", r.Raw)
	}
	var out []string
	for _, p := range list {
		out = append(out, p.(map[string]any)["message"].(string))
	}
	return out
}

// userKeys are the USER object's members (authapi.RenderUser) plus "disabled".
var userKeys = []string{"_id", "createdAt", "disabled", "email", "id", "name", "photo", "provider", "role", "updatedAt", "verified"}

func checkUser(t *testing.T, u any) map[string]any {
	t.Helper()
	m, ok := u.(map[string]any)
	if !ok {
		t.Fatalf("USER %v", u)
	}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if !slices.Equal(keys, userKeys) || m["_id"] != m["id"] {
		t.Fatalf("USER members %v, want %v", keys, userKeys)
	}
	return m
}

// TestAdminAPIAccess: anonymous callers get the seed's 401, other roles its 403, a
// bad token the other 401; the admin passes with a Bearer token or the cookie; a
// cross-site change riding the cookie is refused.
func TestAdminAPIAccess(t *testing.T) {
	s := startAdminStack(t)
	_, tok := s.user(t, "Nora", "nora@example.com")
	expect(t, newClient(t, s.a).do("GET", "/api/admin/users", nil), 401, "You are not logged in")
	expect(t, as(t, s.b, "garbage", "GET", "/api/admin/users", nil), 401, "Invalid token or user doesn't exist")
	for _, path := range []string{"/api/admin/users", "/api/admin/users/" + s.adminID, "/api/admin/users/" + s.adminID + "/sessions"} {
		expect(t, as(t, s.b, tok, "GET", path, nil), 403, "You are not allowed to perform this action")
	}
	expect(t, as(t, s.b, tok, "PATCH", "/api/admin/users/"+s.adminID, map[string]any{"role": "user"}), 403, "You are not allowed to perform this action")
	expect(t, as(t, s.b, tok, "DELETE", "/api/admin/users/"+s.adminID, nil), 403, "You are not allowed to perform this action")
	r := s.admin.do("GET", "/api/admin/users", nil) // the cookie
	expect(t, r, 200, "")
	if r.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q", r.Header.Get("Cache-Control"))
	}
	expect(t, as(t, s.b, s.token, "GET", "/api/admin/users", nil), 200, "") // Bearer, the other replica
	cross := []string{"Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"}
	expect(t, s.admin.do("PATCH", "/api/admin/users/"+s.adminID, map[string]any{"role": "user"}, cross...), 403, "Cross-site request refused")
	expect(t, s.admin.do("DELETE", "/api/admin/users/"+s.adminID+"/sessions", nil, cross...), 403, "Cross-site request refused")
	// Basic credentials a browser sends by itself (once an upstream asked for them) do
	// not exempt a cookie-authenticated request from the check; only a Bearer token does.
	basic := append([]string{"Authorization", "Basic dXNlcjpwYXNz"}, cross...)
	expect(t, s.admin.do("PATCH", "/api/admin/users/"+s.adminID, map[string]any{"role": "user"}, basic...), 403, "Cross-site request refused")
	expect(t, s.admin.do("POST", "/api/auth/logout-all", nil, basic...), 403, "Cross-site request refused")
	expect(t, s.admin.do("GET", "/api/auth/logout", nil, basic...), 403, "Cross-site request refused")
	expect(t, s.admin.do("GET", "/api/auth/me", nil), 200, "") // still signed in, still admin
}

// TestAdminListUsers: the success shape, search on email or name (case-insensitive,
// regular-expression metacharacters taken literally), paging with a total, and bad
// query values as validation envelopes.
func TestAdminListUsers(t *testing.T) {
	s := startAdminStack(t)
	for _, u := range [][2]string{{"Dot.Name", "dot@example.com"}, {"Plus+One", "plus@example.com"}, {"Paren (Name)", "paren@example.com"}, {"Star", "star*@example.com"}} {
		s.user(t, u[0], u[1])
	}
	list := func(query string) (users []any, d map[string]any) {
		t.Helper()
		r := as(t, s.b, s.token, "GET", "/api/admin/users"+query, nil)
		expect(t, r, 200, "")
		d = dataOf(t, r)
		users, _ = d["users"].([]any)
		for _, u := range users {
			checkUser(t, u)
		}
		return users, d
	}
	users, d := list("")
	if len(users) != 5 || d["page"] != 1.0 || d["limit"] != 20.0 || d["total"] != 5.0 {
		t.Fatalf("all users: %d users, %v", len(users), d)
	}
	if u := checkUser(t, users[0]); u["email"] != "root@authgate.test" || u["role"] != "admin" || u["disabled"] != false {
		t.Fatalf("first user %v", u)
	}
	if strings.Contains(fmt.Sprint(users), "$argon2") {
		t.Fatal("a password hash in the list")
	}
	for q, want := range map[string][]string{
		"DOT": {"Dot.Name"}, "t.n": {"Dot.Name"}, "%2B": {"Plus+One"}, "(": {"Paren (Name)"}, "n%2B": nil, "n+": {"Paren (Name)"},
		".%2A": nil, "%5E": nil, "star%2A": {"Star"}, "PAREN%40": {"Paren (Name)"}, "%5Bp%5D": nil,
	} {
		users, d := list("?q=" + q)
		var names []string
		for _, u := range users {
			names = append(names, u.(map[string]any)["name"].(string))
		}
		if !slices.Equal(names, want) || d["total"] != float64(len(want)) {
			t.Errorf("q=%s: %v (total %v), want %v", q, names, d["total"], want)
		}
	}
	users, d = list("?page=2&limit=2")
	if len(users) != 2 || d["page"] != 2.0 || d["limit"] != 2.0 || d["total"] != 5.0 ||
		users[0].(map[string]any)["name"] != "Plus+One" {
		t.Fatalf("page 2 of 2: %v %v", users, d)
	}
	if users, d := list("?page=4&limit=2"); len(users) != 0 || d["total"] != 5.0 {
		t.Fatalf("past the end: %v %v", users, d)
	}
	for _, q := range []string{"?page=0", "?page=abc", "?page=-1", "?limit=0", "?limit=101", "?limit=1.5", "?q=" + strings.Repeat("x", 257)} {
		validationMessages(t, as(t, s.b, s.token, "GET", "/api/admin/users"+q, nil))
	}
	msgs := validationMessages(t, as(t, s.b, s.token, "GET", "/api/admin/users?page=x&limit=x", nil))
	if len(msgs) != 2 || msgs[0] != "Page must be a whole number from 1" || msgs[1] != "Limit must be a whole number from 1 to 100" {
		t.Fatalf("messages %q", msgs)
	}
}

// TestAdminUserChanges: read, change the role, disable, enable and delete a user; each
// change is seen by the user's very next request through the OTHER replica (the admin
// works on a, the user on b), and malformed ids and bodies change nothing.
func TestAdminUserChanges(t *testing.T) {
	s := startAdminStack(t)
	id, tok := s.user(t, "Alice", "alice@example.com")
	path := "/api/admin/users/" + id

	r := as(t, s.a, s.token, "GET", path, nil)
	expect(t, r, 200, "")
	before := checkUser(t, dataOf(t, r)["user"])
	if before["id"] != id || before["role"] != "user" || before["disabled"] != false || before["email"] != "alice@example.com" {
		t.Fatalf("GET user %v", before)
	}
	for _, bad := range []string{"nothex", "0123456789abcdef0123456z", bson.NewObjectID().Hex()} {
		expect(t, as(t, s.a, s.token, "GET", "/api/admin/users/"+bad, nil), 404, "Not found")
		expect(t, as(t, s.a, s.token, "PATCH", "/api/admin/users/"+bad, map[string]any{"role": "admin"}), 404, "Not found")
		expect(t, as(t, s.a, s.token, "DELETE", "/api/admin/users/"+bad, nil), 404, "Not found")
		expect(t, as(t, s.a, s.token, "GET", "/api/admin/users/"+bad+"/sessions", nil), 404, "Not found")
		expect(t, as(t, s.a, s.token, "DELETE", "/api/admin/users/"+bad+"/sessions", nil), 404, "Not found")
	}
	for body, want := range map[string]string{
		`{"role":""}`:                   "Role is required",
		`{"role":5}`:                    "Expected string, received number",
		`{"role":null}`:                 "Expected string, received null",
		`{"role":"ad min"}`:             "Invalid role: a letter or digit, then up to 63 letters, digits, _ . : or -",
		`{"disabled":"yes"}`:            "Expected boolean, received string",
		`{"disabled":null}`:             "Expected boolean, received null",
		`{}`:                            "Nothing to change: send role and/or disabled",
		`{"rol":"admin"}`:               "Nothing to change: send role and/or disabled",
		`{"role":"admin","disabled":1}`: "Expected boolean, received number",
	} {
		if msgs := validationMessages(t, as(t, s.a, s.token, "PATCH", path, body)); len(msgs) != 1 || msgs[0] != want {
			t.Errorf("PATCH %s: %q, want %q", body, msgs, want)
		}
	}
	expect(t, as(t, s.a, s.token, "PATCH", path, `{"role":`), 400, "Malformed JSON in request body")
	expect(t, as(t, s.a, s.token, "PATCH", path, `["role"]`), 400, "Malformed JSON in request body")
	r = as(t, s.a, s.token, "GET", path, nil)
	if after := checkUser(t, dataOf(t, r)["user"]); after["role"] != "user" || after["updatedAt"] != before["updatedAt"] {
		t.Fatalf("a refused PATCH changed the user: %v", after)
	}

	// The role: /api/users (admins only, upstream-demo) through replica b.
	expect(t, as(t, s.b, tok, "GET", "/api/users", nil), 403, "You are not allowed to perform this action") // b now holds the session
	r = as(t, s.a, s.token, "PATCH", path, map[string]any{"role": "admin"})
	expect(t, r, 200, "")
	if u := checkUser(t, dataOf(t, r)["user"]); u["role"] != "admin" {
		t.Fatalf("PATCH answer %v", u)
	}
	expect(t, as(t, s.b, tok, "GET", "/api/users", nil), 200, "")
	expect(t, as(t, s.b, tok, "GET", "/api/admin/users", nil), 200, "")
	expect(t, as(t, s.a, s.token, "PATCH", path, map[string]any{"role": "user"}), 200, "")
	expect(t, as(t, s.b, tok, "GET", "/api/users", nil), 403, "You are not allowed to perform this action")
	expect(t, as(t, s.b, tok, "GET", "/api/users/me", nil), 200, "")

	// Disable: refused at once on both replicas, login and refresh too.
	alice := newClient(t, s.b)
	(&stack{base: s.b}).login(t, alice, "alice@example.com", "password-123")
	r = as(t, s.a, s.token, "PATCH", path, map[string]any{"disabled": true})
	expect(t, r, 200, "")
	if u := checkUser(t, dataOf(t, r)["user"]); u["disabled"] != true {
		t.Fatalf("PATCH disabled answer %v", u)
	}
	expect(t, as(t, s.b, tok, "GET", "/api/users/me", nil), 401, "User session has expired")
	expect(t, as(t, s.a, tok, "GET", "/api/users/me", nil), 401, "User session has expired")
	expect(t, alice.do("GET", "/api/auth/refresh", nil), 403, "Could not refresh access token")
	for _, base := range []string{s.a, s.b} {
		expect(t, newClient(t, base).do("POST", "/api/auth/login", map[string]string{"email": "alice@example.com", "password": "password-123"}),
			401, "Invalid email or password")
	}
	users := dataOf(t, as(t, s.a, s.token, "GET", "/api/admin/users?q=alice", nil))["users"].([]any)
	if len(users) != 1 || checkUser(t, users[0])["disabled"] != true {
		t.Fatalf("list after disable: %v", users)
	}
	expect(t, as(t, s.a, s.token, "PATCH", path, map[string]any{"disabled": false}), 200, "")
	tok = s.login(t, "alice@example.com")
	expect(t, as(t, s.b, tok, "GET", "/api/users/me", nil), 200, "")

	// Delete: the sessions go with the account.
	expect(t, as(t, s.a, s.token, "DELETE", path, nil), 200, "")
	expect(t, as(t, s.b, tok, "GET", "/api/users/me", nil), 401, "User session has expired")
	expect(t, as(t, s.a, s.token, "GET", path, nil), 404, "Not found")
	expect(t, as(t, s.a, s.token, "GET", path+"/sessions", nil), 404, "Not found")
	expect(t, as(t, s.a, s.token, "DELETE", path, nil), 404, "Not found")
	expect(t, newClient(t, s.b).do("POST", "/api/auth/login", map[string]string{"email": "alice@example.com", "password": "password-123"}),
		401, "Invalid email or password")
}

// TestAdminSessions: list a user's sessions, revoke one (seen at once through the other
// replica), revoke all; a session id of another user is not found and stays alive.
func TestAdminSessions(t *testing.T) {
	s := startAdminStack(t)
	id, tok := s.user(t, "Bea", "bea@example.com")
	tok2 := s.login(t, "bea@example.com")
	path := "/api/admin/users/" + id + "/sessions"
	r := as(t, s.b, s.token, "GET", path, nil)
	expect(t, r, 200, "")
	list := dataOf(t, r)["sessions"].([]any)
	if len(list) != 2 {
		t.Fatalf("sessions %v", list)
	}
	for _, x := range list {
		m := x.(map[string]any)
		var keys []string
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if !slices.Equal(keys, []string{"createdAt", "id", "ip", "lastSeen", "userAgent"}) || m["ip"] != "127.0.0.1" || m["id"] == "" {
			t.Fatalf("session %v", m)
		}
	}
	newest := sidOf(t, tok2)
	if list[0].(map[string]any)["id"] != newest && list[1].(map[string]any)["id"] != newest {
		t.Fatalf("sessions %v do not have %s", list, newest)
	}
	expect(t, as(t, s.b, tok2, "GET", "/api/users/me", nil), 200, "")

	// Bea's session under the admin's id, and a made-up one: 404, nothing revoked.
	expect(t, as(t, s.a, s.token, "DELETE", "/api/admin/users/"+s.adminID+"/sessions/"+newest, nil), 404, "Not found")
	expect(t, as(t, s.a, s.token, "DELETE", path+"/not-a-session", nil), 404, "Not found")
	expect(t, as(t, s.b, tok2, "GET", "/api/users/me", nil), 200, "")

	expect(t, as(t, s.a, s.token, "DELETE", path+"/"+newest, nil), 200, "")
	expect(t, as(t, s.b, tok2, "GET", "/api/users/me", nil), 401, "User session has expired")
	expect(t, as(t, s.b, tok, "GET", "/api/users/me", nil), 200, "")
	expect(t, as(t, s.a, s.token, "DELETE", path+"/"+newest, nil), 404, "Not found")

	s.login(t, "bea@example.com")
	r = as(t, s.a, s.token, "DELETE", path, nil)
	expect(t, r, 200, "")
	if n := dataOf(t, r)["revoked"]; n != 2.0 {
		t.Fatalf("revoked %v, want 2", n)
	}
	expect(t, as(t, s.b, tok, "GET", "/api/users/me", nil), 401, "User session has expired")
	if list := dataOf(t, as(t, s.b, s.token, "GET", path, nil))["sessions"].([]any); len(list) != 0 {
		t.Fatalf("sessions after revoking all: %v", list)
	}
}

// TestAdminLastAdmin: the only admin cannot demote, disable or delete themselves; once
// there is a second admin, it can hand over and is then no admin on its next request.
func TestAdminLastAdmin(t *testing.T) {
	s := startAdminStack(t)
	self := "/api/admin/users/" + s.adminID
	const msg = "The last admin cannot be demoted, disabled or deleted"
	expect(t, as(t, s.a, s.token, "PATCH", self, map[string]any{"role": "user"}), 409, msg)
	expect(t, as(t, s.a, s.token, "PATCH", self, map[string]any{"disabled": true}), 409, msg)
	expect(t, as(t, s.b, s.token, "DELETE", self, nil), 409, msg)
	expect(t, as(t, s.a, s.token, "PATCH", self, map[string]any{"role": "admin"}), 200, "")
	expect(t, as(t, s.b, s.token, "GET", "/api/users", nil), 200, "")

	id, tok := s.user(t, "Carl", "carl@example.com")
	expect(t, as(t, s.a, s.token, "PATCH", "/api/admin/users/"+id, map[string]any{"role": "admin"}), 200, "")
	expect(t, as(t, s.b, s.token, "PATCH", self, map[string]any{"role": "user"}), 200, "")
	expect(t, as(t, s.b, s.token, "GET", "/api/admin/users", nil), 403, "You are not allowed to perform this action")
	expect(t, as(t, s.a, tok, "DELETE", "/api/admin/users/"+id, nil), 409, msg)
	expect(t, as(t, s.a, tok, "GET", "/api/admin/users/"+id, nil), 200, "")
}

// TestAdminClosesSockets: disabling a user, revoking one of their sessions or deleting
// them closes their WebSockets on the other replica at once (the revocation message,
// not the hourly check this stack is configured with).
func TestAdminClosesSockets(t *testing.T) {
	s := startAdminStack(t, map[string]any{"path": "/ws", "upstream": wsUpstream(t), "policy": "authenticated"})
	id, _ := s.user(t, "Wes", "wes@example.com")
	wsURL := "ws" + strings.TrimPrefix(s.b, "http")
	ctx := t.Context()
	open := func(tok string) *websocket.Conn {
		t.Helper()
		conn, _, err := websocket.Dial(ctx, wsURL+"/ws/echo", &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + tok}}}) //nolint:bodyclose // an upgraded response has no body to close
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = conn.CloseNow() })
		if _, _, err := conn.Read(ctx); err != nil { // the upstream's hello
			t.Fatal(err)
		}
		return conn
	}
	closed := func(conn *websocket.Conn, what string) {
		t.Helper()
		rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		start := time.Now()
		if _, _, err := conn.Read(rctx); err == nil || rctx.Err() != nil {
			t.Fatalf("socket still open %v after %s (err %v)", time.Since(start), what, err)
		}
	}
	path := "/api/admin/users/" + id

	conn := open(s.login(t, "wes@example.com"))
	expect(t, as(t, s.a, s.token, "PATCH", path, map[string]any{"disabled": true}), 200, "")
	closed(conn, "disable")
	expect(t, as(t, s.a, s.token, "PATCH", path, map[string]any{"disabled": false}), 200, "")

	conn = open(s.login(t, "wes@example.com"))
	sid := dataOf(t, as(t, s.a, s.token, "GET", path+"/sessions", nil))["sessions"].([]any)[0].(map[string]any)["id"].(string)
	expect(t, as(t, s.a, s.token, "DELETE", path+"/sessions/"+sid, nil), 200, "")
	closed(conn, "revoking the session")

	conn = open(s.login(t, "wes@example.com"))
	expect(t, as(t, s.a, s.token, "DELETE", path, nil), 200, "")
	closed(conn, "delete")
}

// TestAdminBans: a lockout shows in GET /api/admin/bans on every replica and an admin
// lifts it with DELETE /api/admin/bans/:id (the right password works again at once);
// others may not; ids that name no ban are 404 and lift nothing. The lockout, the lift
// and the admin's changes to users are in the audit log with the admin as actor.
func TestAdminBans(t *testing.T) {
	env := regulationEnv(t, map[string]string{"ACCOUNT__FAILURES": "3", "ACCOUNT__BAN": "10m"})
	env["AUTHGATE_BOOTSTRAP__ADMIN_EMAIL"] = "root@authgate.test"
	env["AUTHGATE_BOOTSTRAP__ADMIN_PASSWORD"] = "root-password-1"
	a := startGateway(t, env)
	b := startGateway(t, env)
	admin := newClient(t, a)
	(&stack{base: a}).login(t, admin, "root@authgate.test", "root-password-1")
	adminB := via(admin, b)
	me := admin.do("GET", "/api/auth/me", nil)
	expect(t, me, 200, "")
	adminID := me.Body["data"].(map[string]any)["user"].(map[string]any)["id"].(string)

	registerUser(t, a, "Ada", "ada@example.com", "ada-password")
	registerUser(t, a, "Bob", "bob@example.com", "bob-password")
	bob := newClient(t, b)
	(&stack{base: b}).login(t, bob, "bob@example.com", "bob-password")
	for range 3 {
		expect(t, jsonLogin(newClient(t, a), "ada@example.com", "wrong-password"), 401, "Invalid email or password")
	}
	expect(t, jsonLogin(newClient(t, b), "ada@example.com", "ada-password"), 401, "Invalid email or password")

	expect(t, newClient(t, b).do("GET", "/api/admin/bans", nil), 401, "You are not logged in")
	expect(t, bob.do("GET", "/api/admin/bans", nil), 403, "You are not allowed to perform this action")
	r := adminB.do("GET", "/api/admin/bans", nil)
	expect(t, r, 200, "")
	bans, _ := dataOf(t, r)["bans"].([]any)
	if len(bans) != 1 {
		t.Fatalf("bans %s", r.Raw)
	}
	ban := bans[0].(map[string]any)
	id, _ := ban["id"].(string)
	until, err := time.Parse(time.RFC3339Nano, fmt.Sprint(ban["until"]))
	if ban["kind"] != "account" || ban["subject"] != "ada@example.com" || ban["failures"] != float64(3) ||
		!strings.HasPrefix(id, "account-") || err != nil || time.Until(until) < 9*time.Minute {
		t.Fatalf("ban %v", ban)
	}
	expect(t, bob.do("DELETE", "/api/admin/bans/"+id, nil), 403, "You are not allowed to perform this action")
	cross := []string{"Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"}
	expect(t, adminB.do("DELETE", "/api/admin/bans/"+id, nil, cross...), 403, "Cross-site request refused")
	for _, bad := range []string{"nope", "account-" + strings.Repeat("0", 32), "ip-" + strings.Repeat("A", 32),
		strings.TrimPrefix(id, "account-"), id + "0", "account-%00" + strings.Repeat("0", 29)} {
		expect(t, adminB.do("DELETE", "/api/admin/bans/"+bad, nil), 404, "Not found")
	}
	expect(t, jsonLogin(newClient(t, a), "ada@example.com", "ada-password"), 401, "Invalid email or password") // still locked

	expect(t, adminB.do("DELETE", "/api/admin/bans/"+id, nil), 200, "")
	r = admin.do("GET", "/api/admin/bans", nil)
	expect(t, r, 200, "")
	if bans, _ := dataOf(t, r)["bans"].([]any); len(bans) != 0 {
		t.Fatalf("bans after the lift %s", r.Raw)
	}
	expect(t, adminB.do("DELETE", "/api/admin/bans/"+id, nil), 404, "Not found") // lifted once
	expect(t, jsonLogin(newClient(t, a), "ada@example.com", "ada-password"), 200, "")

	// Admin changes to users, each in the audit log with the admin as actor.
	bobID := dataOf(t, bob.do("GET", "/api/auth/me", nil))["user"].(map[string]any)["id"].(string)
	// An id in upper case names nothing (it would reach the document but not the
	// sessions in Redis): every route answers 404 and nothing changes.
	upper := strings.ToUpper(bobID)
	for _, r := range []struct {
		method, path string
		body         any
	}{
		{"GET", "/api/admin/users/" + upper, nil},
		{"PATCH", "/api/admin/users/" + upper, map[string]any{"disabled": true}},
		{"DELETE", "/api/admin/users/" + upper, nil},
		{"GET", "/api/admin/users/" + upper + "/sessions", nil},
		{"DELETE", "/api/admin/users/" + upper + "/sessions", nil},
	} {
		expect(t, adminB.do(r.method, r.path, r.body), 404, "Not found")
	}
	expect(t, bob.do("GET", "/api/auth/me", nil), 200, "")
	expect(t, adminB.do("PATCH", "/api/admin/users/"+bobID, map[string]any{"role": "editor"}), 200, "")
	expect(t, adminB.do("PATCH", "/api/admin/users/"+bobID, map[string]any{"disabled": true}), 200, "")
	expect(t, jsonLogin(newClient(t, a), "bob@example.com", "bob-password"), 401, "Invalid email or password")
	disabled := waitAudit(t, admin, "type=login.failure&user="+bobID, []string{"login.failure"})
	if d, _ := disabled[0]["details"].(map[string]any); d["reason"] != "disabled" {
		t.Errorf("a disabled account's login: %v", disabled[0])
	}
	expect(t, adminB.do("PATCH", "/api/admin/users/"+bobID, map[string]any{"disabled": false}), 200, "")
	expect(t, adminB.do("DELETE", "/api/admin/users/"+bobID, nil), 200, "")
	lifted := waitAudit(t, admin, "type=admin.ban_lifted", []string{"admin.ban_lifted"})
	if d, _ := lifted[0]["details"].(map[string]any); lifted[0]["actorId"] != adminID || d["ban_id"] != id {
		t.Errorf("ban_lifted event %v", lifted[0])
	}
	locked := waitAudit(t, admin, "type=login.lockout", []string{"login.lockout"})
	if d, _ := locked[0]["details"].(map[string]any); d["email"] != "ada@example.com" || d["kind"] != "account" {
		t.Errorf("lockout event %v", locked[0])
	}
	for _, typ := range []string{"role.changed", "admin.user_disabled", "admin.user_enabled", "admin.user_deleted"} {
		ev := waitAudit(t, admin, "type="+typ+"&user="+bobID, []string{typ})
		if ev[0]["actorId"] != adminID || ev[0]["userId"] != bobID {
			t.Errorf("%s event %v", typ, ev[0])
		}
	}
}
