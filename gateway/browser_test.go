package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/authgate/authgate/gateway/internal/forwardauth"
)

// TestBrowserBehindNginx drives Debian's Chromium (headless, through chromedp) against
// a protected page behind real nginx: the page sends it to /login on
// auth.example.com, it signs in with the form, comes back to the page, survives an
// access-token expiry without seeing the sign-in page (the refresh cookie proves the
// session), logs out and is sent to sign in again. Every host name resolves to
// 127.0.0.1 inside the browser (--host-resolver-rules); nothing leaves loopback.
func TestBrowserBehindNginx(t *testing.T) {
	chromium := needBinary(t, "chromium", "chromium")
	needBinary(t, "nginx", "nginx-light")
	t.Parallel()
	const ttl = 2 * time.Second
	s := startProxyStack(t, "nginx", startNginx, map[string]string{"AUTHGATE_TOKENS__ACCESS_TTL": ttl.String()})
	id := s.register(t, "Carol", "carol@example.com", "carol-password")
	page := s.url("app.example.com", "/echo/browser?from=chromium")
	signIn := forwardauth.SignInURL(s.url("auth.example.com", "/login"), page)

	opts := append([]chromedp.ExecAllocatorOption{},
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox, // the tests run as root
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("no-proxy-server", true),
		chromedp.Flag("host-resolver-rules", "MAP * 127.0.0.1"),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()

	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	location := func() string {
		t.Helper()
		loc, err := chromedp.Run(ctx, chromedp.Location())
		if err != nil {
			t.Fatalf("location: %v", err)
		}
		return loc
	}
	// waitFor waits until the browser is at want and returns the page's text.
	waitFor := func(what, want string) string {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			loc := location()
			if loc == want {
				body, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				return body
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: at %q, want %q", what, loc, want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	do("open the protected page", chromedp.Navigate(page))
	if loc := location(); loc != signIn {
		t.Fatalf("the page sent the browser to %q, want %q", loc, signIn)
	}

	do("sign in",
		chromedp.WaitVisible(chromedp.CSS(`input[name="email"]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name="email"]`), "carol@example.com"),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), "carol-password"),
		chromedp.Submit(chromedp.CSS(`input[name="password"]`)),
	)
	if body := waitFor("back on the page", page); !strings.Contains(body, id) {
		t.Fatalf("the page does not show X-User-Id %s:\n%s", id, body)
	}

	time.Sleep(ttl + 300*time.Millisecond)
	do("reload after the access token expired", chromedp.Navigate(page))
	if body := waitFor("still on the page", page); !strings.Contains(body, id) {
		t.Fatalf("after the expiry the page does not show %s:\n%s", id, body)
	}

	do("log out", chromedp.Navigate(s.url("auth.example.com", "/logout")))
	forms, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.forms.length`))
	if err != nil {
		t.Fatal(err)
	}
	if forms > 0 { // a confirmation form: submit it
		do("confirm logout", chromedp.Submit(chromedp.CSS(`form`)), chromedp.Sleep(500*time.Millisecond))
	}
	do("the page after logout", chromedp.Navigate(page))
	if loc := location(); !strings.HasPrefix(loc, s.url("auth.example.com", "/login?rd=")) {
		t.Fatalf("after logout the page sent the browser to %q, want the sign-in page", loc)
	}
}
