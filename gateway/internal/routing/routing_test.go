package routing

import (
	"errors"
	"strings"
	"testing"
)

const up = "http://127.0.0.1:9000"

func TestNewTableRejects(t *testing.T) {
	t.Parallel()
	ok := Rule{Path: "/api", Upstream: up, Access: Authenticated}
	with := func(f func(*Rule)) Rule { r := ok; f(&r); return r }
	tests := []struct {
		name  string
		rules []Rule
		want  string // substring of the error
	}{
		{"empty path", []Rule{with(func(r *Rule) { r.Path = "" })}, "does not start with '/'"},
		{"relative path", []Rule{with(func(r *Rule) { r.Path = "api" })}, "does not start with '/'"},
		{"dot segment", []Rule{with(func(r *Rule) { r.Path = "/api/../x" })}, "dot segment"},
		{"double slash", []Rule{with(func(r *Rule) { r.Path = "/api//x" })}, "empty segment"},
		{"semicolon", []Rule{with(func(r *Rule) { r.Path = "/api;x" })}, "matrix"},
		{"percent", []Rule{with(func(r *Rule) { r.Path = "/100%" })}, "decoded"},
		{"encoded", []Rule{with(func(r *Rule) { r.Path = "/a%20b" })}, "double percent"},
		{"prefix trailing slash", []Rule{with(func(r *Rule) { r.Path = "/api/" })}, "must not end in '/'"},
		{"bad method", []Rule{with(func(r *Rule) { r.Methods = []string{"GE T"} })}, "not an HTTP token"},
		{"empty method", []Rule{with(func(r *Rule) { r.Methods = []string{""} })}, "not an HTTP token"},
		{"bad host", []Rule{with(func(r *Rule) { r.Host = "exa mple.com" })}, "host"},
		{"host with port", []Rule{with(func(r *Rule) { r.Host = "example.com:80" })}, "host"},
		{"inner wildcard", []Rule{with(func(r *Rule) { r.Host = "a.*.example.com" })}, "wildcard"},
		{"wildcard ip", []Rule{with(func(r *Rule) { r.Host = "*.10.0.0.1" })}, "host"},
		{"ftp upstream", []Rule{with(func(r *Rule) { r.Upstream = "ftp://h/" })}, "scheme"},
		{"relative upstream", []Rule{with(func(r *Rule) { r.Upstream = "/x" })}, "scheme"},
		{"no host", []Rule{with(func(r *Rule) { r.Upstream = "http:///x" })}, "host"},
		{"user info", []Rule{with(func(r *Rule) { r.Upstream = "http://u:p@h/" })}, "user info"},
		{"query", []Rule{with(func(r *Rule) { r.Upstream = "http://h/?a=1" })}, "query"},
		{"fragment", []Rule{with(func(r *Rule) { r.Upstream = "http://h/#f" })}, "fragment"},
		{"unclean base path", []Rule{with(func(r *Rule) { r.Upstream = "http://h/a/../b" })}, "dot segment"},
		{"zero access", []Rule{with(func(r *Rule) { r.Access = 0 })}, "unknown access"},
		{"roles without roles", []Rule{with(func(r *Rule) { r.Access = Roles })}, "at least one role"},
		{"empty role", []Rule{with(func(r *Rule) { r.Access = Roles; r.Roles = []string{""} })}, "empty role"},
		{"roles on authenticated", []Rule{with(func(r *Rule) { r.Roles = []string{"admin"} })}, "only allowed"},
		{"assertion on a public route", []Rule{with(func(r *Rule) { r.Access = Public; r.Assertion = true })}, "assertion: needs a signed-in caller"},
		{"assertion without upstream", []Rule{with(func(r *Rule) { r.Upstream = ""; r.Assertion = true })}, "assertion: needs an upstream"},
		{"name with a space", []Rule{with(func(r *Rule) { r.Name = "users app" })}, "name: must be"},
		{"name with a control character", []Rule{with(func(r *Rule) { r.Name = "users\napp" })}, "name: must be"},
		{"name too long", []Rule{with(func(r *Rule) { r.Name = strings.Repeat("n", 201) })}, "name: must be"},
		{"catch-all first", []Rule{
			{Path: "/", Upstream: up, Access: Public},
			{Path: "/api", Upstream: up, Access: Roles, Roles: []string{"admin"}},
		}, "rule 1 (\"/api\") is shadowed by rule 0"},
		{"public prefix over protected", []Rule{
			{Path: "/api", Upstream: up, Access: Public},
			{Path: "/api/admin", Upstream: up, Access: Roles, Roles: []string{"admin"}},
		}, "shadowed"},
		{"case variant", []Rule{
			{Path: "/api", Upstream: up, Access: Authenticated},
			{Path: "/API/x", Exact: true, Upstream: up, Access: Public},
		}, "shadowed"},
		{"same exact twice", []Rule{
			{Path: "/a", Exact: true, Upstream: up, Access: Public},
			{Path: "/a", Exact: true, Upstream: up, Access: Authenticated},
		}, "shadowed"},
		{"any host before one host", []Rule{
			{Path: "/a", Upstream: up, Access: Public},
			{Host: "x.example.com", Path: "/a", Upstream: up, Access: Authenticated},
		}, "shadowed"},
		{"wildcard before its host", []Rule{
			{Host: "*.example.com", Path: "/", Upstream: up, Access: Public},
			{Host: "app.example.com", Path: "/a", Upstream: up, Access: Authenticated},
		}, "shadowed"},
		{"methods covered", []Rule{
			{Path: "/a", Methods: []string{"GET", "POST"}, Upstream: up, Access: Authenticated},
			{Path: "/a/b", Methods: []string{"head"}, Upstream: up, Access: Public},
		}, "shadowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			table, err := NewTable(tt.rules)
			if err == nil {
				t.Fatalf("NewTable accepted %+v", tt.rules)
			}
			if table != nil {
				t.Error("NewTable returned a table with an error")
			}
			if !errors.Is(err, ErrInvalidRule) {
				t.Errorf("error %v does not wrap ErrInvalidRule", err)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "rule ") {
				t.Errorf("error %q does not contain %q and a rule index", err, tt.want)
			}
		})
	}
}

func TestNewTableReportsEveryProblem(t *testing.T) {
	t.Parallel()
	_, err := NewTable([]Rule{
		{Path: "/ok", Upstream: up, Access: Public},
		{Path: "bad", Upstream: up, Access: Public},
		{Path: "/ok2", Upstream: "nope", Access: Public},
	})
	if err == nil {
		t.Fatal("NewTable accepted bad rules")
	}
	for _, want := range []string{"rule 1", "rule 2"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	if strings.Contains(err.Error(), "rule 0") {
		t.Errorf("error %q names the valid rule 0", err)
	}
}

func TestNewTableAccepts(t *testing.T) {
	t.Parallel()
	methods := []string{"get", "Post"}
	roles := []string{"admin"}
	rules := []Rule{
		{Path: "/docs", Exact: true, Upstream: up + "/base/", Access: Public},
		{Path: "/docs", Upstream: up, Access: Authenticated},
		{Path: "/api/admin", Methods: methods, Upstream: "https://h.example:8443", Access: Roles, Roles: roles},
		{Path: "/api/admin", Upstream: up, Access: Authenticated},
		{Path: "/", Upstream: up, Access: Public},
	}
	table, err := NewTable(rules)
	if err != nil {
		t.Fatal(err)
	}
	routes := table.Routes()
	if len(routes) != len(rules) {
		t.Fatalf("Routes() has %d routes, want %d", len(routes), len(rules))
	}
	for i, r := range routes {
		if r.Index != i || r.Path != rules[i].Path || r.Target == nil {
			t.Errorf("route %d = %+v", i, r)
		}
	}
	if got := routes[0].Target.String(); got != up+"/base/" {
		t.Errorf("Target = %q", got)
	}
	if got := routes[2].Methods; len(got) != 2 || got[0] != "GET" || got[1] != "POST" {
		t.Errorf("methods not normalised: %q", got)
	}
	// The table keeps its own copies.
	methods[0], roles[0] = "DELETE", "guest"
	if routes[2].Methods[0] != "GET" || !routes[2].Allows("admin") || routes[2].Allows("guest") {
		t.Error("changing the caller's slices changed the route")
	}
	if m, ok := table.Match("DELETE", "", "/api/admin"); !ok || m.Route.Index != 3 {
		t.Errorf("Match after mutation = %v, %v; want rule 3", m, ok)
	}
	// Hosts do not shadow each other; a rule without upstream serves forward auth only.
	if _, err := NewTable([]Rule{
		{Host: "a.example.com", Path: "/", Access: Authenticated},
		{Host: "b.example.com", Path: "/", Access: Public},
		{Host: "*.example.com", Path: "/", Upstream: up, Access: Authenticated},
		{Path: "/", Upstream: up, Access: Public},
	}); err != nil {
		t.Errorf("host rules: %v", err)
	}
}

func TestRouteAllows(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		access Access
		roles  []string
		role   string
		want   bool
		public bool
	}{
		{"public anyone", Public, nil, "", true, true},
		{"authenticated any role", Authenticated, nil, "user", true, false},
		{"roles listed", Roles, []string{"admin", "ops"}, "ops", true, false},
		{"roles not listed", Roles, []string{"admin"}, "user", false, false},
		{"roles case-sensitive", Roles, []string{"admin"}, "Admin", false, false},
		{"roles empty role", Roles, []string{"admin"}, "", false, false},
		{"unknown access", Access(99), nil, "admin", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := &Route{Rule: Rule{Access: tt.access, Roles: tt.roles}}
			if got := r.Allows(tt.role); got != tt.want {
				t.Errorf("Allows(%q) = %v, want %v", tt.role, got, tt.want)
			}
			if got := r.Public(); got != tt.public {
				t.Errorf("Public() = %v, want %v", got, tt.public)
			}
		})
	}
}

func TestAccessString(t *testing.T) {
	t.Parallel()
	for a, want := range map[Access]string{Public: "public", Authenticated: "authenticated", Roles: "roles", 7: "Access(7)"} {
		if got := a.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int(a), got, want)
		}
	}
}

// TestAudience: an assertion is addressed to the route's name, or else to its upstream as
// written (trailing slash and all).
func TestAudience(t *testing.T) {
	t.Parallel()
	table, err := NewTable([]Rule{
		{Path: "/a", Upstream: up + "/base/", Access: Authenticated, Assertion: true},
		{Path: "/b", Upstream: up, Access: Roles, Roles: []string{"admin"}, Assertion: true, Name: "urn:example:users"},
	})
	if err != nil {
		t.Fatal(err)
	}
	routes := table.Routes()
	if got := routes[0].Audience(); got != up+"/base/" {
		t.Errorf("audience without a name = %q", got)
	}
	if got := routes[1].Audience(); got != "urn:example:users" || !routes[1].Assertion {
		t.Errorf("audience with a name = %q", got)
	}
}
