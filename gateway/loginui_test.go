package main

import (
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// loginStack is a gateway with an echo upstream: /echo needs a session, /open does not,
// and a rule for *.apps.example.test puts that host in the default redirect list.
func loginStack(t *testing.T, extra map[string]string) *stack {
	t.Helper()
	up := echoUpstream(t)
	routes, _ := json.Marshal([]map[string]any{
		{"path": "/echo", "upstream": up, "policy": "authenticated"},
		{"path": "/open", "upstream": up, "policy": "public"},
		{"host": "*.apps.example.test", "path": "/", "upstream": up, "policy": "authenticated"},
	})
	db := fmt.Sprintf("login_%d", time.Now().UnixNano())
	env := gatewayEnv(t, db)
	env["AUTHGATE_ROUTES"] = string(routes)
	for k, v := range extra {
		env[k] = v
	}
	return &stack{base: startGateway(t, env)}
}

// newBrowser is a client that, like a browser, keeps cookies, but does not follow
// redirects, so that each 303 can be looked at.
func newBrowser(t *testing.T, base string) *client {
	c := newClient(t, base)
	c.http.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c
}

// navigation are the headers of a browser's same-origin top-level navigation.
func navigation(base string, extra ...string) []string {
	return append([]string{"Sec-Fetch-Site", "same-origin", "Sec-Fetch-Mode", "navigate", "Origin", base,
		"Accept", "text/html,application/xhtml+xml"}, extra...)
}

// postForm submits the sign-in form (or any urlencoded form) as the browser would.
func postForm(c *client, path string, v url.Values, extra ...string) response {
	c.t.Helper()
	hdr := append(navigation(c.base, "Content-Type", "application/x-www-form-urlencoded"), extra...)
	return c.do("POST", path, v.Encode(), hdr...)
}

func credentials(email, pw, rd string) url.Values {
	v := url.Values{"email": {email}, "password": {pw}}
	if rd != "" {
		v.Set("rd", rd)
	}
	return v
}

// expectPage checks a rendered sign-in page: status, the hardening headers of every
// gateway page, and, when msg is set, the alert with it.
func expectPage(t *testing.T, r response, status int, msg string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("got %d, want %d: %s", r.Status, status, r.Raw)
	}
	for k, want := range map[string]string{
		"Content-Type":            "text/html; charset=UTF-8",
		"Cache-Control":           "no-store",
		"X-Frame-Options":         "DENY",
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "strict-origin-when-cross-origin",
		"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'",
	} {
		if got := r.Header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if msg != "" && (!strings.Contains(r.Raw, `role="alert"`) || !strings.Contains(r.Raw, html.EscapeString(msg))) {
		t.Errorf("page lacks the alert %q:\n%s", msg, r.Raw)
	}
	if msg == "" && strings.Contains(r.Raw, `role="alert"`) {
		t.Errorf("page shows an alert:\n%s", r.Raw)
	}
	if strings.Contains(strings.ToLower(r.Raw), "<script") {
		t.Errorf("page has a script:\n%s", r.Raw)
	}
}

// hiddenRD is the value of the page's hidden rd field, as written in the HTML.
func hiddenRD(t *testing.T, page string) string {
	t.Helper()
	const start = `<input type="hidden" name="rd" value="`
	i := strings.Index(page, start)
	if i < 0 {
		t.Fatalf("no hidden rd field:\n%s", page)
	}
	rest := page[i+len(start):]
	return rest[:strings.IndexByte(rest, '"')]
}

// TestSignInPage (SECURITY.md H6, P3, C1, C3, C5, C7): the browser sign-in page, its
// form, logout and their redirects, over HTTP against the real gateway.
func TestSignInPage(t *testing.T) {
	s := loginStack(t, nil)
	const email, pw = "page@example.com", "page-password-1"
	expect(t, s.register(t, newClient(t, s.base), "Paige", email, pw), 201, "")

	t.Run("the form", func(t *testing.T) {
		rd := `/echo/x?q="><script>alert(1)</script>&b=1`
		r := newBrowser(t, s.base).do("GET", "/login?rd="+url.QueryEscape(rd), nil, navigation(s.base)...)
		expectPage(t, r, 200, "")
		for _, want := range []string{
			`<html lang="en">`, `<meta name="viewport"`,
			`<label for="email">`, `id="email" name="email" type="email"`, `autocomplete="username"`,
			`<label for="password">`, `id="password" name="password" type="password"`, `autocomplete="current-password"`,
			`<form method="post" action="/login">`, `<button type="submit">Sign in</button>`,
		} {
			if !strings.Contains(r.Raw, want) {
				t.Errorf("page lacks %s", want)
			}
		}
		if got := hiddenRD(t, r.Raw); html.UnescapeString(got) != rd || strings.ContainsAny(got, `<>"`) {
			t.Errorf("hidden rd %q, want %q escaped", got, rd)
		}
		if strings.Contains(r.Raw, "<script>") {
			t.Error("rd reflected unescaped")
		}
		for _, evil := range []string{"//evil.example", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"} {
			r := newBrowser(t, s.base).do("GET", "/login?rd="+url.QueryEscape(evil), nil, navigation(s.base)...)
			if got := hiddenRD(t, r.Raw); got != "/" {
				t.Errorf("rd %q kept in the form as %q", evil, got)
			}
		}
		head := newBrowser(t, s.base).do("HEAD", "/login", nil, navigation(s.base)...)
		if head.Status != 200 || head.Raw != "" || head.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("HEAD /login: %d %q %v", head.Status, head.Raw, head.Header)
		}
	})

	t.Run("sign in: 303 to rd with the JSON API's cookies", func(t *testing.T) {
		api := newClient(t, s.base).do("POST", "/api/auth/login", map[string]string{"email": email, "password": pw})
		expect(t, api, 200, "")
		b := newBrowser(t, s.base)
		r := postForm(b, "/login", credentials(email, pw, "/echo/after?x=1"))
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/echo/after?x=1" {
			t.Fatalf("got %d Location %q, want 303 /echo/after?x=1: %s", r.Status, r.Header.Get("Location"), r.Raw)
		}
		if r.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("303 Cache-Control %q", r.Header.Get("Cache-Control"))
		}
		fromForm, fromAPI := setCookies(t, r), setCookies(t, api)
		if len(fromForm) != 3 || len(fromAPI) != 3 {
			t.Fatalf("cookies: form %v, API %v", r.Header.Values("Set-Cookie"), api.Header.Values("Set-Cookie"))
		}
		for name, want := range fromAPI {
			got := fromForm[name]
			if got == nil || got.Value == "" || got.Path != want.Path || got.Domain != want.Domain || got.MaxAge != want.MaxAge ||
				got.HttpOnly != want.HttpOnly || got.Secure != want.Secure || got.SameSite != want.SameSite {
				t.Errorf("cookie %s: form %+v, API %+v", name, got, want)
			}
		}
		expect(t, b.do("GET", "/echo/after", nil), 200, "") // the cookies work
	})

	t.Run("wrong password and unknown email: the same answer", func(t *testing.T) {
		const other = "later@example.com"
		b := newBrowser(t, s.base)
		unknown := postForm(b, "/login", credentials(other, "some-password-1", "/echo"))
		expect(t, s.register(t, newClient(t, s.base), "Later", other, "right-password-1"), 201, "")
		wrong := postForm(b, "/login", credentials(other, "some-password-1", "/echo"))
		expectPage(t, wrong, 401, "Invalid email or password")
		if unknown.Status != wrong.Status || unknown.Raw != wrong.Raw {
			t.Fatalf("unknown email: %d\n%s\nwrong password: %d\n%s", unknown.Status, unknown.Raw, wrong.Status, wrong.Raw)
		}
		for _, k := range []string{"Content-Type", "Content-Length", "X-Authgate-Error", "Set-Cookie", "Location"} {
			if fmt.Sprint(unknown.Header.Values(k)) != fmt.Sprint(wrong.Header.Values(k)) {
				t.Errorf("%s: unknown %q, wrong password %q", k, unknown.Header.Values(k), wrong.Header.Values(k))
			}
		}
		if wrong.Header.Get("X-Authgate-Error") != "invalid_credentials" || len(wrong.Header.Values("Set-Cookie")) != 0 {
			t.Errorf("failed sign-in headers %v", wrong.Header)
		}
		if !strings.Contains(wrong.Raw, `value="`+other+`"`) {
			t.Error("email not kept in the form")
		}
		if hiddenRD(t, wrong.Raw) != "/echo" {
			t.Error("rd not kept in the form")
		}

		// The email is written back escaped.
		odd := `"><script>x@example.com`
		r := postForm(b, "/login", credentials(odd, "some-password-1", ""))
		expectPage(t, r, 401, "Invalid email or password")
		if !strings.Contains(r.Raw, `value="&#34;&gt;&lt;script&gt;x@example.com"`) {
			t.Errorf("email not escaped:\n%s", r.Raw)
		}

		// Time: medians of interleaved tries, so one slow moment of a busy machine does not
		// decide; both paths run one password verification.
		var tUnknown, tWrong []time.Duration
		for i := range 7 {
			start := time.Now()
			expectPage(t, postForm(b, "/login", credentials(fmt.Sprintf("nobody%d@example.com", i), "some-password-1", "")), 401, "Invalid email or password")
			tUnknown = append(tUnknown, time.Since(start))
			start = time.Now()
			expectPage(t, postForm(b, "/login", credentials(other, "some-password-1", "")), 401, "Invalid email or password")
			tWrong = append(tWrong, time.Since(start))
		}
		if ratio := float64(median(tUnknown)) / float64(median(tWrong)); ratio < 0.5 || ratio > 2 {
			t.Errorf("unknown email %v, wrong password %v (ratio %.2f)", median(tUnknown), median(tWrong), ratio)
		}
	})

	t.Run("missing fields", func(t *testing.T) {
		b := newBrowser(t, s.base)
		for _, tc := range []struct {
			form url.Values
			msg  string
		}{
			{url.Values{}, "Enter your email address and password."},
			{url.Values{"email": {"  "}, "password": {""}}, "Enter your email address and password."},
			{url.Values{"password": {pw}}, "Enter your email address."},
			{url.Values{"email": {email}}, "Enter your password."},
		} {
			r := postForm(b, "/login", tc.form)
			expectPage(t, r, 400, tc.msg)
			if r.Header.Get("X-Authgate-Error") != "validation" || len(r.Header.Values("Set-Cookie")) != 0 {
				t.Errorf("%v: headers %v", tc.form, r.Header)
			}
			if e := tc.form.Get("email"); strings.TrimSpace(e) != "" && !strings.Contains(r.Raw, `value="`+e+`"`) {
				t.Errorf("%v: email not kept", tc.form)
			}
		}
	})

	t.Run("only form bodies", func(t *testing.T) {
		b := newBrowser(t, s.base)
		for _, ct := range []string{"application/json", "multipart/form-data; boundary=x", "text/plain", ""} {
			body := `{"email":"` + email + `","password":"` + pw + `"}`
			if strings.HasPrefix(ct, "multipart") {
				body = "--x\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\n" + email +
					"\r\n--x\r\nContent-Disposition: form-data; name=\"password\"\r\n\r\n" + pw + "\r\n--x--\r\n"
			}
			r := b.do("POST", "/login", body, "Content-Type", ct, "Sec-Fetch-Site", "same-origin")
			expect(t, r, http.StatusUnsupportedMediaType, "Unsupported Media Type")
			if len(r.Header.Values("Set-Cookie")) != 0 {
				t.Errorf("%q body set cookies", ct)
			}
		}
		big := credentials(email, pw, "/"+strings.Repeat("a", 20000))
		expect(t, b.do("POST", "/login", big.Encode(), "Content-Type", "application/x-www-form-urlencoded",
			"Sec-Fetch-Site", "same-origin"), 413, "Request body too large")
		expect(t, b.do("POST", "/login", "email=%zz&password=x", "Content-Type", "application/x-www-form-urlencoded",
			"Sec-Fetch-Site", "same-origin"), 400, "Bad Request")
	})

	t.Run("rd is checked end to end", func(t *testing.T) {
		own := s.base + "/echo/own"
		for rd, want := range map[string]string{
			"":                      "/",
			"/echo/x":               "/echo/x",
			"//evil.example/":       "/",
			"///evil.example/":      "/",
			"/\\evil.example":       "/",
			"/%2F%2Fevil.example":   "/",
			"/\t/evil.example":      "/",
			"https://evil.example/": "/",
			"https://x.apps.example.test@evil.example/": "/",
			"javascript:alert(1)":                       "/",
			"data:text/html,hi":                         "/",
			"/./../evil.example":                        "/",
			"https://x.apps.example.test/p":             "https://x.apps.example.test/p", // a route host
			"https://a.b.apps.example.test/":            "/",
			"http://localhost:3000/app":                 "http://localhost:3000/app", // the default cors.origins
			own:                                         own,                         // the gateway's own host
		} {
			r := postForm(newBrowser(t, s.base), "/login", credentials(email, pw, rd))
			if r.Status != http.StatusSeeOther || r.Header.Get("Location") != want {
				t.Errorf("rd %q: %d Location %q, want 303 %q", rd, r.Status, r.Header.Get("Location"), want)
			}
		}
		// Also from the query when the form has none (a hand-made form), and after logout.
		r := postForm(newBrowser(t, s.base), "/login?rd="+url.QueryEscape("//evil.example"), credentials(email, pw, ""))
		if r.Header.Get("Location") != "/" {
			t.Errorf("query rd: Location %q", r.Header.Get("Location"))
		}
	})

	t.Run("signed in: GET /login goes to rd", func(t *testing.T) {
		b := newBrowser(t, s.base)
		if r := postForm(b, "/login", credentials(email, pw, "")); r.Status != http.StatusSeeOther {
			t.Fatalf("sign in: %d %s", r.Status, r.Raw)
		}
		r := b.do("GET", "/login?rd=/echo/back", nil, navigation(s.base)...)
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/echo/back" || len(r.Header.Values("Set-Cookie")) != 0 {
			t.Fatalf("signed-in GET /login: %d %v", r.Status, r.Header)
		}
		r = b.do("GET", "/login?rd=//evil.example", nil, navigation(s.base)...)
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/" {
			t.Fatalf("signed-in GET /login, evil rd: %d %v", r.Status, r.Header)
		}

		// Only the refresh cookie (the access cookie expired): a new access token.
		refresh := cookieValue(t, b, "refresh_token")
		r = newBrowser(t, s.base).do("GET", "/login?rd=/echo/back", nil,
			append(navigation(s.base), "Cookie", "access_token=expired; refresh_token="+refresh)...)
		got := setCookies(t, r)
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/echo/back" ||
			got["access_token"] == nil || got["access_token"].Value == "" || got["logged_in"] == nil || got["refresh_token"] != nil {
			t.Fatalf("refresh-cookie GET /login: %d %v", r.Status, r.Header)
		}
		expect(t, newClient(t, s.base).do("GET", "/echo/x", nil, "Authorization", "Bearer "+got["access_token"].Value), 200, "")

		// Neither token is good: the form.
		r = newBrowser(t, s.base).do("GET", "/login", nil, append(navigation(s.base), "Cookie", "access_token=x; refresh_token=y")...)
		expectPage(t, r, 200, "")
	})

	t.Run("logout clears the cookies and revokes the session", func(t *testing.T) {
		for _, method := range []string{"GET", "POST"} {
			b := newBrowser(t, s.base)
			postForm(b, "/login", credentials(email, pw, ""))
			access, refresh := cookieValue(t, b, "access_token"), cookieValue(t, b, "refresh_token")
			expect(t, b.do("GET", "/echo/x", nil), 200, "")
			var r response
			if method == "GET" {
				r = b.do("GET", "/logout?rd=/open/bye", nil, navigation(s.base)...)
			} else {
				r = postForm(b, "/logout", url.Values{"rd": {"/open/bye"}})
			}
			if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/open/bye" {
				t.Fatalf("%s /logout: %d Location %q", method, r.Status, r.Header.Get("Location"))
			}
			cleared := setCookies(t, r)
			for _, name := range []string{"access_token", "refresh_token", "logged_in"} {
				if ck := cleared[name]; ck == nil || ck.MaxAge >= 0 || ck.Value != "" {
					t.Errorf("%s /logout: %s not cleared: %v", method, name, r.Header.Values("Set-Cookie"))
				}
			}
			expect(t, newClient(t, s.base).do("GET", "/echo/x", nil, "Authorization", "Bearer "+access), 401, "User session has expired")
			expect(t, newClient(t, s.base).do("GET", "/api/auth/refresh", nil, "Cookie", "refresh_token="+refresh), 403, "Could not refresh access token")
		}
		// Without rd: the sign-in page; with an evil one: "/"; signed out already: the same.
		b := newBrowser(t, s.base)
		if r := b.do("GET", "/logout", nil, navigation(s.base)...); r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/login" {
			t.Errorf("GET /logout: %d %q", r.Status, r.Header.Get("Location"))
		}
		if r := postForm(b, "/logout", url.Values{}); r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/login" {
			t.Errorf("POST /logout: %d %q", r.Status, r.Header.Get("Location"))
		}
		if r := b.do("GET", "/logout?rd="+url.QueryEscape("https://evil.example/"), nil, navigation(s.base)...); r.Header.Get("Location") != "/" {
			t.Errorf("GET /logout, evil rd: %d %q", r.Status, r.Header.Get("Location"))
		}
	})

	t.Run("cross-site requests are refused", func(t *testing.T) {
		b := newBrowser(t, s.base)
		cross := []string{"Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"}
		r := b.do("POST", "/login", credentials(email, pw, "").Encode(), append(cross, "Content-Type", "application/x-www-form-urlencoded")...)
		expect(t, r, 403, "Cross-site request refused")
		if len(r.Header.Values("Set-Cookie")) != 0 {
			t.Error("cross-site sign-in set cookies")
		}
		// As a page, for the browser that was sent here.
		r = b.do("POST", "/login", credentials(email, pw, "").Encode(), append(cross, "Content-Type", "application/x-www-form-urlencoded",
			"Sec-Fetch-Mode", "navigate")...)
		if r.Status != 403 || !strings.Contains(r.Raw, "Cross-site request refused") || r.Header.Get("X-Authgate-Error") != "cross_site" {
			t.Errorf("cross-site sign-in page: %d %s", r.Status, r.Raw)
		}

		postForm(b, "/login", credentials(email, pw, ""))
		access := cookieValue(t, b, "access_token")
		expect(t, b.do("GET", "/logout", nil, cross...), 403, "Cross-site request refused")
		expect(t, b.do("POST", "/logout", "", append(cross, "Content-Type", "application/x-www-form-urlencoded")...), 403, "Cross-site request refused")
		expect(t, newClient(t, s.base).do("GET", "/echo/x", nil, "Authorization", "Bearer "+access), 200, "") // still signed in
		if r := b.do("GET", "/logout", nil, "Sec-Fetch-Site", "same-site"); r.Status != 403 {
			t.Errorf("same-site (another subdomain) GET /logout: %d", r.Status)
		}
	})
}

// TestSignInRedirectHosts: redirects.allowed_hosts replaces the default list (the
// route table's hosts and cors.origins), and the gateway's own host stays allowed.
func TestSignInRedirectHosts(t *testing.T) {
	s := loginStack(t, map[string]string{"AUTHGATE_REDIRECTS__ALLOWED_HOSTS": "portal.example.test,*.apps2.example.test"})
	const email, pw = "hosts@example.com", "hosts-password-1"
	expect(t, s.register(t, newClient(t, s.base), "Hosts", email, pw), 201, "")
	for rd, want := range map[string]string{
		"https://portal.example.test/home": "https://portal.example.test/home",
		"https://x.apps2.example.test/":    "https://x.apps2.example.test/",
		"https://x.apps.example.test/":     "/", // a route host, no longer allowed
		"http://localhost:3000/":           "/", // cors.origins, no longer allowed
		"https://evil.example/":            "/",
		s.base + "/echo":                   s.base + "/echo",
	} {
		r := postForm(newBrowser(t, s.base), "/login", credentials(email, pw, rd))
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != want {
			t.Errorf("rd %q: %d Location %q, want %q", rd, r.Status, r.Header.Get("Location"), want)
		}
	}
	b := newBrowser(t, s.base)
	r := b.do("GET", "/logout?rd="+url.QueryEscape("https://portal.example.test/bye"), nil, navigation(s.base)...)
	if r.Header.Get("Location") != "https://portal.example.test/bye" {
		t.Errorf("logout rd: %d %q", r.Status, r.Header.Get("Location"))
	}
}

// TestSignInOutage (SECURITY.md R1, C5): with Redis unreachable the form answers 503
// with a retry message (the email kept), the page is shown rather than a redirect, and
// logout answers 503 and keeps the refresh cookie so that it can be retried.
func TestSignInOutage(t *testing.T) {
	env := gatewayEnv(t, fmt.Sprintf("loginout_%d", time.Now().UnixNano()))
	healthy := &stack{base: startGateway(t, env)}
	const email, pw = "outage@example.com", "outage-password-1"
	expect(t, healthy.register(t, newClient(t, healthy.base), "Otto", email, pw), 201, "")
	signedIn := newBrowser(t, healthy.base)
	postForm(signedIn, "/login", credentials(email, pw, ""))
	refresh := cookieValue(t, signedIn, "refresh_token")

	// A second replica with the same keys and MongoDB, whose Redis is gone.
	env["AUTHGATE_REDIS__URL"] = "redis://127.0.0.1:1/0"
	env["AUTHGATE_REDIS__TIMEOUT"] = "200ms"
	broken := startGateway(t, env)
	b := newBrowser(t, broken)
	r := postForm(b, "/login", credentials(email, pw, "/next"))
	expectPage(t, r, 503, "Service temporarily unavailable, please retry")
	if r.Header.Get("Retry-After") == "" || r.Header.Get("X-Authgate-Error") != "unavailable" ||
		!strings.Contains(r.Raw, `value="`+email+`"`) || hiddenRD(t, r.Raw) != "/next" || len(r.Header.Values("Set-Cookie")) != 0 {
		t.Errorf("sign-in during an outage: %v\n%s", r.Header, r.Raw)
	}
	r = b.do("GET", "/login?rd=/next", nil, append(navigation(broken), "Cookie", "refresh_token="+refresh)...)
	expectPage(t, r, 200, "")
	r = b.do("GET", "/logout", nil, append(navigation(broken), "Cookie", "refresh_token="+refresh)...)
	if r.Status != 503 || !strings.Contains(r.Raw, "Service temporarily unavailable, please retry") {
		t.Fatalf("logout during an outage: %d %s", r.Status, r.Raw)
	}
	if cks := setCookies(t, r); cks["refresh_token"] != nil || cks["access_token"] == nil {
		t.Errorf("logout during an outage set %v", r.Header.Values("Set-Cookie"))
	}
	// The session survived: the healthy replica still knows it.
	expect(t, newClient(t, healthy.base).do("GET", "/api/auth/refresh", nil, "Cookie", "refresh_token="+refresh), 200, "")
}
