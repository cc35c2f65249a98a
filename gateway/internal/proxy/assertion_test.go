package proxy

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/authgate/authgate/authsvc"
	"github.com/authgate/authgate/gateway/internal/routing"
)

// fakeAssertions answers "assertion(<audience>,<user>,<role>)" and records every call.
type fakeAssertions struct {
	mu    sync.Mutex
	calls []string
	err   error
}

func (f *fakeAssertions) For(audience string, id authsvc.Identity) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, audience)
	if f.err != nil {
		return "", f.err
	}
	return "assertion(" + audience + "," + id.UserID + "," + id.Role + ")", nil
}

func (f *fakeAssertions) audiences() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// TestAssertionHeader: a route with Assertion gets the gateway's X-Auth-Assertion for the
// caller, addressed to its name or upstream, after the identity headers; a client's copy
// (any spelling) never reaches any upstream; routes without it never ask for one.
func TestAssertionHeader(t *testing.T) {
	t.Parallel()
	up := newUpstream(t)
	alice := &Identity{UserID: "u1", Role: "user", SessionID: "s1"}
	spoof := map[string][]string{
		"X-Auth-Assertion": {"forged"}, "x_auth_assertion": {"forged"}, "X-AUTH-ASSERTION": {"forged"},
	}
	if !IsIdentityHeader("X-Auth-Assertion", nil) || !IsIdentityHeader("x_auth_assertion", nil) {
		t.Fatal("X-Auth-Assertion is not reserved")
	}
	tests := []struct {
		name     string
		rule     routing.Rule
		id       *Identity
		want     []string // the X-Auth-Assertion the upstream sees
		audience []string // what Assertions was asked for
	}{
		{"named route", routing.Rule{Upstream: up.URL, Access: routing.Authenticated, Assertion: true, Name: "users-app"},
			alice, []string{"assertion(users-app,u1,user)"}, []string{"users-app"}},
		{"audience is the upstream", routing.Rule{Upstream: up.URL + "/base", Access: routing.Roles, Roles: []string{"user"}, Assertion: true},
			alice, []string{"assertion(" + up.URL + "/base,u1,user)"}, []string{up.URL + "/base"}},
		{"route without assertions", routing.Rule{Upstream: up.URL, Access: routing.Authenticated, Name: "users-app"},
			alice, nil, nil},
		{"public route", routing.Rule{Upstream: up.URL, Access: routing.Public}, nil, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := &fakeAssertions{}
			p := newProxy(t, Options{Assertions: fake})
			front := newFront(t, p, mustRoute(t, tt.rule), tt.id)
			got := do(t, newRequest(t, http.MethodGet, front.URL+"/x", spoof))
			var seen []string
			for k, v := range got.Header {
				if strings.EqualFold(strings.ReplaceAll(k, "_", "-"), HeaderAssertion) {
					seen = append(seen, v...)
				}
			}
			if !slices.Equal(seen, tt.want) {
				t.Errorf("upstream saw X-Auth-Assertion %q, want %q", seen, tt.want)
			}
			if a := fake.audiences(); !slices.Equal(a, tt.audience) {
				t.Errorf("Assertions asked for %q, want %q", a, tt.audience)
			}
			if tt.id != nil && got.Header.Get("X-User-Id") != tt.id.UserID {
				t.Errorf("X-User-Id = %q", got.Header.Get("X-User-Id"))
			}
		})
	}
}

// TestAssertionNotSigned: when no assertion can be signed the request is forwarded with
// the identity headers and without any X-Auth-Assertion, and the failure is logged; with
// no Assertions configured none is sent either.
func TestAssertionNotSigned(t *testing.T) {
	t.Parallel()
	up := newUpstream(t)
	route := mustRoute(t, routing.Rule{Upstream: up.URL, Access: routing.Authenticated, Assertion: true})
	alice := &Identity{UserID: "u1", Role: "user", SessionID: "s1"}
	var logs lockedLog
	for name, opts := range map[string]Options{
		"signer fails": {Assertions: &fakeAssertions{err: errors.New("hsm unplugged")}, Logger: slog.New(slog.NewJSONHandler(&logs, nil))},
		"no signer":    {},
	} {
		front := newFront(t, newProxy(t, opts), route, alice)
		got := do(t, newRequest(t, http.MethodGet, front.URL+"/x", map[string][]string{"X-Auth-Assertion": {"forged"}}))
		if v, ok := got.Header[HeaderAssertion]; ok {
			t.Errorf("%s: upstream saw X-Auth-Assertion %q", name, v)
		}
		if got.Header.Get("X-User-Id") != "u1" {
			t.Errorf("%s: identity headers missing", name)
		}
	}
	if s := logs.String(); !strings.Contains(s, "identity assertion not signed") || !strings.Contains(s, "hsm unplugged") {
		t.Errorf("failure not logged: %s", s)
	}
}

type lockedLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedLog) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// BenchmarkForwardAssertion is BenchmarkForward on a route with assertions, signed by the
// real authsvc.Assertions with an RS256 key: one signature, then reuse for TTL/2. Run it
// beside BenchmarkForward:
//
//	go test -run '^$' -bench 'Forward' -benchmem ./gateway/internal/proxy/
func BenchmarkForwardAssertion(b *testing.B) {
	assertions := benchAssertions(b)
	up := benchUpstream(b)
	route := mustRoute(b, routing.Rule{Upstream: up.URL, Access: routing.Authenticated, Assertion: true, Name: "users-app"})
	p := newProxy(b, Options{Assertions: assertions})
	p.Prepare([]*routing.Route{route})
	id := Identity{UserID: "65f1c0ffee0000000000beef", Role: "user", SessionID: "c2Vzc2lvbi1pZC0xMjM0NTY"}
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Header.Set("X-Request-Id", "rid")
		p.Forward(w, r, decision(route, &id))
	}))
	b.Cleanup(front.Close)
	runBench(b, front)
}

// BenchmarkRewriteAssertion is BenchmarkRewrite on a route with assertions: the
// gateway's own per-request work, a reused assertion included, without the network.
func BenchmarkRewriteAssertion(b *testing.B) {
	route := mustRoute(b, routing.Rule{Upstream: "http://127.0.0.1:1/base", Access: routing.Authenticated, Assertion: true, Name: "users-app"})
	p := newProxy(b, Options{Assertions: benchAssertions(b)})
	in := httptest.NewRequest(http.MethodGet, "/api/users/me?x=1", nil)
	in.Header.Set("Cookie", "access_token=eyJhbGciOiJSUzI1NiJ9.e30.sig; logged_in=true; theme=dark")
	in.Header.Set("Accept", "application/json")
	in.Header.Set("X-Request-Id", "rid")
	in.Header.Set("X-User-Id", "spoof")
	id := Identity{UserID: "u1", Role: "user", SessionID: "c2Vzc2lvbi1pZC0xMjM0NTY"}
	in = in.WithContext(context.WithValue(in.Context(), forwardingKey{}, &forwarding{decision: decision(route, &id)}))
	b.ReportAllocs()
	for b.Loop() {
		p.rewrite(&httputil.ProxyRequest{In: in, Out: in.Clone(in.Context())}, route)
	}
}

// benchAssertions is the real authsvc.Assertions on an RS256 key.
func benchAssertions(b *testing.B) *authsvc.Assertions {
	b.Helper()
	pair := func(alg string) string {
		kp, err := authsvc.GenerateKeyPair(alg)
		if err != nil {
			b.Fatal(err)
		}
		return string(kp.PrivatePEM)
	}
	keys, err := authsvc.LoadKeys(authsvc.KeyConfig{
		Access: authsvc.KeySpec{Private: pair(authsvc.EdDSA)}, Refresh: authsvc.KeySpec{Private: pair(authsvc.EdDSA)},
		Assertion: authsvc.KeySpec{Private: pair(authsvc.RS256)},
	}, "")
	if err != nil {
		b.Fatal(err)
	}
	assertions, err := authsvc.NewAssertions(keys, authsvc.AssertionConfig{TTL: authsvc.MaxAssertionTTL / 2, Issuer: "authgate"})
	if err != nil {
		b.Fatal(err)
	}
	return assertions
}
