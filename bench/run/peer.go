package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// peer is oauth2-proxy running in proxy mode in front of upstream-demo, with one htpasswd
// user signed in and its session in Redis.
type peer struct {
	p          *proc
	addr       string
	cookieName string
	cookie     string // "name=value" of the signed-in session
}

// startPeer starts oauth2-proxy and signs in through its htpasswd form. Any failure is
// returned, and the caller skips the peer scenarios with it.
func (st *stack) startPeer(ctx context.Context) (*peer, error) {
	dir := filepath.Join(st.dir, "oauth2-proxy")
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("oauth2-proxy dir: %w", err)
	}
	const user, password = "bench", "bench-peer-password"
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return nil, fmt.Errorf("htpasswd: %w", err)
	}
	htpasswd := filepath.Join(dir, "htpasswd")
	if err := os.WriteFile(htpasswd, []byte(user+":"+string(hash)+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("htpasswd: %w", err)
	}
	secret := make([]byte, 16)
	if _, err := rand.Read(secret); err != nil {
		return nil, fmt.Errorf("cookie secret: %w", err)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	pr := &peer{addr: "127.0.0.1:" + strconv.Itoa(port), cookieName: "_bench_o2p_" + st.runID}
	args := []string{
		"--http-address=" + pr.addr,
		"--upstream=http://" + st.upstream.addr + "/",
		// htpasswd users only: the OAuth provider is never contacted, but one must be named.
		"--provider=google", "--client-id=bench", "--client-secret=bench",
		"--htpasswd-file=" + htpasswd, "--email-domain=*", "--skip-provider-button",
		"--cookie-secret=" + hex.EncodeToString(secret), // 32 bytes
		"--cookie-name=" + pr.cookieName, "--cookie-secure=false",
		"--session-store-type=redis", "--redis-connection-url=" + st.redisURL,
		"--set-xauthrequest",
	}
	pr.p, err = st.ps.start(ctx, spec{name: "oauth2-proxy", bin: st.bins.peer, dir: dir, args: args})
	if err != nil {
		return nil, err
	}
	if err := waitTCP(ctx, pr.p, pr.addr, 20*time.Second); err != nil {
		return nil, err
	}
	if err := pr.signIn(ctx, user, password); err != nil {
		return nil, err
	}
	return pr, nil
}

// signIn posts the htpasswd sign-in form, keeps the session cookie and checks that it
// opens the upstream (proxy mode) and /oauth2/auth (202), and that nothing opens them
// without it.
func (pr *peer) signIn(ctx context.Context, user, password string) error {
	hc := httpClient(4)
	base := "http://" + pr.addr
	a, err := formPost(ctx, hc, base+"/oauth2/sign_in", url.Values{"username": {user}, "password": {password}, "rd": {"/"}})
	if err != nil {
		return err
	}
	v := a.cookie(pr.cookieName)
	if a.status != http.StatusFound || v == "" {
		return fmt.Errorf("oauth2-proxy sign-in: %d without a %s cookie: %s", a.status, pr.cookieName, a.body)
	}
	pr.cookie = pr.cookieName + "=" + v
	for _, c := range []struct {
		path   string
		cookie bool
		want   int
	}{
		{"/api/whoami", true, http.StatusOK},
		{"/oauth2/auth", true, http.StatusAccepted},
		{"/api/whoami", false, http.StatusFound},
		{"/oauth2/auth", false, http.StatusUnauthorized},
	} {
		h := http.Header{}
		if c.cookie {
			h.Set("Cookie", pr.cookie)
		}
		a, err := do(ctx, hc, http.MethodGet, base+c.path, h, nil)
		if err != nil {
			return err
		}
		if a.status != c.want {
			return fmt.Errorf("oauth2-proxy check: GET %s (cookie %t) answered %d, want %d", c.path, c.cookie, a.status, c.want)
		}
	}
	return nil
}
