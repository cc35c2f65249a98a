package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// httpClient is the runner's own client for set-up and for the login and refresh
// drivers: keep-alive, no cookie jar (cookies are handled explicitly), no redirects.
func httpClient(conns int) *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			Proxy:               nil,
			MaxIdleConns:        conns,
			MaxIdleConnsPerHost: conns,
			DisableCompression:  true,
			IdleConnTimeout:     90 * time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// answer is a response read whole.
type answer struct {
	status  int
	body    []byte
	cookies []*http.Cookie
	header  http.Header
}

// cookie returns the value of the named Set-Cookie ("" if absent).
func (a answer) cookie(name string) string {
	for _, c := range a.cookies {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// do sends one request and reads the answer.
func do(ctx context.Context, hc *http.Client, method, u string, header http.Header, body io.Reader) (answer, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return answer{}, fmt.Errorf("request: %w", err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	res, err := hc.Do(req)
	if err != nil {
		return answer{}, fmt.Errorf("%s %s: %w", method, u, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return answer{}, fmt.Errorf("%s %s: read: %w", method, u, err)
	}
	return answer{status: res.StatusCode, body: b, cookies: res.Cookies(), header: res.Header}, nil
}

// postJSON posts v as JSON.
func postJSON(ctx context.Context, hc *http.Client, u string, v any) (answer, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return answer{}, fmt.Errorf("encode: %w", err)
	}
	return do(ctx, hc, http.MethodPost, u, http.Header{"Content-Type": {"application/json"}}, bytes.NewReader(b))
}

// benchUser is one pre-registered account.
type benchUser struct{ email, password string }

func userN(runID string, i int) benchUser {
	return benchUser{
		email:    fmt.Sprintf("bench-%s-%03d@bench.example", runID, i),
		password: fmt.Sprintf("bench-password-%03d", i),
	}
}

// register creates u through base (201, or 409 when it already exists); a 503 (hashing
// slots busy) is retried.
func register(ctx context.Context, hc *http.Client, base string, u benchUser) error {
	for try := 0; ; try++ {
		a, err := postJSON(ctx, hc, base+"/api/auth/register", map[string]string{
			"name": "Bench User", "email": u.email, "password": u.password, "passwordConfirm": u.password,
		})
		if err != nil {
			return err
		}
		switch {
		case a.status == http.StatusCreated || a.status == http.StatusConflict:
			return nil
		case a.status == http.StatusServiceUnavailable && try < 5:
			time.Sleep(time.Second)
		default:
			return fmt.Errorf("register %s: %d %s", u.email, a.status, a.body)
		}
	}
}

// grant is what a successful login or refresh returned.
type grant struct {
	access, refresh string
}

// login signs u in through base.
func login(ctx context.Context, hc *http.Client, base string, u benchUser) (grant, answer, error) {
	a, err := postJSON(ctx, hc, base+"/api/auth/login", map[string]string{"email": u.email, "password": u.password})
	if err != nil {
		return grant{}, a, err
	}
	if a.status != http.StatusOK {
		return grant{}, a, fmt.Errorf("login %s: %d %s", u.email, a.status, a.body)
	}
	var v struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(a.body, &v); err != nil || v.AccessToken == "" {
		return grant{}, a, fmt.Errorf("login %s: no access_token in %s", u.email, a.body)
	}
	return grant{access: v.AccessToken, refresh: a.cookie("refresh_token")}, a, nil
}

// loginRetry logs in, retrying a 503 (hashing slots busy) a few times: for set-up only.
func loginRetry(ctx context.Context, hc *http.Client, base string, u benchUser) (grant, error) {
	for try := 0; ; try++ {
		g, a, err := login(ctx, hc, base, u)
		if err == nil || a.status != http.StatusServiceUnavailable || try >= 5 {
			return g, err
		}
		time.Sleep(time.Second)
	}
}

// forge returns token with its signature replaced: well-formed, correctly encoded, and
// signed by nobody.
func forge(token string) string {
	i := strings.LastIndexByte(token, '.')
	if i < 0 {
		return token + ".AAAA"
	}
	sig := []byte(token[i+1:])
	for j := range sig {
		if sig[j] == 'A' {
			sig[j] = 'B'
		} else {
			sig[j] = 'A'
		}
	}
	return token[:i+1] + string(sig)
}

// formPost posts an HTML form (oauth2-proxy's sign-in).
func formPost(ctx context.Context, hc *http.Client, u string, form url.Values) (answer, error) {
	return do(ctx, hc, http.MethodPost, u, http.Header{"Content-Type": {"application/x-www-form-urlencoded"}},
		strings.NewReader(form.Encode()))
}
