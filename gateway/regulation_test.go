package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/authgate/authgate/authsvc"
)

// regulationEnv is a test gateway's environment with the regulation set for a test:
// the harness's generous limits replaced by the given keys
// (AUTHGATE_REGULATION__<key>).
func regulationEnv(t *testing.T, set map[string]string) map[string]string {
	t.Helper()
	env := gatewayEnv(t, fmt.Sprintf("reg_%d", time.Now().UnixNano()))
	for k, v := range set {
		env["AUTHGATE_REGULATION__"+k] = v
	}
	return env
}

func jsonLogin(c *client, email, pw string, hdr ...string) response {
	c.t.Helper()
	return c.do("POST", "/api/auth/login", map[string]string{"email": email, "password": pw}, hdr...)
}

func registerUser(t *testing.T, base, name, email, pw string) {
	t.Helper()
	r := newClient(t, base).do("POST", "/api/auth/register", map[string]string{
		"name": name, "email": email, "password": pw, "passwordConfirm": pw,
	})
	expect(t, r, 201, "")
}

// answer is what a client can observe of a response: status, body and every header
// but the ones that differ per request (Date, X-Request-Id).
func answer(r response) string {
	var lines []string
	for k, vs := range r.Header {
		if k == "Date" || k == "X-Request-Id" {
			continue
		}
		lines = append(lines, k+": "+strings.Join(vs, ", "))
	}
	sort.Strings(lines)
	return fmt.Sprintf("%d\n%s\n%s", r.Status, strings.Join(lines, "\n"), r.Raw)
}

func expectSameAnswer(t *testing.T, what string, got, want response) {
	t.Helper()
	if a, b := answer(got), answer(want); a != b {
		t.Fatalf("%s answers differently from a wrong password:\n%s\n--- want ---\n%s", what, a, b)
	}
}

// TestLoginLockoutE2E (SECURITY.md P4): after three wrong passwords the account is
// locked out; a locked-out login, with a wrong or the right password, answers exactly
// like a wrong password (status, body, headers) and takes as long (the password is
// still verified); the lockout ends by itself.
func TestLoginLockoutE2E(t *testing.T) {
	base := startGateway(t, regulationEnv(t, map[string]string{
		"ACCOUNT__FAILURES": "3", "ACCOUNT__WINDOW": "1m", "ACCOUNT__BAN": "3s",
	}))
	registerUser(t, base, "Ada", "ada@example.com", "ada-password")
	c := newClient(t, base)
	timed := func(email, pw string) (response, time.Duration) {
		start := time.Now()
		r := jsonLogin(c, email, pw)
		return r, time.Since(start)
	}
	wrong, wrongTime := timed("ada@example.com", "wrong-password")
	expect(t, wrong, 401, "Invalid email or password")
	for range 2 {
		expectSameAnswer(t, "a wrong password", jsonLogin(c, "ada@example.com", "wrong-password"), wrong)
	}
	var lockedTimes []time.Duration
	for _, pw := range []string{"ada-password", "wrong-password", "ada-password"} {
		r, d := timed("ADA@example.com ", pw)
		expectSameAnswer(t, "a locked-out login ("+pw+")", r, wrong)
		lockedTimes = append(lockedTimes, d)
	}
	// The password is still verified during a lockout: no locked-out answer is much
	// quicker than a verification (argon2id at the production cost takes tens of ms).
	if slices.Min(lockedTimes) < wrongTime/4 {
		t.Errorf("locked-out logins took %v, a wrong password %v: the lockout is told by its time", lockedTimes, wrongTime)
	}
	if cks := setCookies(t, jsonLogin(c, "ada@example.com", "ada-password")); len(cks) != 0 {
		t.Fatalf("a locked-out login set cookies: %v", cks)
	}
	time.Sleep(3100 * time.Millisecond)
	expect(t, jsonLogin(c, "ada@example.com", "ada-password"), 200, "")
}

// TestLoginLockoutSignInPage: the sign-in page counts against the same lockout as the
// JSON API, and a locked-out account's page is the wrong-password page.
func TestLoginLockoutSignInPage(t *testing.T) {
	base := startGateway(t, regulationEnv(t, map[string]string{"ACCOUNT__FAILURES": "3", "ACCOUNT__BAN": "1m"}))
	registerUser(t, base, "Ada", "ada@example.com", "ada-password")
	b := newBrowser(t, base)
	wrongPage := postForm(b, "/login", credentials("ada@example.com", "wrong-password", ""))
	expectPage(t, wrongPage, 401, "Invalid email or password")
	wrongJSON := jsonLogin(newClient(t, base), "ada@example.com", "wrong-password")
	expect(t, wrongJSON, 401, "Invalid email or password")
	expectSameAnswer(t, "a wrong password on the page", postForm(b, "/login", credentials("ada@example.com", "wrong-password", "")), wrongPage)
	// Three failures (page, JSON, page): locked on both.
	expectSameAnswer(t, "the page, locked out", postForm(b, "/login", credentials("ada@example.com", "ada-password", "")), wrongPage)
	expectSameAnswer(t, "the JSON API, locked out", jsonLogin(newClient(t, base), "ada@example.com", "ada-password"), wrongJSON)
}

// TestLockoutIgnoresUntrustedForwardedFor: with no trusted proxy, X-Forwarded-For is
// the client's own say: rotating it neither escapes the account's lockout nor the
// client IP's.
func TestLockoutIgnoresUntrustedForwardedFor(t *testing.T) {
	base := startGateway(t, regulationEnv(t, map[string]string{
		"ACCOUNT__FAILURES": "3", "ACCOUNT__BAN": "1m", "IP__FAILURES": "5", "IP__BAN": "1m",
	}))
	registerUser(t, base, "Ada", "ada@example.com", "ada-password")
	registerUser(t, base, "Bob", "bob@example.com", "bob-password")
	n := 0
	xff := func() []string {
		n++
		return []string{"X-Forwarded-For", fmt.Sprintf("203.0.113.%d", n), "X-Real-Ip", fmt.Sprintf("198.51.100.%d", n)}
	}
	for range 3 {
		expect(t, jsonLogin(newClient(t, base), "ada@example.com", "wrong-password", xff()...), 401, "Invalid email or password")
	}
	wrong := jsonLogin(newClient(t, base), "nobody@example.com", "wrong-password", xff()...) // the IP's 5th failure
	expect(t, wrong, 401, "Invalid email or password")
	expectSameAnswer(t, "the locked-out account with a new X-Forwarded-For", jsonLogin(newClient(t, base), "ada@example.com", "ada-password", xff()...), wrong)
	// Bob's account is not locked, but the IP is, whatever it claims to be.
	for range 3 {
		expectSameAnswer(t, "a locked-out IP with a new X-Forwarded-For", jsonLogin(newClient(t, base), "bob@example.com", "bob-password", xff()...), wrong)
	}
	expectSameAnswer(t, "a locked-out IP on the page", postForm(newBrowser(t, base), "/login", credentials("bob@example.com", "bob-password", ""), xff()...).withStatusOnly(), wrong.withStatusOnly())
}

// withStatusOnly keeps only the status (pages and JSON differ in every other way).
func (r response) withStatusOnly() response { return response{Status: r.Status} }

// TestLockoutTrustedProxyCountsEachClient: behind a trusted proxy, each forwarded
// client IP has its own count: one client locked out does not lock out the others.
func TestLockoutTrustedProxyCountsEachClient(t *testing.T) {
	env := regulationEnv(t, map[string]string{"IP__FAILURES": "3", "IP__BAN": "1m"})
	env["AUTHGATE_TRUSTED_PROXIES"] = "127.0.0.1,::1"
	base := startGateway(t, env)
	registerUser(t, base, "Ada", "ada@example.com", "ada-password")
	from := func(ip string) []string { return []string{"X-Forwarded-For", ip} }
	for i := range 3 {
		expect(t, jsonLogin(newClient(t, base), fmt.Sprintf("guess%d@example.com", i), "wrong-password", from("203.0.113.7")...), 401, "Invalid email or password")
	}
	expect(t, jsonLogin(newClient(t, base), "ada@example.com", "ada-password", from("203.0.113.7")...), 401, "Invalid email or password")
	expect(t, jsonLogin(newClient(t, base), "ada@example.com", "ada-password", from("203.0.113.8")...), 200, "")
	// The forwarded chain's right-most untrusted hop is the client: a spoofed left part changes nothing.
	expect(t, jsonLogin(newClient(t, base), "ada@example.com", "ada-password", from("192.0.2.99, 203.0.113.7")...), 401, "Invalid email or password")
}

// TestLockoutConcurrentLogins: 20 concurrent logins with the right password during a
// lockout all fail like a wrong password (run under -race). A login may also find the
// hashing pool full (503, SECURITY.md P2) on a loaded machine, as a wrong password
// would; none may succeed.
func TestLockoutConcurrentLogins(t *testing.T) {
	env := regulationEnv(t, map[string]string{"ACCOUNT__FAILURES": "3", "ACCOUNT__BAN": "1m"})
	env["AUTHGATE_PASSWORDS__MAX_CONCURRENT_HASHES"] = "20"
	base := startGateway(t, env)
	registerUser(t, base, "Ada", "ada@example.com", "ada-password")
	var wrong response
	for range 3 {
		wrong = jsonLogin(newClient(t, base), "ada@example.com", "wrong-password")
	}
	expect(t, wrong, 401, "Invalid email or password")
	var wg sync.WaitGroup
	got := make([]response, 20)
	for i := range got {
		wg.Go(func() {
			got[i] = jsonLogin(&client{t: t, base: base, http: &http.Client{Timeout: 30 * time.Second}}, "ada@example.com", "ada-password")
		})
	}
	wg.Wait()
	refused := 0
	for i, r := range got {
		switch {
		case answer(r) == answer(wrong):
			refused++
		case r.Status == http.StatusServiceUnavailable && r.msg() == "Service temporarily unavailable, please retry":
		default:
			t.Errorf("login %d during the lockout: %s", i, answer(r))
		}
	}
	if refused == 0 {
		t.Fatal("every login found the hashing pool full: nothing was tested")
	}
}

// coreOn is an account core on a test gateway's stores (its MongoDB database, its
// Redis and key prefix), as an admin API or CLI would use it: bans a gateway made are
// listed and lifted through it.
func coreOn(t *testing.T, env map[string]string) *authsvc.Service {
	t.Helper()
	key := func() string {
		_, priv, _ := ed25519.GenerateKey(rand.Reader)
		der, _ := x509.MarshalPKCS8PrivateKey(priv)
		return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	}
	keys, err := authsvc.LoadKeys(authsvc.KeyConfig{Access: authsvc.KeySpec{Private: key()}, Refresh: authsvc.KeySpec{Private: key()}}, "")
	if err != nil {
		t.Fatal(err)
	}
	opts, err := redis.ParseURL(env["AUTHGATE_REDIS__URL"])
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	mc, err := mongo.Connect(options.Client().ApplyURI(env["AUTHGATE_MONGODB__URI"]))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close(); _ = mc.Disconnect(t.Context()) })
	s, err := authsvc.New(authsvc.Config{
		AccessTTL: time.Minute, RefreshTTL: time.Hour, RefreshGrace: time.Second, IdleTTL: time.Hour, MaxTTL: time.Hour,
		MaxSessions: 3, Issuer: "authgate", Audience: "authgate", Keys: keys, PasswordMaxLength: 64, MaxConcurrentHashes: 1,
		RedisPrefix: env["AUTHGATE_REDIS__KEY_PREFIX"], RedisTimeout: 5 * time.Second, MongoTimeout: 5 * time.Second,
		Audit: authsvc.AuditConfig{Retention: time.Hour, CleanupInterval: time.Hour},
	}, mc.Database(env["AUTHGATE_MONGODB__DATABASE"]), rdb)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestLockoutSharedByReplicas: two gateway processes on one Redis share the counts
// and the bans: failures on either add up, a lockout made on one holds on the other,
// and a ban listed and lifted through the core ends on both.
func TestLockoutSharedByReplicas(t *testing.T) {
	env := regulationEnv(t, map[string]string{"ACCOUNT__FAILURES": "3", "ACCOUNT__BAN": "10m"})
	a := startGateway(t, env)
	b := startGateway(t, env)
	registerUser(t, a, "Ada", "ada@example.com", "ada-password")
	expect(t, jsonLogin(newClient(t, a), "ada@example.com", "wrong-password"), 401, "Invalid email or password")
	expect(t, jsonLogin(newClient(t, b), "ada@example.com", "wrong-password"), 401, "Invalid email or password")
	expect(t, jsonLogin(newClient(t, a), "ada@example.com", "wrong-password"), 401, "Invalid email or password")
	for _, base := range []string{a, b} {
		expect(t, jsonLogin(newClient(t, base), "ada@example.com", "ada-password"), 401, "Invalid email or password")
	}

	core := coreOn(t, env)
	bans, err := core.Bans(t.Context())
	if err != nil || len(bans) != 1 || bans[0].Kind != authsvc.BanAccount || bans[0].Subject != "ada@example.com" ||
		bans[0].Failures != 3 || time.Until(bans[0].Until) < 9*time.Minute {
		t.Fatalf("Bans = %+v, %v", bans, err)
	}
	if err := core.LiftBan(t.Context(), bans[0].ID); err != nil {
		t.Fatal(err)
	}
	expect(t, jsonLogin(newClient(t, b), "ada@example.com", "ada-password"), 200, "")
	expect(t, jsonLogin(newClient(t, a), "ada@example.com", "ada-password"), 200, "")
	if bans, err := core.Bans(t.Context()); err != nil || len(bans) != 0 {
		t.Fatalf("Bans after LiftBan = %+v, %v", bans, err)
	}
}

// TestRequestLimitsE2E: registrations, forgot-password requests and verification
// attempts past the per-IP limit answer 429 in the seed's envelope; past the per-email
// forgot-password limit the answer stays the same for known and unknown emails.
func TestRequestLimitsE2E(t *testing.T) {
	base := startGateway(t, regulationEnv(t, map[string]string{
		"REGISTER__REQUESTS": "2", "FORGOT_PASSWORD__REQUESTS": "4", "VERIFY_EMAIL__REQUESTS": "2",
		"FORGOT_PASSWORD_EMAIL__REQUESTS": "1",
	}))
	c := newClient(t, base)
	limited := func(r response) {
		t.Helper()
		expect(t, r, 429, "Too many requests, please try again later")
		if r.Header.Get("X-Authgate-Error") != "rate_limited" {
			t.Fatalf("X-Authgate-Error %q", r.Header.Get("X-Authgate-Error"))
		}
	}
	reg := func(email string) response {
		return c.do("POST", "/api/auth/register", map[string]string{"name": "R", "email": email, "password": "reg-password", "passwordConfirm": "reg-password"})
	}
	expect(t, reg("bad\u200b@example.com"), 400, "") // refused input is not counted
	expect(t, reg("reg@example.com"), 201, "")
	expect(t, reg("reg@example.com"), 409, "Email already exist")
	limited(reg("reg2@example.com"))

	code := strings.Repeat("ab", 32)
	for range 2 {
		expect(t, c.do("GET", "/api/auth/verifyemail/"+code, nil), 401, "Could not verify email")
	}
	limited(c.do("GET", "/api/auth/verifyemail/"+code, nil))

	forgot := func(email string) response {
		return c.do("POST", "/api/auth/forgotpassword", map[string]string{"email": email})
	}
	first := forgot("reg@example.com")
	expect(t, first, 200, "You will receive a password reset email if user with that email exist")
	for _, email := range []string{"reg@example.com", "nobody@example.com", "nobody@example.com"} {
		expectSameAnswer(t, "forgot-password for "+email, forgot(email), first)
	}
	limited(forgot("other@example.com"))
}

// TestAccountInputRefused: an email or a name with a control, zero-width, bidi or
// other invisible character gets the seed's validation envelope and creates nothing;
// emails that look the same to a person are one account.
func TestAccountInputRefused(t *testing.T) {
	base := startGateway(t, regulationEnv(t, nil))
	c := newClient(t, base)
	reg := func(name, email string) response {
		return c.do("POST", "/api/auth/register", map[string]string{"name": name, "email": email, "password": "pass-word-1", "passwordConfirm": "pass-word-1"})
	}
	classes := map[string][]rune{
		"control":    {0x00, 0x07, 0x1b, 0x7f, 0x85},
		"zero-width": {0x200b, 0x200c, 0x200d, 0x2060, 0xfeff},
		"bidi":       {0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069, 0x200e, 0x200f, 0x061c},
		"other":      {0x00ad, 0x2028, 0xe000},
	}
	problem := func(r response) (field, msg string) {
		list, _ := r.Body["error"].([]any)
		if len(list) != 1 {
			t.Fatalf("not one problem: %s", r.Raw)
		}
		p := list[0].(map[string]any)
		path := p["path"].([]any)
		return path[1].(string), p["message"].(string)
	}
	for class, runes := range classes {
		for _, r := range runes {
			ch := string(r)
			for _, tc := range []struct {
				name, email, field, msg string
			}{
				{"Eve", "eve" + ch + "@example.com", "email", "Invalid email"},
				{"Eve", "eve@exam" + ch + "ple.com", "email", "Invalid email"},
				{"E" + ch + "ve", "eve@example.com", "name", "Invalid name"},
			} {
				res := reg(tc.name, tc.email)
				expect(t, res, 400, "")
				if f, m := problem(res); f != tc.field || m != tc.msg || res.Body["status"] != "fail" {
					t.Fatalf("%s %U: %s", class, r, res.Raw)
				}
			}
			expect(t, jsonLogin(c, "eve"+ch+"@example.com", "pass-word-1"), 400, "")
			if _, m := problem(jsonLogin(c, "eve"+ch+"@example.com", "pass-word-1")); m != "Invalid email or password" {
				t.Fatalf("login with %U: %s", r, m)
			}
			res := c.do("POST", "/api/auth/forgotpassword", map[string]string{"email": "eve" + ch + "@example.com"})
			if _, m := problem(res); res.Status != 400 || m != "Invalid email" {
				t.Fatalf("forgot with %U: %s", r, res.Raw)
			}
		}
	}
	// Nothing was created: the clean email registers now, once.
	expect(t, reg("Eve", "eve@example.com"), 201, "")
	for _, same := range []string{" EVE@Example.com", "\uff45\uff56\uff45@example.com", "eve@\uff25\uff38\uff21\uff2d\uff30\uff2c\uff25.com"} {
		expect(t, reg("Eve", same), 409, "Email already exist")
	}
	expect(t, reg("Bob", "bob@B\u00fccher.de"), 201, "")
	expect(t, reg("Bob", "bob@xn--bcher-kva.de"), 409, "Email already exist")
	expect(t, jsonLogin(c, "BOB@xn--BCHER-kva.de", "pass-word-1"), 200, "")
}
