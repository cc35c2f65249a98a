package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"golang.org/x/crypto/bcrypt"

	"github.com/authgate/authgate/authsvc/storetest"
)

// echoUpstream answers every request with the headers and path it received.
func echoUpstream(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"status": "success", "method": r.Method, "path": r.URL.Path, "query": r.URL.RawQuery, "headers": r.Header,
		})
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// stack is one gateway with upstream-demo and an echo upstream behind it.
type stack struct {
	base  string
	db    *mongo.Database
	admin struct{ email, password string }
}

func startStack(t *testing.T, extra map[string]string) *stack {
	t.Helper()
	db := fmt.Sprintf("e2e_%d", time.Now().UnixNano())
	up := startUpstreamDemo(t, db)
	echo := echoUpstream(t)
	routes, _ := json.Marshal([]map[string]any{
		{"path": "/api/users/me", "match": "exact", "upstream": up, "policy": "authenticated"},
		{"path": "/api/users", "upstream": up, "roles": []string{"admin"}},
		{"path": "/echo/public", "upstream": echo, "policy": "public"},
		{"path": "/echo", "upstream": echo, "policy": "authenticated"},
		{"path": "/down", "upstream": "http://127.0.0.1:1", "policy": "public"},
	})
	env := gatewayEnv(t, db)
	env["AUTHGATE_ROUTES"] = string(routes)
	env["AUTHGATE_TOKENS__REFRESH_GRACE"] = "1s"
	env["AUTHGATE_BOOTSTRAP__ADMIN_EMAIL"] = "Admin@Authgate.test"
	env["AUTHGATE_BOOTSTRAP__ADMIN_PASSWORD"] = "admin-password-1"
	for k, v := range extra {
		env[k] = v
	}
	s := &stack{base: startGateway(t, env)}
	s.admin.email, s.admin.password = "admin@authgate.test", "admin-password-1"
	mc, err := mongo.Connect(options.Client().ApplyURI(storetest.MongoURI(t)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = mc.Database(db).Drop(context.Background())
		_ = mc.Disconnect(context.Background())
	})
	s.db = mc.Database(db)
	return s
}

func (s *stack) register(t testing.TB, c *client, name, email, pw string) response {
	t.Helper()
	return c.do("POST", "/api/auth/register", map[string]string{
		"name": name, "email": email, "password": pw, "passwordConfirm": pw,
	})
}

func (s *stack) login(t testing.TB, c *client, email, pw string) string {
	t.Helper()
	r := c.do("POST", "/api/auth/login", map[string]string{"email": email, "password": pw})
	expect(t, r, 200, "")
	tok, _ := r.Body["access_token"].(string)
	if r.Body["status"] != "success" || tok == "" {
		t.Fatalf("login body %s", r.Raw)
	}
	return tok
}

// TestSeedFlow plays the seed client's whole flow through the gateway and upstream-demo.
func TestSeedFlow(t *testing.T) {
	s := startStack(t, nil)
	c := newClient(t, s.base)

	t.Run("healthChecker", func(t *testing.T) {
		r := c.do("GET", "/api/healthChecker", nil)
		expect(t, r, 200, "Welcome to CodevoWeb😂😂👈👈")
	})

	t.Run("register validation", func(t *testing.T) {
		r := c.do("POST", "/api/auth/register", map[string]string{})
		if r.Status != 400 || r.Body["status"] != "fail" {
			t.Fatalf("got %d %s", r.Status, r.Raw)
		}
		var got []string
		for _, is := range r.Body["error"].([]any) {
			got = append(got, is.(map[string]any)["message"].(string))
		}
		want := "Name is required|Email is required|Password is required|Please confirm your password"
		if strings.Join(got, "|") != want {
			t.Fatalf("messages %q", got)
		}
		r = c.do("POST", "/api/auth/register", map[string]string{
			"name": "A", "email": "a@x.io", "password": "password1", "passwordConfirm": "password2"})
		is := r.Body["error"].([]any)[0].(map[string]any)
		if is["message"] != "Passwords do not match" || fmt.Sprint(is["path"]) != "[body passwordConfirm]" {
			t.Fatalf("mismatch issue %v", is)
		}
		long := strings.Repeat("p", 65)
		for _, tc := range []struct {
			path string
			body map[string]string
			want string
		}{
			{"/api/auth/register", map[string]string{"name": "A", "email": "nope", "password": "password1", "passwordConfirm": "password1"}, "Invalid email"},
			{"/api/auth/register", map[string]string{"name": "A", "email": "a@x.io", "password": "short", "passwordConfirm": "short"}, "Password must be more than 8 characters"},
			{"/api/auth/register", map[string]string{"name": "A", "email": "a@x.io", "password": long, "passwordConfirm": long}, "Password must be less than 64 characters"},
			{"/api/auth/login", map[string]string{"password": "password1"}, "Email is required"},
			{"/api/auth/login", map[string]string{"email": "a@x.io"}, "Password is required"},
			{"/api/auth/login", map[string]string{"email": "a@x.io", "password": "short"}, "Invalid email or password"},
		} {
			r := c.do("POST", tc.path, tc.body)
			issues, _ := r.Body["error"].([]any)
			if r.Status != 400 || r.Body["status"] != "fail" || len(issues) != 1 || issues[0].(map[string]any)["message"] != tc.want {
				t.Errorf("%s %v: %d %s, want 400 %q", tc.path, tc.body, r.Status, r.Raw, tc.want)
			}
		}
	})

	t.Run("malformed JSON and body limit", func(t *testing.T) {
		expect(t, c.do("POST", "/api/auth/register", `{"name":`), 400, "Malformed JSON in request body")
		big := `{"name":"` + strings.Repeat("x", 11*1024) + `"}`
		expect(t, c.do("POST", "/api/auth/register", big), 413, "Request body too large")
	})

	var aliceID string
	t.Run("register", func(t *testing.T) {
		r := s.register(t, c, "Alice", "  Alice@Example.com ", "alice-password")
		expect(t, r, 201, "")
		u := r.Body["data"].(map[string]any)["user"].(map[string]any)
		aliceID, _ = u["id"].(string)
		if u["_id"] != aliceID || len(aliceID) != 24 || u["email"] != "alice@example.com" ||
			u["role"] != "user" || u["photo"] != "default.png" || u["verified"] != true || u["provider"] != "local" {
			t.Fatalf("user %v", u)
		}
		if _, err := time.Parse(time.RFC3339, u["createdAt"].(string)); err != nil {
			t.Fatalf("createdAt: %v", err)
		}
		if strings.Contains(r.Raw, "password") || strings.Contains(r.Raw, "argon2") {
			t.Fatalf("hash leaked: %s", r.Raw)
		}
		expect(t, s.register(t, c, "Alice2", "ALICE@example.COM", "alice-password"), 409, "Email already exist")
	})

	t.Run("login failures are indistinguishable", func(t *testing.T) {
		wrong := c.do("POST", "/api/auth/login", map[string]string{"email": "alice@example.com", "password": "not-her-password"})
		unknown := c.do("POST", "/api/auth/login", map[string]string{"email": "nobody@example.com", "password": "not-her-password"})
		expect(t, wrong, 401, "Invalid email or password")
		expect(t, unknown, 401, "Invalid email or password")
		if wrong.Raw != unknown.Raw || len(wrong.Header.Values("Set-Cookie")) != 0 || len(unknown.Header.Values("Set-Cookie")) != 0 {
			t.Fatalf("answers differ:\n%v %s\n%v %s", wrong.Header, wrong.Raw, unknown.Header, unknown.Raw)
		}
		r := c.do("POST", "/api/auth/login", map[string]string{"email": "nope", "password": "x"})
		if r.Status != 400 || !strings.Contains(r.Raw, "Invalid email or password") {
			t.Fatalf("malformed login: %d %s", r.Status, r.Raw)
		}
	})

	t.Run("only JSON bodies are read (no login from a cross-site form)", func(t *testing.T) {
		r := c.do("POST", "/api/auth/login", `{"email":"alice@example.com","password":"alice-password"}`,
			"Content-Type", "text/plain")
		if r.Status != 400 || !strings.Contains(r.Raw, "Email is required") || len(r.Header.Values("Set-Cookie")) != 0 {
			t.Fatalf("text/plain login: %d %s %v", r.Status, r.Raw, r.Header.Values("Set-Cookie"))
		}
	})

	t.Run("HEAD on read-only routes", func(t *testing.T) {
		for _, p := range []string{"/healthz", "/readyz", "/api/healthChecker"} {
			if r := c.do("HEAD", p, nil); r.Status != 200 || r.Raw != "" {
				t.Errorf("HEAD %s: %d %q", p, r.Status, r.Raw)
			}
		}
	})

	t.Run("not logged in", func(t *testing.T) {
		expect(t, c.do("GET", "/api/users/me", nil), 401, "You are not logged in")
		expect(t, c.do("GET", "/api/auth/me", nil), 401, "You are not logged in")
		expect(t, c.do("GET", "/api/users/me", nil, "Authorization", "Bearer garbage"), 401, "Invalid token or user doesn't exist")
	})

	var access string
	t.Run("login sets the seed's cookies", func(t *testing.T) {
		r := c.do("POST", "/api/auth/login", map[string]string{"email": "ALICE@example.com", "password": "alice-password"})
		expect(t, r, 200, "")
		access, _ = r.Body["access_token"].(string)
		cks := setCookies(t, r)
		for name, want := range map[string]struct {
			httpOnly bool
			maxAge   int
		}{"access_token": {true, 900}, "refresh_token": {true, 3540}, "logged_in": {false, 900}} {
			ck := cks[name]
			if ck == nil {
				t.Fatalf("no %s cookie", name)
			}
			if ck.HttpOnly != want.httpOnly || ck.MaxAge != want.maxAge || ck.Path != "/" ||
				ck.SameSite != http.SameSiteLaxMode || ck.Secure || len(ck.String()) >= 4096 {
				t.Errorf("%s cookie: %+v", name, ck)
			}
		}
		if cks["access_token"].Value != access || cks["logged_in"].Value != "true" {
			t.Fatalf("cookie values %v", cks)
		}
	})

	t.Run("me through the proxy and the gateway", func(t *testing.T) {
		viaProxy := c.do("GET", "/api/users/me", nil)
		expect(t, viaProxy, 200, "")
		viaGateway := c.do("GET", "/api/auth/me", nil)
		expect(t, viaGateway, 200, "")
		if viaProxy.Raw != viaGateway.Raw {
			t.Fatalf("bodies differ:\n%s\n%s", viaProxy.Raw, viaGateway.Raw)
		}
		u := viaProxy.Body["data"].(map[string]any)["user"].(map[string]any)
		if u["id"] != aliceID || strings.Contains(viaProxy.Raw, "password") {
			t.Fatalf("me: %s", viaProxy.Raw)
		}
		bearer := newClient(t, s.base).do("GET", "/api/users/me", nil, "Authorization", "Bearer "+access)
		expect(t, bearer, 200, "")
	})

	t.Run("refresh token is not an access token", func(t *testing.T) {
		rt := cookieValue(t, c, "refresh_token")
		expect(t, newClient(t, s.base).do("GET", "/api/users/me", nil, "Authorization", "Bearer "+rt), 401, "Invalid token or user doesn't exist")
	})

	t.Run("admin only", func(t *testing.T) {
		expect(t, c.do("GET", "/api/users", nil), 403, "You are not allowed to perform this action")
		expect(t, c.do("GET", "/api/users", nil, "X-User-Role", "admin"), 403, "You are not allowed to perform this action")
		admin := newClient(t, s.base)
		s.login(t, admin, s.admin.email, s.admin.password)
		r := admin.do("GET", "/api/users", nil)
		expect(t, r, 200, "")
		users := r.Body["data"].(map[string]any)["users"].([]any)
		if int(r.Body["result"].(float64)) != len(users) || len(users) != 2 || strings.Contains(r.Raw, "password") {
			t.Fatalf("users: %s", r.Raw)
		}
	})

	t.Run("spoofed identity headers never reach the upstream", func(t *testing.T) {
		spoof := []string{"X-User-Id", "000000000000000000000000", "x_user_role", "admin",
			"X-Forwarded-User", "root", "Remote-User", "root", "X-Auth-Request-Email", "root@x",
			"Connection", "close, X-User-Id"}
		r := c.do("GET", "/echo/public/x?q=1", nil, spoof...)
		expect(t, r, 200, "")
		h := r.Body["headers"].(map[string]any)
		for k := range h {
			if k == "X-User-Id" || k == "X-User-Role" || k == "X_user_role" || k == "X-Forwarded-User" || k == "Remote-User" || k == "X-Auth-Request-Email" {
				t.Fatalf("public route forwarded %s: %s", k, r.Raw)
			}
		}
		r = c.do("GET", "/echo/private", nil, spoof...)
		expect(t, r, 200, "")
		h = r.Body["headers"].(map[string]any)
		if fmt.Sprint(h["X-User-Id"]) != "["+aliceID+"]" || fmt.Sprint(h["X-User-Role"]) != "[user]" {
			t.Fatalf("identity headers %v", h)
		}
		if h["Authorization"] != nil || strings.Contains(fmt.Sprint(h["Cookie"]), "access_token") {
			t.Fatalf("credentials forwarded: %v", h)
		}
		if h["X-Request-Id"] == nil {
			t.Fatalf("no X-Request-Id: %v", h)
		}
		me := c.do("GET", "/api/users/me", nil, spoof...)
		if me.Body["data"].(map[string]any)["user"].(map[string]any)["id"] != aliceID {
			t.Fatalf("spoofed id reached upstream-demo: %s", me.Raw)
		}
	})

	t.Run("every method a route may take is proxied", func(t *testing.T) {
		for _, m := range []string{"PROPFIND", "MKCOL", "LOCK", "PURGE"} {
			r := c.do(m, "/echo/dav/x", nil)
			expect(t, r, 200, "")
			if r.Body["method"] != m {
				t.Fatalf("%s arrived as %v", m, r.Body["method"])
			}
		}
		expect(t, c.do("MKCOL", "/api/nope", nil), 404, "Route /api/nope not found")
	})

	t.Run("unknown route, bad path, upstream down", func(t *testing.T) {
		expect(t, c.do("GET", "/api/nope?x=1", nil), 404, "Route /api/nope?x=1 not found")
		expect(t, c.do("GET", "/echo/public/..%2f..%2fapi/users", nil), 400, "Invalid request path")
		expect(t, c.do("GET", "/down", nil), 502, "Upstream service unavailable")
	})

	t.Run("refresh rotates; replay within grace keeps the session", func(t *testing.T) {
		old := cookieValue(t, c, "refresh_token")
		r := c.do("GET", "/api/auth/refresh", nil)
		expect(t, r, 200, "")
		cks := setCookies(t, r)
		if cks["refresh_token"] == nil || cks["refresh_token"].Value == old || cks["access_token"] == nil || cks["logged_in"] == nil {
			t.Fatalf("refresh cookies %v", cks)
		}
		if r.Body["access_token"] != cks["access_token"].Value {
			t.Fatalf("body token differs from cookie")
		}
		other := newClient(t, s.base)
		r = other.do("GET", "/api/auth/refresh", nil, "Cookie", "refresh_token="+old)
		expect(t, r, 200, "")
		if setCookies(t, r)["refresh_token"] != nil {
			t.Fatalf("grace replay got a new refresh token")
		}
		expect(t, c.do("GET", "/api/users/me", nil), 200, "")
	})

	t.Run("replay after grace revokes the whole session", func(t *testing.T) {
		old := cookieValue(t, c, "refresh_token")
		expect(t, c.do("GET", "/api/auth/refresh", nil), 200, "")
		time.Sleep(1100 * time.Millisecond)
		thief := newClient(t, s.base)
		expect(t, thief.do("GET", "/api/auth/refresh", nil, "Cookie", "refresh_token="+old), 403, "Could not refresh access token")
		expect(t, c.do("GET", "/api/users/me", nil), 401, "User session has expired")
		expect(t, c.do("GET", "/api/auth/refresh", nil), 403, "Could not refresh access token")
	})

	t.Run("concurrent refreshes rotate exactly once", func(t *testing.T) {
		s.login(t, c, "alice@example.com", "alice-password")
		rt := cookieValue(t, c, "refresh_token")
		const n = 8
		var wg sync.WaitGroup
		results := make([]response, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i] = newClient(t, s.base).do("GET", "/api/auth/refresh", nil, "Cookie", "refresh_token="+rt)
			}()
		}
		wg.Wait()
		rotated := 0
		for _, r := range results {
			expect(t, r, 200, "")
			if setCookies(t, r)["refresh_token"] != nil {
				rotated++
			}
		}
		if rotated != 1 {
			t.Fatalf("%d of %d refreshes rotated, want exactly 1", rotated, n)
		}
	})

	t.Run("logout clears cookies and revokes; idempotent", func(t *testing.T) {
		s.login(t, c, "alice@example.com", "alice-password")
		tok := cookieValue(t, c, "access_token")
		r := c.do("POST", "/api/auth/logout", nil)
		expect(t, r, 200, "")
		if r.Body["status"] != "success" {
			t.Fatalf("logout body %s", r.Raw)
		}
		cks := setCookies(t, r)
		for _, name := range []string{"access_token", "refresh_token", "logged_in"} {
			if ck := cks[name]; ck == nil || ck.MaxAge >= 0 || ck.Path != "/" || !strings.Contains(ck.Raw+ck.String(), "Max-Age=0") {
				t.Fatalf("%s not cleared: %v", name, r.Header.Values("Set-Cookie"))
			}
		}
		expect(t, newClient(t, s.base).do("GET", "/api/users/me", nil, "Authorization", "Bearer "+tok), 401, "User session has expired")
		expect(t, c.do("GET", "/api/auth/logout", nil), 200, "")
	})

	t.Run("deleted user cannot refresh", func(t *testing.T) {
		b := newClient(t, s.base)
		expect(t, s.register(t, b, "Bob", "bob@example.com", "bob-password"), 201, "")
		s.login(t, b, "bob@example.com", "bob-password")
		if _, err := s.db.Collection("users").DeleteOne(context.Background(), bson.M{"email": "bob@example.com"}); err != nil {
			t.Fatal(err)
		}
		expect(t, b.do("GET", "/api/auth/refresh", nil), 403, "Could not refresh access token")
		// The gateway itself (not upstream-demo) must now refuse the session.
		expect(t, b.do("GET", "/echo/private", nil), 401, "User session has expired")
	})

	t.Run("seed bcrypt hash verifies and is upgraded to argon2id", func(t *testing.T) {
		hash, err := bcrypt.GenerateFromPassword([]byte("legacy-password"), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC()
		_, err = s.db.Collection("users").InsertOne(context.Background(), bson.M{
			"name": "Legacy", "email": "legacy@example.com", "password": string(hash), "role": "user",
			"photo": "default.png", "verified": true, "provider": "local", "createdAt": now, "updatedAt": now,
		})
		if err != nil {
			t.Fatal(err)
		}
		s.login(t, newClient(t, s.base), "legacy@example.com", "legacy-password")
		var doc bson.M
		if err := s.db.Collection("users").FindOne(context.Background(), bson.M{"email": "legacy@example.com"}).Decode(&doc); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(doc["password"].(string), "$argon2id$") {
			t.Fatalf("hash not upgraded: %.12s", doc["password"])
		}
	})

	t.Run("health", func(t *testing.T) {
		expect(t, c.do("GET", "/healthz", nil), 200, "")
		r := c.do("GET", "/readyz", nil)
		expect(t, r, 200, "")
		if fmt.Sprint(r.Body["checks"]) != "map[mongodb:ok redis:ok]" {
			t.Fatalf("readyz %s", r.Raw)
		}
	})

	t.Run("CORS allows only configured origins", func(t *testing.T) {
		pre := func(origin string) response {
			return c.do("OPTIONS", "/api/auth/login", nil, "Origin", origin, "Access-Control-Request-Method", "POST")
		}
		r := pre("http://localhost:3000")
		if r.Header.Get("Access-Control-Allow-Origin") != "http://localhost:3000" || r.Header.Get("Access-Control-Allow-Credentials") != "true" {
			t.Fatalf("allowed origin: %v", r.Header)
		}
		if r := pre("https://evil.example"); r.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("foreign origin reflected: %v", r.Header)
		}
	})
}

// cookieValue returns the value of a cookie in c's jar for the gateway.
func cookieValue(t *testing.T, c *client, name string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", c.base+"/", nil)
	for _, ck := range c.http.Jar.Cookies(req.URL) {
		if ck.Name == name {
			return ck.Value
		}
	}
	t.Fatalf("no %s cookie in jar", name)
	return ""
}

// TestLogoutWithExpiredAccessToken: the refresh cookie alone identifies the session.
func TestLogoutWithExpiredAccessToken(t *testing.T) {
	s := startStack(t, map[string]string{"AUTHGATE_TOKENS__ACCESS_TTL": "1s"})
	c := newClient(t, s.base)
	expect(t, s.register(t, c, "Carol", "carol@example.com", "carol-password"), 201, "")
	tok := s.login(t, c, "carol@example.com", "carol-password")
	rt := cookieValue(t, c, "refresh_token")
	time.Sleep(1200 * time.Millisecond)
	expect(t, newClient(t, s.base).do("GET", "/api/users/me", nil, "Authorization", "Bearer "+tok), 401, "Invalid token or user doesn't exist")
	r := newClient(t, s.base).do("GET", "/api/auth/logout", nil,
		"Authorization", "Bearer "+tok, "Cookie", "refresh_token="+rt)
	expect(t, r, 200, "")
	if len(setCookies(t, r)) != 3 {
		t.Fatalf("cookies not cleared: %v", r.Header.Values("Set-Cookie"))
	}
	expect(t, newClient(t, s.base).do("GET", "/api/auth/refresh", nil, "Cookie", "refresh_token="+rt), 403, "Could not refresh access token")
}
