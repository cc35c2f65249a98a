package authz

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/authgate/authgate/authsvc"
	"github.com/authgate/authgate/gateway/internal/csrf"
	"github.com/authgate/authgate/gateway/internal/routing"
)

// sessions is an Authenticator over a fixed token → identity map; the decision logic
// under test does not depend on how a session store behaves.
type sessions struct {
	ids      map[string]authsvc.Identity
	refresh  map[string]authsvc.Identity
	err      error
	calls    int
	refreshN int
}

func (s *sessions) AuthenticateRefresh(_ context.Context, token string) (authsvc.Identity, error) {
	s.refreshN++
	if s.err != nil {
		return authsvc.Identity{}, s.err
	}
	id, ok := s.refresh[token]
	if !ok {
		return authsvc.Identity{}, authsvc.ErrSessionExpired
	}
	return id, nil
}

func (s *sessions) Authenticate(_ context.Context, token string) (authsvc.Identity, error) {
	s.calls++
	if s.err != nil {
		return authsvc.Identity{}, s.err
	}
	id, ok := s.ids[token]
	if !ok {
		return authsvc.Identity{}, authsvc.ErrInvalidToken
	}
	return id, nil
}

func table(t *testing.T) *routing.Table {
	t.Helper()
	up := "http://127.0.0.1:9000"
	tbl, err := routing.NewTable([]routing.Rule{
		{Host: "admin.example.com", Path: "/", Access: routing.Roles, Roles: []string{"admin"}},
		{Path: "/api/users/me", Exact: true, Upstream: up, Access: routing.Authenticated},
		{Path: "/api/users", Upstream: up, Access: routing.Roles, Roles: []string{"admin"}},
		{Path: "/public", Upstream: up, Access: routing.Public},
		{Path: "/", Upstream: up, Access: routing.Public},
	})
	if err != nil {
		t.Fatal(err)
	}
	return tbl
}

// TestDecide is the decision the proxy and every forward-auth adapter share: each row
// is one request, decided once, with the error (or pass) and whether the session store
// was consulted.
func TestDecide(t *testing.T) {
	ids := map[string]authsvc.Identity{
		"user-token":  {UserID: "u1", Role: "user", SessionID: "s1"},
		"admin-token": {UserID: "a1", Role: "admin", SessionID: "s2"},
	}
	tests := []struct {
		name, method, host, path, escaped, token string
		want                                     error // nil: allowed
		route                                    int   // matched rule, -1 none
		asked                                    bool  // the Authenticator was called
	}{
		{"public, no token", "GET", "", "/public/x", "", "", nil, 3, false},
		{"public, a bad token is not looked at", "GET", "", "/public/x", "", "junk", nil, 3, false},
		{"protected, no token", "GET", "", "/api/users/me", "", "", authsvc.ErrNotLoggedIn, 1, false},
		{"protected, invalid token", "GET", "", "/api/users/me", "", "junk", authsvc.ErrInvalidToken, 1, true},
		{"protected, user", "GET", "", "/api/users/me", "", "user-token", nil, 1, true},
		{"admin route, user", "GET", "", "/api/users", "", "user-token", authsvc.ErrForbidden, 2, true},
		{"admin route, admin", "DELETE", "", "/api/users/42", "", "admin-token", nil, 2, true},
		{"case fold onto the exact rule needs admin too", "GET", "", "/api/users/ME", "", "user-token", authsvc.ErrForbidden, 1, true},
		{"case fold, admin", "GET", "", "/API/USERS/ME", "", "admin-token", nil, 1, true},
		{"catch-all capitals cannot reach the admin prefix", "GET", "", "/API/Users", "", "", authsvc.ErrNotLoggedIn, 2, false},
		{"host rule, user", "GET", "Admin.Example.com", "/anything", "", "user-token", authsvc.ErrForbidden, 0, true},
		{"host rule, admin", "GET", "admin.example.com", "/anything", "", "admin-token", nil, 0, true},
		{"other host falls through", "GET", "app.example.com", "/anything", "", "", nil, 4, false},
		{"traversal", "GET", "", "/public/../api/users", "/public/../api/users", "", routing.ErrBadPath, -1, false},
		{"encoded slash", "GET", "", "/public/../api", "/public/..%2fapi", "admin-token", routing.ErrBadPath, -1, false},
		{"ambiguous trailing dot", "GET", "", "/api/users.", "", "user-token", routing.ErrBadPath, -1, false},
		{"ambiguous dotless i", "GET", "", "/publ\u0131c", "", "", routing.ErrBadPath, -1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			auth := &sessions{ids: ids}
			d := New(table(t), routing.PathCheck{}, auth)
			escaped := tt.escaped
			if escaped == "" {
				escaped = tt.path
			}
			dec, err := d.Decide(context.Background(), Request{
				Method: tt.method, Host: tt.host, Path: tt.path, EscapedPath: escaped, Token: tt.token,
			})
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Fatalf("Decide = %v, want %v", err, tt.want)
			}
			got := -1
			if dec.Route() != nil {
				got = dec.Route().Index
			}
			if got != tt.route {
				t.Errorf("route %d, want %d", got, tt.route)
			}
			if (auth.calls > 0) != tt.asked {
				t.Errorf("Authenticator called %d times, want called: %v", auth.calls, tt.asked)
			}
			if err == nil && dec.Authenticated != (tt.token != "" && tt.asked) {
				t.Errorf("Authenticated = %v", dec.Authenticated)
			}
			if err == nil && dec.Authenticated && dec.Identity != ids[tt.token] {
				t.Errorf("identity %+v", dec.Identity)
			}
		})
	}
}

// TestDecideFailsClosed (SECURITY.md R1): a store that cannot answer never lets a
// protected request through, and the error stays recognisable.
func TestDecideFailsClosed(t *testing.T) {
	for _, cause := range []error{
		fmt.Errorf("%w: redis: i/o timeout", authsvc.ErrUnavailable),
		authsvc.ErrSessionExpired,
		errors.New("something unexpected"),
	} {
		d := New(table(t), routing.PathCheck{}, &sessions{err: cause})
		dec, err := d.Decide(context.Background(), Request{Method: "GET", Path: "/api/users/me", EscapedPath: "/api/users/me", Token: "t"})
		if !errors.Is(err, cause) || dec.Authenticated {
			t.Errorf("store error %v: Decide = %+v, %v", cause, dec, err)
		}
	}
}

// TestDecideRefreshProof: a live session's refresh token stands in for a missing or
// expired access token when the adapter offers it, never for a store that is down, and
// the decision says so.
func TestDecideRefreshProof(t *testing.T) {
	user := authsvc.Identity{UserID: "u1", Role: "user", SessionID: "s1"}
	tests := []struct {
		name, token, refresh string
		storeErr             error
		want                 error
		byRefresh            bool
	}{
		{"refresh alone", "", "good-refresh", nil, nil, true},
		{"expired access, good refresh", "expired", "good-refresh", nil, nil, true},
		{"valid access wins", "user-token", "good-refresh", nil, nil, false},
		{"dead refresh: the access token's answer", "expired", "dead-refresh", nil, authsvc.ErrInvalidToken, false},
		{"dead refresh alone: not logged in", "", "dead-refresh", nil, authsvc.ErrNotLoggedIn, false},
		{"no refresh offered", "", "", nil, authsvc.ErrNotLoggedIn, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			auth := &sessions{ids: map[string]authsvc.Identity{"user-token": user}, refresh: map[string]authsvc.Identity{"good-refresh": user}}
			d := New(table(t), routing.PathCheck{}, auth)
			dec, err := d.Decide(context.Background(), Request{Method: "GET", Path: "/api/users/me", EscapedPath: "/api/users/me",
				Token: tt.token, RefreshToken: tt.refresh, CookieAuth: true})
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) || dec.ByRefresh != tt.byRefresh {
				t.Fatalf("Decide = %+v, %v; want %v, byRefresh %v", dec, err, tt.want, tt.byRefresh)
			}
		})
	}
	down := &sessions{err: fmt.Errorf("%w: redis", authsvc.ErrUnavailable)}
	_, err := New(table(t), routing.PathCheck{}, down).Decide(context.Background(), Request{
		Method: "GET", Path: "/api/users/me", EscapedPath: "/api/users/me", RefreshToken: "good-refresh"})
	if !errors.Is(err, authsvc.ErrUnavailable) {
		t.Fatalf("refresh proof with Redis down: %v", err)
	}
}

// TestDecideCrossSite (SECURITY.md C3): a cross-site unsafe request riding a cookie is
// refused on protected routes; Bearer requests and routes that opt out are not.
func TestDecideCrossSite(t *testing.T) {
	up := "http://127.0.0.1:9000"
	tbl, err := routing.NewTable([]routing.Rule{
		{Path: "/hooks", Upstream: up, Access: routing.Authenticated, SkipCSRF: true},
		{Path: "/api", Upstream: up, Access: routing.Authenticated},
		{Path: "/", Upstream: up, Access: routing.Public},
	})
	if err != nil {
		t.Fatal(err)
	}
	auth := &sessions{ids: map[string]authsvc.Identity{"tok": {UserID: "u1", Role: "user"}},
		refresh: map[string]authsvc.Identity{"r": {UserID: "u1", Role: "user"}}}
	d := New(tbl, routing.PathCheck{}, auth)
	tests := []struct {
		name, path, token, refresh string
		cookie, crossSite          bool
		want                       error
	}{
		{"cookie, cross-site", "/api/x", "tok", "", true, true, csrf.ErrCrossSite},
		{"refresh proof, cross-site", "/api/x", "", "r", true, true, csrf.ErrCrossSite},
		{"bearer, cross-site", "/api/x", "tok", "", false, true, nil},
		{"cookie, same-site", "/api/x", "tok", "", true, false, nil},
		{"route opted out", "/hooks/x", "tok", "", true, true, nil},
		{"public route", "/x", "", "", true, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := d.Decide(context.Background(), Request{Method: "POST", Path: tt.path, EscapedPath: tt.path,
				Token: tt.token, RefreshToken: tt.refresh, CookieAuth: tt.cookie, CrossSite: tt.crossSite})
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Fatalf("Decide = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestDecideAmbiguousAllowed(t *testing.T) {
	d := New(table(t), routing.PathCheck{AllowAmbiguousSegments: true}, &sessions{})
	if _, err := d.Decide(context.Background(), Request{Method: "GET", Path: "/public.", EscapedPath: "/public."}); err != nil {
		t.Fatalf("allowed ambiguous segment refused: %v", err)
	}
	if _, err := d.Decide(context.Background(), Request{Method: "GET", Path: "/a/../b", EscapedPath: "/a/../b"}); !errors.Is(err, routing.ErrBadPath) {
		t.Fatalf("the setting let a dot segment through: %v", err)
	}
}

func TestHeaders(t *testing.T) {
	id := authsvc.Identity{UserID: "u1", Role: "admin", Email: "a@x.io", Name: "Ada\r\nX-Injected: 1"}
	h := NewHeaders([]Alias{
		{Header: "remote-user", Field: FieldID}, {Header: "Remote-Email", Field: FieldEmail},
		{Header: "Remote-Name", Field: FieldName}, {Header: "Remote-Groups", Field: FieldRole},
	})
	dst := http.Header{"X-User-Id": {"spoofed"}, "Remote-Name": {"spoofed"}}
	h.Set(dst, id)
	want := http.Header{"X-User-Id": {"u1"}, "X-User-Role": {"admin"}, "Remote-User": {"u1"},
		"Remote-Email": {"a@x.io"}, "Remote-Groups": {"admin"}}
	if fmt.Sprint(dst) != fmt.Sprint(want) {
		t.Fatalf("headers %v, want %v (a value with a line break is left out)", dst, want)
	}
	if names := h.Names(); len(names) != 6 || names[2] != "Remote-User" {
		t.Errorf("Names = %q", names)
	}
	var zero Headers
	dst = http.Header{}
	zero.Set(dst, authsvc.Identity{UserID: "u2"})
	if fmt.Sprint(dst) != "map[X-User-Id:[u2]]" {
		t.Errorf("zero Headers: %v", dst)
	}
}
