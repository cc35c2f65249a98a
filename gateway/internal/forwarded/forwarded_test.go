package forwarded

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func request(peer string, header map[string]string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "http://gw.example/x", nil)
	r.RemoteAddr = peer
	for k, v := range header {
		r.Header.Set(k, v)
	}
	return r
}

func TestNewTrust(t *testing.T) {
	tr, err := NewTrust([]string{"10.0.0.0/8", "127.0.0.1", "::1", " fd00::/8 ", "10.1.2.3/8"})
	if err != nil {
		t.Fatal(err)
	}
	for addr, want := range map[string]bool{
		"10.9.9.9": true, "127.0.0.1": true, "127.0.0.2": false, "::1": true, "fd00::5": true,
		"::ffff:10.0.0.1": true, "192.168.1.1": false, "": false, "nonsense": false,
	} {
		if got := tr.Trusted(addr); got != want {
			t.Errorf("Trusted(%q) = %v, want %v", addr, got, want)
		}
	}
	if _, err := NewTrust([]string{"10.0.0.0/8", "not-an-ip", "300.1.1.1"}); err == nil ||
		err.Error() != `not an IP address or CIDR: "not-an-ip", "300.1.1.1"` {
		t.Errorf("NewTrust with bad entries: %v", err)
	}
	var zero Trust
	if zero.FromTrusted(request("127.0.0.1:1", nil)) {
		t.Error("the zero Trust trusts someone")
	}
}

// TestClientIP (SECURITY.md H3, P4): the client address comes from X-Forwarded-For only
// through trusted proxies, and then it is the right-most address that is not one of
// them; rotating the left part of the header changes nothing.
func TestClientIP(t *testing.T) {
	tr, _ := NewTrust([]string{"127.0.0.1", "10.0.0.0/8"})
	tests := []struct {
		name, peer, xff, want string
	}{
		{"untrusted peer, header ignored", "203.0.113.9:5000", "1.1.1.1", "203.0.113.9"},
		{"trusted peer, client behind it", "127.0.0.1:5000", "198.51.100.7", "198.51.100.7"},
		{"spoofed left part ignored", "127.0.0.1:5000", "6.6.6.6, 198.51.100.7", "198.51.100.7"},
		{"chain of trusted proxies", "127.0.0.1:5000", "198.51.100.7, 10.0.0.2, 10.0.0.3", "198.51.100.7"},
		{"only trusted in the chain", "127.0.0.1:5000", "10.0.0.2", "127.0.0.1"},
		{"malformed chain: the socket", "127.0.0.1:5000", "198.51.100.7, bogus", "127.0.0.1"},
		{"no header", "127.0.0.1:5000", "", "127.0.0.1"},
		{"ipv6 peer", "[2001:db8::1]:443", "1.1.1.1", "2001:db8::1"},
		{"mapped v4 in chain", "127.0.0.1:1", "::ffff:198.51.100.7", "198.51.100.7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := map[string]string{}
			if tt.xff != "" {
				h["X-Forwarded-For"] = tt.xff
			}
			if got := tr.ClientIP(request(tt.peer, h)); got != tt.want {
				t.Errorf("ClientIP = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSchemeHostAndChain(t *testing.T) {
	tr, _ := NewTrust([]string{"127.0.0.1"})
	spoof := map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "app.example:8443", "X-Forwarded-For": "1.1.1.1"}
	untrusted, trusted := request("203.0.113.9:1", spoof), request("127.0.0.1:1", spoof)
	if s := tr.Scheme(untrusted); s != "http" {
		t.Errorf("untrusted scheme %q", s)
	}
	if s := tr.Scheme(trusted); s != "https" {
		t.Errorf("trusted scheme %q", s)
	}
	if h := tr.Host(untrusted); h != "gw.example" {
		t.Errorf("untrusted host %q", h)
	}
	if h := tr.Host(trusted); h != "app.example:8443" {
		t.Errorf("trusted host %q", h)
	}
	if x := tr.ForwardedFor(untrusted); x != "203.0.113.9" {
		t.Errorf("untrusted chain %q", x)
	}
	if x := tr.ForwardedFor(trusted); x != "1.1.1.1, 127.0.0.1" {
		t.Errorf("trusted chain %q", x)
	}
	tlsReq := request("203.0.113.9:1", nil)
	tlsReq.TLS = &tls.ConnectionState{}
	if s := tr.Scheme(tlsReq); s != "https" {
		t.Errorf("TLS connection scheme %q", s)
	}
	for _, bad := range []map[string]string{
		{"X-Forwarded-Proto": "javascript"}, {"X-Forwarded-Host": "evil.example/path"}, {"X-Forwarded-Host": "a b"},
	} {
		r := request("127.0.0.1:1", bad)
		if tr.Scheme(r) != "http" || tr.Host(r) != "gw.example" {
			t.Errorf("malformed %v believed: %s %s", bad, tr.Scheme(r), tr.Host(r))
		}
	}
	if s := tr.Scheme(request("127.0.0.1:1", map[string]string{"X-Forwarded-Proto": "HTTPS, http"})); s != "https" {
		t.Errorf("first of a list, any case: %q", s)
	}
}

func TestValidHost(t *testing.T) {
	for h, want := range map[string]bool{
		"example.com": true, "example.com:8443": true, "127.0.0.1": true, "127.0.0.1:80": true,
		"[::1]": true, "[::1]:8000": true, "a_b.example": true, "localhost": true,
		"": false, "example.com:": false, "example.com:123456": false, "example.com:80a": false,
		"a b": false, "evil.com/x": false, "user@evil.com": false, "[::1": false, "[zz]:80": false,
		"[::1]x": false, ":80": false, "exa\nmple": false, "-bad.example": false, "a..b": false,
		"::1": false, "example.com:80:80": false,
	} {
		if got := ValidHost(h); got != want {
			t.Errorf("ValidHost(%q) = %v, want %v", h, got, want)
		}
	}
}

// FuzzForwarded: whatever a client sends in X-Forwarded-*, the client address is the
// socket peer or an IP address the header really held, and a host is believed only when
// it has no character that could end a host (SECURITY.md H3, H5).
func FuzzForwarded(f *testing.F) {
	for _, s := range []string{"198.51.100.7", "6.6.6.6, 10.0.0.1", "bogus", "", "::1", ",,,", "1.1.1.1,", "[::1]:80"} {
		f.Add(s, "app.example:8443", "https")
	}
	f.Add("1.2.3.4", "evil.example/x", "HTTPS")
	f.Add("1.2.3.4", "a@b", "javascript:")
	tr, _ := NewTrust([]string{"127.0.0.1", "10.0.0.0/8"})
	f.Fuzz(func(t *testing.T, xff, host, proto string) {
		r := request("127.0.0.1:9", nil)
		r.Header["X-Forwarded-For"] = []string{xff}
		r.Header["X-Forwarded-Host"] = []string{host}
		r.Header["X-Forwarded-Proto"] = []string{proto}
		ip := tr.ClientIP(r)
		if ip != "127.0.0.1" && !slices.ContainsFunc(strings.Split(xff, ","), func(hop string) bool {
			a, err := netip.ParseAddr(strings.TrimSpace(hop))
			return err == nil && a.Unmap().String() == ip // in its canonical form ("::A" is "::a")
		}) {
			t.Fatalf("ClientIP %q is neither the peer nor an address of %q", ip, xff)
		}
		if _, err := netip.ParseAddr(ip); err != nil {
			t.Fatalf("ClientIP %q is not an address", ip)
		}
		if s := tr.Scheme(r); s != "http" && s != "https" {
			t.Fatalf("Scheme %q", s)
		}
		if h := tr.Host(r); h != r.Host && strings.ContainsAny(h, " /\\@?#\r\n\t") {
			t.Fatalf("Host %q believed", h)
		}
	})
}
