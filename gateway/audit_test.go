package main

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/authgate/authgate/authsvc/storetest"
)

// auditPage is GET /api/admin/audit with query as the admin c.
func auditPage(t *testing.T, c *client, query string) (events []map[string]any, data map[string]any) {
	t.Helper()
	r := c.do("GET", "/api/admin/audit?"+query, nil)
	expect(t, r, 200, "")
	data, _ = r.Body["data"].(map[string]any)
	list, ok := data["events"].([]any)
	if r.Body["status"] != "success" || !ok {
		t.Fatalf("audit body %s", r.Raw)
	}
	for _, e := range list {
		events = append(events, e.(map[string]any))
	}
	return events, data
}

func typesOf(events []map[string]any) []string {
	var out []string
	for _, e := range events {
		out = append(out, e["type"].(string))
	}
	return out
}

// waitAudit polls until the query's event types are want (the writer is asynchronous).
func waitAudit(t *testing.T, c *client, query string, want []string) []map[string]any {
	t.Helper()
	var events []map[string]any
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(25 * time.Millisecond) {
		events, _ = auditPage(t, c, query)
		if slices.Equal(typesOf(events), want) {
			return events
		}
		if time.Now().After(deadline) {
			t.Fatalf("audit ?%s: %v, want %v", query, typesOf(events), want)
		}
	}
}

// TestAuditLog: the security events of a user's session show in GET /api/admin/audit,
// newest first, with actor, client address and agent, paged and filtered by type and
// user; nothing secret is in them; only admins read them.
func TestAuditLog(t *testing.T) {
	s := startStack(t, nil) // refresh grace 1s
	admin := newClient(t, s.base)
	s.login(t, admin, s.admin.email, s.admin.password)
	alice := newClient(t, s.base)
	reg := s.register(t, alice, "Alice", "alice@example.com", "alice-password")
	expect(t, reg, 201, "")
	aliceID := reg.Body["data"].(map[string]any)["user"].(map[string]any)["id"].(string)

	expect(t, alice.do("POST", "/api/auth/login", map[string]string{"email": "Alice@example.com", "password": "wrong-password"},
		"User-Agent", "tester"), 401, "Invalid email or password")
	s.login(t, alice, "alice@example.com", "alice-password")
	other := newClient(t, s.base)
	s.login(t, other, "alice@example.com", "alice-password")
	otherSID := currentSession(t, mySessions(t, other))
	expect(t, alice.do("DELETE", "/api/auth/sessions/"+otherSID, nil, "User-Agent", "tester"), 200, "")
	// Refresh-token reuse: the token rotated away, presented after the grace window.
	old := cookieValue(t, alice, "refresh_token")
	expect(t, alice.do("GET", "/api/auth/refresh", nil), 200, "")
	time.Sleep(1100 * time.Millisecond)
	expect(t, newClient(t, s.base).do("GET", "/api/auth/refresh", nil, "Cookie", "refresh_token="+old), 403, "Could not refresh access token")
	s.login(t, alice, "alice@example.com", "alice-password")
	expect(t, alice.do("POST", "/api/auth/password", map[string]string{
		"currentPassword": "alice-wrong", "password": "alice-new-password", "passwordConfirm": "alice-new-password"}), 403, "")
	expect(t, alice.do("POST", "/api/auth/password", map[string]string{
		"currentPassword": "alice-password", "password": "alice-new-password", "passwordConfirm": "alice-new-password"}), 200, "")
	expect(t, alice.do("POST", "/api/auth/logout-all", nil), 200, "")
	s.login(t, alice, "alice@example.com", "alice-new-password")
	expect(t, alice.do("POST", "/api/auth/logout", nil), 200, "")

	want := []string{"session.logout", "session.revoked_all", "password.changed", "password.change_fail", "refresh.reuse", "session.revoked", "login.failure"}
	events := waitAudit(t, admin, "user="+aliceID, want)

	t.Run("fields", func(t *testing.T) {
		rev := events[5]
		if rev["userId"] != aliceID || rev["actorId"] != aliceID || rev["sessionId"] != otherSID || rev["ip"] != "127.0.0.1" ||
			rev["userAgent"] != "tester" || len(rev["id"].(string)) != 24 {
			t.Errorf("session.revoked %v", rev)
		}
		at, err := time.Parse("2006-01-02T15:04:05.000Z07:00", rev["time"].(string))
		if err != nil || time.Since(at) > time.Minute {
			t.Errorf("time %v %v", rev["time"], err)
		}
		if d := events[2]["details"].(map[string]any); d["sessions_revoked"] != float64(0) {
			t.Errorf("password.changed details %v", d)
		}
		if d := events[1]["details"].(map[string]any); d["sessions"] != float64(1) || d["reason"] != "logout_all" {
			t.Errorf("session.revoked_all details %v", d)
		}
		if events[4]["userId"] != aliceID || events[4]["actorId"] != "" { // the replayer is nobody we know
			t.Errorf("refresh.reuse %v", events[4])
		}
		fails, _ := auditPage(t, admin, "type=login.failure")
		if len(fails) != 1 || fails[0]["details"].(map[string]any)["email"] != "alice@example.com" ||
			fails[0]["details"].(map[string]any)["reason"] != "invalid_credentials" || fails[0]["userAgent"] != "tester" ||
			fails[0]["userId"] != aliceID {
			t.Errorf("login.failure %v", fails)
		}
		all := admin.do("GET", "/api/admin/audit?limit=100", nil)
		for _, secret := range []string{"alice-password", "alice-new-password", "wrong-password", "alice-wrong", old, "eyJ"} {
			if strings.Contains(all.Raw, secret) {
				t.Errorf("the audit log holds %q", secret)
			}
		}
	})

	t.Run("paging and filters", func(t *testing.T) {
		p1, d1 := auditPage(t, admin, "user="+aliceID+"&limit=4")
		p2, d2 := auditPage(t, admin, "user="+aliceID+"&limit=4&page=2")
		if !slices.Equal(append(typesOf(p1), typesOf(p2)...), want) || d1["total"] != float64(7) || d1["page"] != float64(1) ||
			d1["limit"] != float64(4) || d2["page"] != float64(2) || d2["total"] != float64(7) {
			t.Errorf("pages %v %v / %v %v", typesOf(p1), d1, typesOf(p2), d2)
		}
		if p3, _ := auditPage(t, admin, "user="+aliceID+"&limit=4&page=3"); len(p3) != 0 {
			t.Errorf("page 3 %v", typesOf(p3))
		}
		revoked, d := auditPage(t, admin, "type=session.revoked")
		if !slices.Equal(typesOf(revoked), []string{"session.revoked"}) || d["total"] != float64(1) {
			t.Errorf("type filter %v", typesOf(revoked))
		}
		if none, _ := auditPage(t, admin, "type=session.revoked&user=000000000000000000000000"); len(none) != 0 {
			t.Errorf("both filters %v", none)
		}
		r := admin.do("GET", "/api/admin/audit?page=0&limit=x&type=Not+A+Type&user=nope", nil)
		var paths []string
		for _, is := range r.Body["error"].([]any) {
			paths = append(paths, fmt.Sprint(is.(map[string]any)["path"]))
		}
		if r.Status != 400 || !slices.Equal(paths, []string{"[query page]", "[query limit]", "[query type]", "[query user]"}) {
			t.Errorf("bad query: %d %s", r.Status, r.Raw)
		}
		expect(t, admin.do("GET", "/api/admin/audit?limit=101", nil), 400, "")
	})

	t.Run("admins only", func(t *testing.T) {
		user := newClient(t, s.base)
		s.login(t, user, "alice@example.com", "alice-new-password")
		expect(t, user.do("GET", "/api/admin/audit", nil), 403, "You are not allowed to perform this action")
		expect(t, newClient(t, s.base).do("GET", "/api/admin/audit", nil), 401, "You are not logged in")
		expect(t, newClient(t, s.base).do("GET", "/api/admin/audit", nil, "Authorization", "Bearer x.y.z"), 401,
			"Invalid token or user doesn't exist")
		expect(t, user.do("GET", "/api/admin/nope", nil), 403, "You are not allowed to perform this action")
		expect(t, admin.do("GET", "/api/admin/nope", nil), 404, "Route /api/admin/nope not found")
	})
}

// TestAuditRetention: with a retention of 2s, an event is read while it lasts, then no
// longer returned, and the periodic cleanup deletes the documents (FerretDB has no TTL
// index: the app-side expiry does it all); an expired document never shows.
func TestAuditRetention(t *testing.T) {
	s := startStack(t, map[string]string{"AUTHGATE_AUDIT__RETENTION": "2s", "AUTHGATE_AUDIT__CLEANUP_INTERVAL": "300ms"})
	admin := newClient(t, s.base)
	s.login(t, admin, s.admin.email, s.admin.password)
	coll := s.db.Collection("audit_events")
	now := time.Now().UTC()
	if _, err := coll.InsertOne(t.Context(), bson.D{{Key: "_id", Value: bson.NewObjectID()}, {Key: "time", Value: now.Add(-time.Hour)},
		{Key: "type", Value: "test.expired"}, {Key: "expiresAt", Value: now.Add(-time.Second)}}); err != nil {
		t.Fatal(err)
	}
	if events, _ := auditPage(t, admin, "type=test.expired"); len(events) != 0 {
		t.Fatalf("an expired event was returned: %v", events)
	}
	expect(t, newClient(t, s.base).do("POST", "/api/auth/login",
		map[string]string{"email": "nobody@example.com", "password": "nobody-password"}), 401, "")
	waitAudit(t, admin, "", []string{"login.failure"})
	var doc struct {
		Time, ExpiresAt time.Time
	}
	if err := coll.FindOne(t.Context(), bson.D{{Key: "type", Value: "login.failure"}}).Decode(&doc); err != nil ||
		doc.ExpiresAt.Sub(doc.Time) != 2*time.Second {
		t.Fatalf("stored %+v %v", doc, err)
	}
	waitAudit(t, admin, "", nil) // expired: no longer read
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		n, err := coll.CountDocuments(context.Background(), bson.D{})
		if err == nil && n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d audit documents left after expiry (%v)", n, err)
		}
	}
}

// TestAuditMongoDown: with MongoDB gone, requests that record audit events answer as
// fast as ever; the events are still logged, and those not stored are dropped, counted
// and logged.
func TestAuditMongoDown(t *testing.T) {
	u, err := url.Parse(storetest.MongoURI(t))
	if err != nil {
		t.Fatal(err)
	}
	link := newCutter(t, u.Host)
	up := echoUpstream(t)
	env := gatewayEnv(t, fmt.Sprintf("auditdown_%d", time.Now().UnixNano()))
	env["AUTHGATE_MONGODB__URI"] = "mongodb://" + link.ln.Addr().String() + "/"
	env["AUTHGATE_MONGODB__TIMEOUT"] = "500ms"
	env["AUTHGATE_ROUTES"] = `[{"path":"/echo","upstream":"` + up + `","policy":"authenticated"}]`
	ctx, cancel := context.WithCancel(context.Background())
	out := newAddrWriter()
	errc := make(chan error, 1)
	go func() { errc <- run(ctx, nil, func(k string) string { return env[k] }, out, out) }()
	base := "http://" + out.wait(t, errc)
	defer func() {
		cancel()
		select {
		case err := <-errc:
			if err != nil {
				t.Errorf("run returned %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("gateway did not stop within 30s")
		}
	}()
	s := &stack{base: base}
	c := newClient(t, base)
	expect(t, s.register(t, c, "Ivy", "ivy@example.com", "ivy-password"), 201, "")
	var clients []*client
	for range 4 {
		cl := newClient(t, base)
		s.login(t, cl, "ivy@example.com", "ivy-password")
		clients = append(clients, cl)
	}
	sid := currentSession(t, mySessions(t, clients[1]))

	link.cut()
	for _, step := range []struct {
		name string
		do   func() response
	}{
		{"revoke a session", func() response { return clients[0].do("DELETE", "/api/auth/sessions/"+sid, nil) }},
		{"logout", func() response { return clients[2].do("POST", "/api/auth/logout", nil) }},
		{"logout everywhere", func() response { return clients[0].do("POST", "/api/auth/logout-all", nil) }},
	} {
		start := time.Now()
		expect(t, step.do(), 200, "")
		if d := time.Since(start); d > 300*time.Millisecond {
			t.Errorf("%s took %v with MongoDB down", step.name, d)
		}
	}
	expect(t, clients[3].do("GET", "/echo", nil), 401, "User session has expired")
	out.waitFor(t, `"msg":"audit","type":"session.revoked_all"`)
	out.waitFor(t, `"msg":"audit events dropped"`)
	out.waitFor(t, `"dropped_total":`)
}
