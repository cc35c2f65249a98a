package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// runCLI runs the gateway binary's command line with args and stdin on env and returns
// its stdout, stderr (the log) and error.
func runCLI(t *testing.T, env map[string]string, stdin string, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut strings.Builder
	err := runWithInput(context.Background(), args, func(k string) string { return env[k] }, strings.NewReader(stdin), &out, &errOut)
	if err != nil && strings.Contains(err.Error(), "\n") {
		t.Errorf("%v: a multi-line error: %q", args, err)
	}
	return out.String(), errOut.String(), err
}

func mustCLI(t *testing.T, env map[string]string, stdin string, args ...string) string {
	t.Helper()
	out, log, err := runCLI(t, env, stdin, args...)
	if err != nil {
		t.Fatalf("%v: %v\n%s", args, err, log)
	}
	return out
}

func failCLI(t *testing.T, env map[string]string, stdin, want string, args ...string) {
	t.Helper()
	if _, _, err := runCLI(t, env, stdin, args...); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("%v: %v, want an error with %q", args, err, want)
	}
}

// TestUsersCLI drives every `gateway users` and `gateway sessions` subcommand against
// the real stores while a gateway serves on them: what the commands change reaches the
// serving gateway's very next request (Redis pub/sub from the CLI's process).
func TestUsersCLI(t *testing.T) {
	up := echoUpstream(t)
	env := gatewayEnv(t, fmt.Sprintf("cli_%d", time.Now().UnixNano()))
	env["AUTHGATE_ROUTES"] = `[{"path":"/editors","upstream":"` + up + `","roles":["editor"]},` +
		`{"path":"/echo","upstream":"` + up + `","policy":"authenticated"}]`
	base := startGateway(t, env)
	s := &stack{base: base}
	login := func(email, pw string) string { return s.login(t, newClient(t, base), email, pw) }
	get := func(tok, path string) response {
		return newClient(t, base).do("GET", path, nil, "Authorization", "Bearer "+tok)
	}

	t.Run("create", func(t *testing.T) {
		out, log, err := runCLI(t, env, "op-password-1\n", "users", "create", "--email", " Op@Example.com", "--name", "Op", "--role", "admin")
		if err != nil || !strings.HasPrefix(out, "created user ") || !strings.Contains(out, "op@example.com, role admin") {
			t.Fatalf("create: %q %v\n%s", out, err, log)
		}
		if !strings.Contains(log, `"msg":"admin action"`) || !strings.Contains(log, `"action":"user.create"`) || strings.Contains(log, "op-password-1") {
			t.Errorf("log %s", log)
		}
		mustCLI(t, env, "user-password-1\r\n", "users", "create", "--email", "ed@example.com", "--name", "Ed")
		expect(t, get(login("ed@example.com", "user-password-1"), "/echo"), 200, "")
		failCLI(t, env, "short\n", "password: must be at least 8 characters", "users", "create", "--email", "x@example.com", "--name", "X")
		failCLI(t, env, "", "password: required", "users", "create", "--email", "x@example.com", "--name", "X")
		failCLI(t, env, "user-password-1\n", "email: invalid", "users", "create", "--email", "not-an-email", "--name", "X")
		failCLI(t, env, "user-password-1\n", "role: a letter or digit", "users", "create", "--email", "x@example.com", "--name", "X", "--role", "bad role")
		failCLI(t, env, "user-password-1\n", "exists", "users", "create", "--email", "ED@example.com", "--name", "Ed again")
		failCLI(t, env, "", "unknown flag --password", "users", "create", "--email", "x@example.com", "--name", "X", "--password", "in-argv-1")
	})

	t.Run("list", func(t *testing.T) {
		out := mustCLI(t, env, "", "users", "list")
		if !strings.Contains(out, "op@example.com") || !strings.Contains(out, "ed@example.com") || !strings.Contains(out, "2 users in all") ||
			!strings.HasPrefix(out, "ID ") {
			t.Fatalf("table:\n%s", out)
		}
		var page struct {
			Users []map[string]any
			Page  int
			Limit int
			Total int
		}
		if err := json.Unmarshal([]byte(mustCLI(t, env, "", "users", "list", "--json", "--q", "ED@", "--limit", "5")), &page); err != nil {
			t.Fatal(err)
		}
		if page.Total != 1 || len(page.Users) != 1 || page.Users[0]["email"] != "ed@example.com" || page.Users[0]["disabled"] != false || page.Limit != 5 {
			t.Fatalf("json page %+v", page)
		}
		if out := mustCLI(t, env, "", "users", "list", "--page", "2", "--limit", "1"); !strings.Contains(out, "ed@example.com") || strings.Contains(out, "op@example.com") {
			t.Fatalf("page 2:\n%s", out)
		}
		failCLI(t, env, "", "limit: invalid", "users", "list", "--limit", "101")
		failCLI(t, env, "", "--page and --limit start at 1", "users", "list", "--page", "0")
	})

	t.Run("set-role", func(t *testing.T) {
		tok := login("ed@example.com", "user-password-1")
		expect(t, get(tok, "/editors"), 403, "You are not allowed to perform this action")
		if out := mustCLI(t, env, "", "users", "set-role", "ed@example.com", "editor"); out != "role of ed@example.com is now editor\n" {
			t.Fatalf("set-role: %q", out)
		}
		expect(t, get(tok, "/editors"), 200, "")
		failCLI(t, env, "", "the last admin cannot be demoted", "users", "set-role", "OP@example.com", "user")
		failCLI(t, env, "", "role: required", "users", "set-role", "ed@example.com", "")
		failCLI(t, env, "", `no user "nobody@example.com"`, "users", "set-role", "nobody@example.com", "admin")
	})

	t.Run("disable and enable", func(t *testing.T) {
		tok := login("ed@example.com", "user-password-1")
		id := userID(t, env, "ed@example.com")
		mustCLI(t, env, "", "users", "disable", id) // by id
		expect(t, get(tok, "/echo"), 401, "User session has expired")
		expect(t, newClient(t, base).do("POST", "/api/auth/login", map[string]string{"email": "ed@example.com", "password": "user-password-1"}),
			401, "Invalid email or password")
		failCLI(t, env, "", "the last admin", "users", "disable", "op@example.com")
		mustCLI(t, env, "", "users", "enable", "ed@example.com")
		expect(t, get(login("ed@example.com", "user-password-1"), "/echo"), 200, "")
	})

	t.Run("reset-password", func(t *testing.T) {
		tok := login("ed@example.com", "user-password-1")
		failCLI(t, env, "short\n", "password: must be at least 8 characters", "users", "reset-password", "ed@example.com")
		expect(t, get(tok, "/echo"), 200, "")
		mustCLI(t, env, "new-password-2\n", "users", "reset-password", "ed@example.com")
		expect(t, get(tok, "/echo"), 401, "User session has expired")
		expect(t, newClient(t, base).do("POST", "/api/auth/login", map[string]string{"email": "ed@example.com", "password": "user-password-1"}),
			401, "Invalid email or password")
		expect(t, get(login("ed@example.com", "new-password-2"), "/echo"), 200, "")
	})

	t.Run("sessions", func(t *testing.T) {
		mustCLI(t, env, "", "sessions", "revoke", "ed@example.com", "--all")
		first, second := login("ed@example.com", "new-password-2"), login("ed@example.com", "new-password-2")
		var listed struct{ Sessions []map[string]any }
		if err := json.Unmarshal([]byte(mustCLI(t, env, "", "sessions", "list", "ed@example.com", "--json")), &listed); err != nil {
			t.Fatal(err)
		}
		if len(listed.Sessions) != 2 {
			t.Fatalf("sessions %v", listed.Sessions)
		}
		newest := sidOf(t, second)
		if listed.Sessions[0]["id"] != newest && listed.Sessions[1]["id"] != newest {
			t.Fatalf("sessions %v do not have %s", listed.Sessions, newest)
		}
		if table := mustCLI(t, env, "", "sessions", "list", "ed@example.com"); !strings.Contains(table, newest) || !strings.HasPrefix(table, "ID ") {
			t.Fatalf("table:\n%s", table)
		}
		failCLI(t, env, "", "has no session", "sessions", "revoke", "op@example.com", "--", newest) // another user's session; ids may start with "-"
		failCLI(t, env, "", "name one SESSION_ID or give --all", "sessions", "revoke", "ed@example.com")
		failCLI(t, env, "", "name one SESSION_ID or give --all", "sessions", "revoke", "ed@example.com", "--all", "--", newest)
		expect(t, get(second, "/echo"), 200, "")
		mustCLI(t, env, "", "sessions", "revoke", "ed@example.com", "--", newest)
		expect(t, get(second, "/echo"), 401, "User session has expired")
		expect(t, get(first, "/echo"), 200, "")
		if out := mustCLI(t, env, "", "sessions", "revoke", "ed@example.com", "--all"); out != "1 sessions of ed@example.com ended\n" {
			t.Fatalf("revoke --all: %q", out)
		}
		expect(t, get(first, "/echo"), 401, "User session has expired")
		failCLI(t, env, "", `no user "gone@example.com"`, "sessions", "list", "gone@example.com")
	})
}

// userID looks a user's id up with `users list --json`.
func userID(t *testing.T, env map[string]string, email string) string {
	t.Helper()
	var page struct{ Users []map[string]any }
	if err := json.Unmarshal([]byte(mustCLI(t, env, "", "users", "list", "--json", "--q", email)), &page); err != nil || len(page.Users) != 1 {
		t.Fatalf("users list --q %s: %v %v", email, page.Users, err)
	}
	return page.Users[0]["id"].(string)
}

// sidOf reads the session id out of an access token (its sid claim; no verification:
// the test only names the session).
func sidOf(t *testing.T, token string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", token)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	var claims struct{ Sid string }
	if err != nil || json.Unmarshal(raw, &claims) != nil || claims.Sid == "" {
		t.Fatalf("no sid in %q: %v", token, err)
	}
	return claims.Sid
}
