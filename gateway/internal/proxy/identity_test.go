package proxy

import (
	"net/http"
	"net/textproto"
	"strings"
	"testing"
)

func TestIsIdentityHeader(t *testing.T) {
	t.Parallel()
	aliases := []string{"X-Email", "X_Pomerium_Claim_*", "*"}
	tests := []struct {
		name string
		want bool
	}{
		{"X-User-Id", true},
		{"x-user-id", true},
		{"X-USER-ID", true},
		{"x_user_id", true},
		{"X_User_Role", true},
		{"X-User", true},
		{"X-Username", true},
		{"X-Userinfo", true},
		{"X-User-Agent", true},
		{"X-Auth", true},
		{"X-Auth-Request-User", true},
		{"x_auth_request_email", true},
		{"X-Authenticated-Userid", true},
		{"X-Forwarded-User", true},
		{"X-Forwarded-Email", true},
		{"X-FORWARDED-GROUPS", true},
		{"X-Forwarded-Preferred-Username", true},
		{"x_forwarded_preferred_username", true},
		{"X-Forwarded-Access-Token", true},
		{"X-Remote-User", true},
		{"Remote-User", true},
		{"remote_groups", true},
		{"Remote-Name", true},
		{"REMOTE-EMAIL", true},
		{"X-Email", true},
		{"x_email", true},
		{"X-Pomerium-Claim-Email", true},
		{"x-pomerium-claim-", true},
		{"X-Real-Ip", true},
		{"x_real_ip", true},
		{"True-Client-IP", true},
		{"X-Client-IP", true},
		{"CF-Connecting-IP", true},
		{"Fastly-Client-IP", true},
		{"X-Cluster-Client-Ip", true},
		{"Forwarded", true},
		{"Remote-Addr", true},
		{"Remote-User2", true},
		{"Remote-Anything", true},
		{"X-Remote-Group", true},
		{"X-Webauth-User", true},
		{"X-WEBAUTH-EMAIL", true},
		{"X-Forwarded-Roles", true},
		{"X-Goog-Authenticated-User-Email", true},
		{"X-Goog-Authenticated-User-Id", true},
		{"X-Goog-Iap-Jwt-Assertion", true},
		{"X-Amzn-Oidc-Data", true},
		{"X-Amzn-Oidc-Identity", true},
		{"X-Ms-Client-Principal", true},
		{"X-Ms-Client-Principal-Name", true},

		{"X-Authorization", false},
		{"Authorization", false},
		{"X-Forwarded-For", false},
		{"X-Forwarded-Host", false},
		{"X-Forwarded-Proto", false},
		{"X-Forwarded-Userx", false},
		{"X-Forwarded-", false},
		{"X-Use", false},
		{"X-Aut", false},
		{"Remote", false},
		{"X-Forwarded-Server", false},
		{"X-Original-Url", false},
		{"X-Amzn-Trace-Id", false},
		{"Forwarded-For", false},
		{"X-Request-Id", false},
		{"X-Pomerium-Jwt-Assertion", false},
		{"User-Agent", false},
		{"", false},
		{"X-Emails", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := IsIdentityHeader(tt.name, aliases); got != tt.want {
				t.Errorf("IsIdentityHeader(%q) = %v, want %v", tt.name, got, tt.want)
			}
			if oracle := reservedOracle(tt.name, aliases); oracle != tt.want {
				t.Errorf("test oracle disagrees on %q", tt.name)
			}
		})
	}
	t.Run("no aliases", func(t *testing.T) {
		t.Parallel()
		if IsIdentityHeader("X-Email", nil) {
			t.Error("X-Email reserved without an alias")
		}
	})
}

func TestStripIdentityHeaders(t *testing.T) {
	t.Parallel()
	h := http.Header{
		"X-User-Id":           {"a"},
		"x_user_id":           {"b"},
		"X-USER-ROLE":         {"admin"},
		"X-Auth-Request-User": {"c"},
		"Remote-User":         {"d"},
		"X-Forwarded-User":    {"e"},
		"X-Custom-Identity":   {"f"},
		"Content-Type":        {"text/plain"},
		"X-Forwarded-For":     {"1.2.3.4"},
		"Cookie":              {"a=b"},
	}
	StripIdentityHeaders(h, []string{"X-Custom-Identity"})
	want := []string{"Content-Type", "Cookie", "X-Forwarded-For"}
	if len(h) != len(want) {
		t.Errorf("left %v, want only %v", h, want)
	}
	for _, k := range want {
		if _, ok := h[k]; !ok {
			t.Errorf("%s was removed", k)
		}
	}
	StripIdentityHeaders(nil, nil) // a nil header is a no-op
}

func TestStripIdentityHeadersDoesNotAllocate(t *testing.T) {
	h := http.Header{
		"Accept": {"*/*"}, "User-Agent": {"x"}, "Cookie": {"a=b"}, "X-Request-Id": {"r"},
		"Accept-Encoding": {"gzip"}, "Content-Type": {"application/json"},
	}
	if allocs := testing.AllocsPerRun(100, func() { StripIdentityHeaders(h, []string{"X-Email"}) }); allocs != 0 {
		t.Errorf("StripIdentityHeaders allocates %.1f times per run", allocs)
	}
}

// FuzzStripIdentityHeaders: after stripping, no reserved key remains in any
// spelling, IsIdentityHeader agrees with an independent oracle, and ordinary
// headers survive.
func FuzzStripIdentityHeaders(f *testing.F) {
	for _, s := range [][2]string{
		{"X-User-Id", ""}, {"x_user_id", "X-Email"}, {"X-USER-ROLE", "x-pomerium-*"},
		{"X-Auth-Request-User", "*"}, {"Remote-User", "remote_x"}, {"X-Forwarded-User", "X-Forwarded-*"},
		{"x-forwarded-preferred_username", ""}, {"X-Pomerium-Claim-Sub", "X-Pomerium-Claim-*"},
		{"Content-Type", "content_type"}, {"X-Forwarded-For", ""},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, name, alias string) {
		aliases := []string{alias}
		if got, want := IsIdentityHeader(name, aliases), reservedOracle(name, aliases); got != want {
			t.Fatalf("IsIdentityHeader(%q, %q) = %v, oracle says %v", name, alias, got, want)
		}
		h := http.Header{"Content-Type": {"text/plain"}, "X-User-Id": {"spoof"}, "remote_user": {"spoof"}}
		for _, k := range []string{
			name, strings.ToUpper(name), strings.ToLower(name), textproto.CanonicalMIMEHeaderKey(name),
			strings.ReplaceAll(name, "-", "_"), strings.ReplaceAll(name, "_", "-"), alias,
		} {
			h[k] = append(h[k], "v")
		}
		StripIdentityHeaders(h, aliases)
		for k := range h {
			if IsIdentityHeader(k, aliases) || reservedOracle(k, aliases) {
				t.Fatalf("reserved %q survived (name %q, alias %q)", k, name, alias)
			}
		}
		if _, ok := h["Content-Type"]; !ok && !reservedOracle("Content-Type", aliases) {
			t.Fatal("Content-Type was removed")
		}
	})
}
