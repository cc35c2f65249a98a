package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/authgate/authgate/authsvc/storetest"
	"github.com/authgate/authgate/gateway/internal/mail/mailtest"
)

// The seed's answers (README "Email verification and password reset").
const (
	msgVerificationSent = "An email with a verification code has been sent to your email"
	msgMailFailed       = "There was an error sending email, please try again"
	msgNotVerified      = "You are not verified, check your email to verify your account"
	msgVerified         = "Email verified successfully"
	msgVerifyFailed     = "Could not verify email"
	msgForgot           = "You will receive a password reset email if user with that email exist"
	msgReset            = "Password data successfully updated, please login with your new credentials"
	msgTokenInvalid     = "Token is invalid or has expired"
	subjectReset        = "Your password reset token (valid for only 10 minutes)"
	publicURL           = "https://app.example.test"
)

// mailStack is a gateway sending mail through an in-process SMTP server (no TLS,
// security none on loopback, with SMTP AUTH), an echo upstream behind /echo, its log, and
// its database.
type mailStack struct {
	*stack
	smtp *mailtest.Server
	logs *addrWriter
}

func startMailStack(t *testing.T, verify bool, extra map[string]string) *mailStack {
	t.Helper()
	srv := mailtest.Start(t, mailtest.Options{Username: "gateway", Password: "smtp-password-1"})
	db := fmt.Sprintf("mail_%d", time.Now().UnixNano())
	env := gatewayEnv(t, db)
	routes, _ := json.Marshal([]map[string]any{{"path": "/echo", "upstream": echoUpstream(t), "policy": "authenticated"}})
	env["AUTHGATE_ROUTES"] = string(routes)
	for k, v := range map[string]string{
		"AUTHGATE_EMAIL__VERIFICATION_REQUIRED": strconv.FormatBool(verify),
		"AUTHGATE_EMAIL__PUBLIC_URL":            publicURL,
		"AUTHGATE_EMAIL__FROM":                  "authgate <no-reply@authgate.test>",
		"AUTHGATE_EMAIL__SMTP__HOST":            srv.Host,
		"AUTHGATE_EMAIL__SMTP__PORT":            strconv.Itoa(srv.Port),
		"AUTHGATE_EMAIL__SMTP__SECURITY":        "none",
		"AUTHGATE_EMAIL__SMTP__USERNAME":        "gateway",
		"AUTHGATE_EMAIL__SMTP__PASSWORD":        "smtp-password-1",
		"AUTHGATE_EMAIL__SMTP__TIMEOUT":         "5s",
	} {
		env[k] = v
	}
	for k, v := range extra {
		env[k] = v
	}
	base, logs := startGatewayLogged(t, env)
	mc, err := mongo.Connect(options.Client().ApplyURI(storetest.MongoURI(t)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mc.Disconnect(context.Background()) })
	return &mailStack{stack: &stack{base: base, db: mc.Database(db)}, smtp: srv, logs: logs}
}

// startGatewayLogged is startGateway that also returns the gateway's log.
func startGatewayLogged(t *testing.T, env map[string]string) (string, *addrWriter) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := newAddrWriter()
	errc := make(chan error, 1)
	go func() { errc <- run(ctx, nil, func(k string) string { return env[k] }, out, out) }()
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
	return "http://" + addr, out
}

// linkCode reads the code of <public_url>/<page>/<code> out of a received mail's text
// body, and checks that the HTML body links to the same address.
func linkCode(t *testing.T, m mailtest.Message, page string) string {
	t.Helper()
	re := regexp.MustCompile(regexp.QuoteMeta(publicURL+"/"+page+"/") + `([0-9a-f]{64})\b`)
	sub := re.FindStringSubmatch(m.Text)
	if sub == nil {
		t.Fatalf("no %s link in the text body:\n%s", page, m.Text)
	}
	if !strings.Contains(m.HTML, `href="`+sub[0]+`"`) {
		t.Fatalf("the HTML body does not link to %s:\n%s", sub[0], m.HTML)
	}
	return sub[1]
}

// expectBody fails unless r is exactly the seed's {"status":…,"message":…}.
func expectBody(t *testing.T, r response, status int, msg string) {
	t.Helper()
	expect(t, r, status, msg)
	if len(r.Body) != 2 {
		t.Fatalf("body has more than status and message: %s", r.Raw)
	}
}

func randomHex(t *testing.T) string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// register registers and, when verification is on, reads the code from the mail.
func (s *mailStack) registerVerify(t *testing.T, c *client, name, email, pw string) string {
	t.Helper()
	r := s.register(t, c, name, email, pw)
	expectBody(t, r, 201, msgVerificationSent)
	m := s.smtp.Next(t)
	if len(m.To) != 1 || m.To[0] != email || m.Subject != "Your account verification code" {
		t.Fatalf("verification mail to %v, subject %q", m.To, m.Subject)
	}
	return linkCode(t, m, "verifyemail")
}

// user is the stored document of email.
func (s *mailStack) user(t *testing.T, email string) bson.M {
	t.Helper()
	var doc bson.M
	if err := s.db.Collection("users").FindOne(context.Background(), bson.M{"email": email}).Decode(&doc); err != nil {
		t.Fatalf("user %s: %v", email, err)
	}
	return doc
}

// expire moves a stored code's expiry into the past, as time passing would.
func (s *mailStack) expire(t *testing.T, email, field string) {
	t.Helper()
	res, err := s.db.Collection("users").UpdateOne(context.Background(), bson.M{"email": email},
		bson.M{"$set": bson.M{field: time.Now().Add(-time.Second).UTC()}})
	if err != nil || res.MatchedCount != 1 {
		t.Fatalf("expire %s of %s: %v %+v", field, email, err, res)
	}
}

// TestEmailVerification (SECURITY.md E1, E4): with verification required, registration
// mails a link instead of answering the user; logging in before following it is the
// seed's 401 (and "Invalid email or password" with a wrong password); the code works
// once and not after it expires; the code never reaches the log.
func TestEmailVerification(t *testing.T) {
	s := startMailStack(t, true, nil)
	c := newClient(t, s.base)

	r := s.register(t, c, "Vera <b>V</b>", "Vera@Example.com", "vera-password")
	expectBody(t, r, 201, msgVerificationSent)
	if len(r.Header.Values("Set-Cookie")) != 0 {
		t.Fatalf("register set cookies: %v", r.Header.Values("Set-Cookie"))
	}
	m := s.smtp.Next(t)
	if len(m.To) != 1 || m.To[0] != "vera@example.com" || m.Subject != "Your account verification code" ||
		m.From != "no-reply@authgate.test" {
		t.Fatalf("mail from %q to %v, subject %q", m.From, m.To, m.Subject)
	}
	if !strings.Contains(m.HTML, "Vera &lt;b&gt;V&lt;/b&gt;") || !strings.Contains(m.Text, "Hi Vera <b>V</b>,") {
		t.Fatalf("name in the bodies:\n%s\n%s", m.Text, m.HTML)
	}
	code := linkCode(t, m, "verifyemail")
	doc := s.user(t, "vera@example.com")
	if doc["verified"] != false || doc["verificationCode"] == code || len(fmt.Sprint(doc["verificationCode"])) != 64 {
		t.Fatalf("stored user %v", doc)
	}

	login := map[string]string{"email": "vera@example.com", "password": "vera-password"}
	expect(t, c.do("POST", "/api/auth/login", login), 401, msgNotVerified)
	expect(t, c.do("POST", "/api/auth/login", map[string]string{"email": "vera@example.com", "password": "wrong-password"}),
		401, "Invalid email or password")
	expectPage(t, postForm(newBrowser(t, s.base), "/login", credentials("vera@example.com", "vera-password", "")), 401, msgNotVerified)

	for _, bad := range []string{randomHex(t), "short", strings.ToUpper(code)} {
		expectBody(t, c.do("GET", "/api/auth/verifyemail/"+bad, nil), 401, msgVerifyFailed)
	}
	r = c.do("GET", "/api/auth/verifyemail/"+code, nil)
	expectBody(t, r, 200, msgVerified)
	if r.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q", r.Header.Get("Cache-Control"))
	}
	expectBody(t, c.do("GET", "/api/auth/verifyemail/"+code, nil), 401, msgVerifyFailed)
	s.login(t, c, "vera@example.com", "vera-password")
	if me := c.do("GET", "/api/auth/me", nil); me.Status != 200 || !strings.Contains(me.Raw, `"verified":true`) {
		t.Fatalf("me: %s", me.Raw)
	}

	// An expired code does not verify.
	late := s.registerVerify(t, c, "Late", "late@example.com", "late-password")
	s.expire(t, "late@example.com", "verificationExpiresAt")
	expectBody(t, c.do("GET", "/api/auth/verifyemail/"+late, nil), 401, msgVerifyFailed)
	expect(t, c.do("POST", "/api/auth/login", map[string]string{"email": "late@example.com", "password": "late-password"}), 401, msgNotVerified)

	// The access log has the route, never the code (SECURITY.md C2, E4).
	s.logs.syncLog(t, s.base)
	logs := s.logs.String()
	if strings.Contains(logs, code) || strings.Contains(logs, late) {
		t.Fatalf("a verification code is in the gateway's log:\n%s", logs)
	}
	if !strings.Contains(logs, `"path":"/api/auth/verifyemail/:verificationCode"`) {
		t.Fatalf("the access log does not name the route:\n%s", logs)
	}
}

// TestRegisterMailFailure: when the verification mail cannot be sent (the server refuses
// it, or no server listens) registration answers the seed's 500 and keeps no account, so
// registering again works once mail goes through.
func TestRegisterMailFailure(t *testing.T) {
	t.Run("server refuses", func(t *testing.T) {
		s := startMailStack(t, true, nil)
		c := newClient(t, s.base)
		s.smtp.Reject(true)
		expectBody(t, s.register(t, c, "Rhea", "rhea@example.com", "rhea-password"), 500, msgMailFailed)
		if n, _ := s.db.Collection("users").CountDocuments(context.Background(), bson.M{"email": "rhea@example.com"}); n != 0 {
			t.Fatalf("%d accounts kept after the failed mail", n)
		}
		s.smtp.Reject(false)
		code := s.registerVerify(t, c, "Rhea", "rhea@example.com", "rhea-password")
		expectBody(t, c.do("GET", "/api/auth/verifyemail/"+code, nil), 200, msgVerified)
		s.login(t, c, "rhea@example.com", "rhea-password")
	})
	t.Run("server down", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		_ = ln.Close() // nothing listens there now
		s := startMailStack(t, true, map[string]string{"AUTHGATE_EMAIL__SMTP__PORT": strconv.Itoa(port)})
		c := newClient(t, s.base)
		expectBody(t, s.register(t, c, "Dora", "dora@example.com", "dora-password"), 500, msgMailFailed)
		expectBody(t, s.register(t, c, "Dora", "dora@example.com", "dora-password"), 500, msgMailFailed) // not 409
		if n, _ := s.db.Collection("users").CountDocuments(context.Background(), bson.M{}); n != 0 {
			t.Fatalf("%d accounts kept after the failed mails", n)
		}
	})
}

// TestVerificationOff: with the setting off (the default) the article's flow is
// unchanged: 201 with data.user (verified), no mail, login at once; forgot-password
// still mails verified users.
func TestVerificationOff(t *testing.T) {
	s := startMailStack(t, false, nil)
	c := newClient(t, s.base)
	r := s.register(t, c, "Olga", "olga@example.com", "olga-password")
	expect(t, r, 201, "User registered successfully")
	user, _ := r.Body["data"].(map[string]any)["user"].(map[string]any)
	if user["email"] != "olga@example.com" || user["verified"] != true {
		t.Fatalf("register body %s", r.Raw)
	}
	s.smtp.None(t, 300*time.Millisecond)
	s.login(t, c, "olga@example.com", "olga-password")
	expectBody(t, c.do("POST", "/api/auth/forgotpassword", map[string]string{"email": "olga@example.com"}), 200, msgForgot)
	m := s.smtp.Next(t)
	if m.Subject != subjectReset {
		t.Fatalf("subject %q", m.Subject)
	}
	linkCode(t, m, "resetpassword")
}

// forgot posts the forgot-password form and returns the answer and how long it took.
func forgot(c *client, email string) (response, time.Duration) {
	start := time.Now()
	r := c.do("POST", "/api/auth/forgotpassword", map[string]string{"email": email})
	return r, time.Since(start)
}

// comparable is what must not differ between forgot-password answers: status, body and
// every header but Date and X-Request-Id.
func comparable(r response) string {
	h := r.Header.Clone()
	h.Del("Date")
	h.Del("X-Request-Id")
	var b strings.Builder
	_ = h.Write(&b)
	return fmt.Sprintf("%d %s\n%s", r.Status, r.Raw, b.String())
}

// TestForgotPasswordEnumeration (SECURITY.md E2): a known verified email, an unknown
// one and an unverified one get the same status, body and headers, in the same time
// (medians of interleaved tries); only the verified account gets a mail, with the
// seed's subject; malformed input is a 400 that says nothing about accounts.
func TestForgotPasswordEnumeration(t *testing.T) {
	s := startMailStack(t, true, nil)
	c := newClient(t, s.base)
	code := s.registerVerify(t, c, "Kim", "kim@example.com", "kim-password")
	expectBody(t, c.do("GET", "/api/auth/verifyemail/"+code, nil), 200, msgVerified)
	s.registerVerify(t, c, "Una", "una@example.com", "una-password")

	emails := map[string]string{"known": "kim@example.com", "unknown": "nobody@example.com", "unverified": "una@example.com"}
	answers := map[string]string{}
	var answered time.Duration
	start := time.Now()
	for _, kind := range []string{"known", "unknown", "unverified"} {
		r, d := forgot(c, emails[kind])
		expectBody(t, r, 200, msgForgot)
		answers[kind] = comparable(r)
		if kind == "known" {
			answered = d
		}
	}
	if answers["known"] != answers["unknown"] || answers["known"] != answers["unverified"] {
		t.Fatalf("answers differ:\nknown: %s\nunknown: %s\nunverified: %s", answers["known"], answers["unknown"], answers["unverified"])
	}
	m := s.smtp.Next(t)
	t.Logf("the known email's answer took %v; its mail arrived %v after the request", answered, time.Since(start))
	if len(m.To) != 1 || m.To[0] != "kim@example.com" || m.Subject != subjectReset {
		t.Fatalf("mail to %v, subject %q", m.To, m.Subject)
	}
	linkCode(t, m, "resetpassword")
	s.smtp.None(t, 500*time.Millisecond)

	// Time: medians of interleaved tries, so one slow moment of a busy machine does not
	// decide. The answer never waits for the lookup or the mail, so the three take the
	// same time; a synchronous lookup and send would make "known" several times slower.
	times := map[string][]time.Duration{}
	const tries = 9
	for range tries {
		for _, kind := range []string{"known", "unknown", "unverified"} {
			r, d := forgot(c, emails[kind])
			expectBody(t, r, 200, msgForgot)
			times[kind] = append(times[kind], d)
		}
	}
	known, unknown, unverified := median(times["known"]), median(times["unknown"]), median(times["unverified"])
	t.Logf("forgot-password medians of %d: known %v, unknown %v, unverified %v", tries, known, unknown, unverified)
	for _, other := range []time.Duration{unknown, unverified} {
		if ratio := float64(known) / float64(other); (ratio < 0.5 || ratio > 2) && absDiff(known, other) > 3*time.Millisecond {
			t.Errorf("known %v against %v (ratio %.2f)", known, other, ratio)
		}
	}
	for range tries {
		if got := s.smtp.Next(t); got.To[0] != "kim@example.com" {
			t.Fatalf("mail to %v", got.To)
		}
	}
	s.smtp.None(t, 300*time.Millisecond)

	for _, tc := range []struct {
		body any
		want string
	}{
		{map[string]string{}, "Email is required"},
		{map[string]string{"email": "not-an-email"}, "Invalid email"},
		{map[string]any{"email": 5}, "Expected string, received number"},
	} {
		r := c.do("POST", "/api/auth/forgotpassword", tc.body)
		issues, _ := r.Body["error"].([]any)
		if r.Status != 400 || len(issues) != 1 || issues[0].(map[string]any)["message"] != tc.want {
			t.Errorf("%v: %d %s, want 400 %q", tc.body, r.Status, r.Raw, tc.want)
		}
	}
	// A cross-site form cannot start resets for a victim's browser (SECURITY.md C3).
	r := c.do("POST", "/api/auth/forgotpassword", `{"email":"kim@example.com"}`, "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example")
	expect(t, r, 403, "Cross-site request refused")
}

func absDiff(a, b time.Duration) time.Duration {
	if a > b {
		return a - b
	}
	return b - a
}

// TestForgotPasswordNeverHangs (SECURITY.md E2): with a mail server that accepts
// connections and never answers, forgot-password for a known account still answers at
// once, every time, and the queue never blocks the answer.
func TestForgotPasswordNeverHangs(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var held []net.Conn // accepted, never greeted
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			_ = c.Close()
		}
	})
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, conn)
			mu.Unlock()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	s := startMailStack(t, false, map[string]string{"AUTHGATE_EMAIL__SMTP__PORT": strconv.Itoa(port),
		"AUTHGATE_EMAIL__SMTP__TIMEOUT": "2s"})
	c := newClient(t, s.base)
	expect(t, s.register(t, c, "Hana", "hana@example.com", "hana-password"), 201, "User registered successfully")
	var slowest time.Duration
	for i := range 40 {
		email := "hana@example.com"
		if i%2 == 1 {
			email = fmt.Sprintf("nobody%d@example.com", i)
		}
		r, d := forgot(c, email)
		expectBody(t, r, 200, msgForgot)
		slowest = max(slowest, d)
	}
	t.Logf("slowest of 40 forgot-password answers with a silent mail server: %v", slowest)
	if slowest > time.Second {
		t.Fatalf("a forgot-password answer took %v", slowest)
	}
}

// TestPasswordReset (SECURITY.md E1, E3, E4): the mailed token sets a new password once
// (reuse and expiry are the seed's 403), the body is validated with register's messages,
// every session of the user ends (access tokens from before fail, through the proxy
// too), the old password stops working and the new one works; the token never reaches
// the log.
func TestPasswordReset(t *testing.T) {
	s := startMailStack(t, true, nil)
	c := newClient(t, s.base)
	code := s.registerVerify(t, c, "Rosa", "rosa@example.com", "rosa-password")
	expectBody(t, c.do("GET", "/api/auth/verifyemail/"+code, nil), 200, msgVerified)
	cookieTok := s.login(t, c, "rosa@example.com", "rosa-password")
	other := newClient(t, s.base)
	bearer := s.login(t, other, "rosa@example.com", "rosa-password")
	expect(t, c.do("GET", "/echo", nil), 200, "")

	expectBody(t, c.do("POST", "/api/auth/forgotpassword", map[string]string{"email": "ROSA@example.com "}), 200, msgForgot)
	m := s.smtp.Next(t)
	if m.Subject != subjectReset || m.To[0] != "rosa@example.com" {
		t.Fatalf("mail to %v, subject %q", m.To, m.Subject)
	}
	token := linkCode(t, m, "resetpassword")
	if doc := s.user(t, "rosa@example.com"); doc["passwordResetToken"] == token || len(fmt.Sprint(doc["passwordResetToken"])) != 64 {
		t.Fatalf("stored token %v", doc["passwordResetToken"])
	}
	path := "/api/auth/resetpassword/" + token

	long := strings.Repeat("p", 65)
	for _, tc := range []struct {
		body any
		want string
	}{
		{map[string]string{}, "Password is required|Please confirm your password"},
		{map[string]string{"password": "short", "passwordConfirm": "short"}, "Password must be more than 8 characters"},
		{map[string]string{"password": long, "passwordConfirm": long}, "Password must be less than 64 characters"},
		{map[string]string{"password": "new-password-1"}, "Please confirm your password"},
		{map[string]string{"password": "new-password-1", "passwordConfirm": "new-password-2"}, "Passwords do not match"},
	} {
		r := c.do("PATCH", path, tc.body)
		var got []string
		issues, _ := r.Body["error"].([]any)
		for _, is := range issues {
			got = append(got, is.(map[string]any)["message"].(string))
		}
		if r.Status != 400 || strings.Join(got, "|") != tc.want {
			t.Errorf("%v: %d %s, want 400 %q", tc.body, r.Status, r.Raw, tc.want)
		}
	}
	body := map[string]string{"password": "new-password-1", "passwordConfirm": "new-password-1"}
	for _, bad := range []string{randomHex(t), "nothex"} {
		expectBody(t, c.do("PATCH", "/api/auth/resetpassword/"+bad, body), 403, msgTokenInvalid)
	}
	expect(t, c.do("PATCH", path, `{"password":"new-password-1","passwordConfirm":"new-password-1"}`,
		"Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"), 403, "Cross-site request refused")

	r := c.do("PATCH", path, body)
	expectBody(t, r, 200, msgReset)
	for name, ck := range setCookies(t, r) {
		if ck.MaxAge >= 0 || ck.Value != "" {
			t.Errorf("cookie %s not cleared: %v", name, ck)
		}
	}
	expectBody(t, c.do("PATCH", path, body), 403, msgTokenInvalid)

	// Every session ended: the cookie client's token, the other device's Bearer token.
	for _, tok := range []string{cookieTok, bearer} {
		expect(t, newClient(t, s.base).do("GET", "/api/auth/me", nil, "Authorization", "Bearer "+tok), 401, "User session has expired")
		expect(t, newClient(t, s.base).do("GET", "/echo", nil, "Authorization", "Bearer "+tok), 401, "User session has expired")
	}
	expect(t, other.do("GET", "/api/auth/refresh", nil), 403, "Could not refresh access token")
	expect(t, c.do("POST", "/api/auth/login", map[string]string{"email": "rosa@example.com", "password": "rosa-password"}),
		401, "Invalid email or password")
	s.login(t, c, "rosa@example.com", "new-password-1")

	// A token past its ten minutes is refused.
	expectBody(t, c.do("POST", "/api/auth/forgotpassword", map[string]string{"email": "rosa@example.com"}), 200, msgForgot)
	late := linkCode(t, s.smtp.Next(t), "resetpassword")
	s.expire(t, "rosa@example.com", "passwordResetAt")
	expectBody(t, c.do("PATCH", "/api/auth/resetpassword/"+late, body), 403, msgTokenInvalid)

	s.logs.syncLog(t, s.base)
	logs := s.logs.String()
	if strings.Contains(logs, token) || strings.Contains(logs, late) {
		t.Fatalf("a reset token is in the gateway's log:\n%s", logs)
	}
	if !strings.Contains(logs, `"path":"/api/auth/resetpassword/:resetToken"`) {
		t.Fatalf("the access log does not name the route:\n%s", logs)
	}
}

// TestLogMailerInDevelopment: without email.smtp.host the gateway logs each mail's link
// at INFO (what `make run` prints), and the link works.
func TestLogMailerInDevelopment(t *testing.T) {
	db := fmt.Sprintf("logmail_%d", time.Now().UnixNano())
	env := gatewayEnv(t, db)
	env["AUTHGATE_EMAIL__VERIFICATION_REQUIRED"] = "true"
	base, logs := startGatewayLogged(t, env)
	c := newClient(t, base)
	s := &stack{base: base}
	expectBody(t, s.register(t, c, "Lou", "lou@example.com", "lou-password"), 201, msgVerificationSent)
	logs.waitFor(t, `"msg":"mail not sent`)
	var link string
	for _, line := range strings.Split(logs.String(), "\n") {
		var l struct{ Level, Msg, To, Subject, Link string }
		if json.Unmarshal([]byte(line), &l) == nil && strings.HasPrefix(l.Msg, "mail not sent") {
			if l.Level != "INFO" || l.To != "lou@example.com" || l.Subject != "Your account verification code" {
				t.Fatalf("log line %s", line)
			}
			link = l.Link
		}
	}
	code, ok := strings.CutPrefix(link, "http://localhost:3000/verifyemail/")
	if !ok || len(code) != 64 {
		t.Fatalf("no verification link in the log (%q):\n%s", link, logs.String())
	}
	expectBody(t, c.do("GET", "/api/auth/verifyemail/"+code, nil), 200, msgVerified)
	s.login(t, c, "lou@example.com", "lou-password")
}
