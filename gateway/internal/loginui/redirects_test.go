package loginui

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/authgate/authgate/gateway/internal/forwarded"
)

// testHosts is the allowed list of these tests; the request comes to gw.example.
func testHosts() []string {
	return []string{"app.example.com", "*.apps.example.com", "127.0.0.1", "::1", "Admin.Example.org"}
}

func testRedirects(t testing.TB) *Redirects {
	t.Helper()
	rd, err := NewRedirects(testHosts(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return rd
}

func gwRequest() *http.Request {
	return httptest.NewRequest(http.MethodGet, "https://gw.example/login", nil)
}

// payload is one redirect target and whether it must be accepted (returned as given)
// or refused (the fallback "/").
type payload struct {
	class string
	raw   string
	ok    bool
}

// redirectPayloads is the open-redirect table of SECURITY.md H6: each class of trick a
// browser (or a server decoding once more) could turn into another host, and the
// legitimate targets next to them that must keep working.
func redirectPayloads() []payload {
	long := "/" + strings.Repeat("a", maxTarget)
	return []payload{
		// Local paths that must work.
		{"local", "/", true},
		{"local", "/dashboard", true},
		{"local", "/a/b/c", true},
		{"local", "/a/b/", true},
		{"local", "/a?b=c&d=e", true},
		{"local", "/a#section", true},
		{"local", "/?next=//evil.com", true},            // a query is data, not a path
		{"local", "/search?q=https://evil.com/x", true}, // likewise
		{"local", "/search?q=%2F%2Fevil.com", true},
		{"local", "/files/a%2Fb", true}, // an encoded slash inside a segment
		{"local", "/caf%C3%A9", true},
		{"local", "/a:b", true},
		{"local", "/javascript:alert(1)", true}, // a path on this host
		{"local", "/...", true},
		{"local", "/.well-known/x", true},
		{"local", "/a/.b", true},
		{"local", "/~user/", true},
		{"local", "/#//evil.com", true},
		{"local", "/a;b=c", true},
		{"local", "/" + strings.Repeat("a", maxTarget-1), true},

		// Empty and not a path: relative references without "/" and bare words.
		{"not a path", "", false},
		{"not a path", "dashboard", false},
		{"not a path", "evil.com", false},
		{"not a path", "evil.com/x", false},
		{"not a path", "./x", false},
		{"not a path", "../x", false},
		{"not a path", ".", false},
		{"not a path", "?x=1", false},
		{"not a path", "#x", false},
		{"not a path", "@evil.com", false},
		{"not a path", "%2F", false},
		{"not a path", "%2F%2Fevil.com", false},

		// Scheme-relative: another host.
		{"scheme-relative", "//evil.com", false},
		{"scheme-relative", "//evil.com/", false},
		{"scheme-relative", "///evil.com", false},
		{"scheme-relative", "////evil.com", false},
		{"scheme-relative", "//evil.com:443/x", false},
		{"scheme-relative", "//@evil.com", false},
		{"scheme-relative", "//app.example.com", false}, // allowed host, but only as an absolute URL
		{"scheme-relative", "//gw.example/x", false},
		{"scheme-relative", "//", false},

		// Backslashes, which browsers read as "/".
		{"backslash", "\\", false},
		{"backslash", "\\\\evil.com", false},
		{"backslash", "\\/evil.com", false},
		{"backslash", "/\\evil.com", false},
		{"backslash", "/\\/evil.com", false},
		{"backslash", "/a\\b", false},
		{"backslash", "/a?b=\\", false},
		{"backslash", "https://app.example.com\\@evil.com", false},
		{"backslash", "https://evil.com\\.app.example.com", false},
		{"backslash", "https:\\\\evil.com", false},
		{"backslash", "https:/\\evil.com", false},
		{"backslash encoded", "/%5cevil.com", false},
		{"backslash encoded", "/%5Cevil.com", false},
		{"backslash encoded", "/%5C%5Cevil.com", false},
		{"backslash encoded", "/a?b=%5c", false},
		{"backslash encoded", "/%255cevil.com", false},
		{"backslash encoded", "/%25255cevil.com", false},

		// Control characters: tab, CR and LF are removed by browsers anywhere.
		{"control", "/\t/evil.com", false},
		{"control", "/\n/evil.com", false},
		{"control", "/\r/evil.com", false},
		{"control", "/\r\n/evil.com", false},
		{"control", "\t//evil.com", false},
		{"control", "/x\x00", false},
		{"control", "\x00/x", false},
		{"control", "/x\x01", false},
		{"control", "/x\x1f", false},
		{"control", "/x\x7f", false},
		{"control", "/x?y=\x0b", false},
		{"control", "/\x0c/evil.com", false},
		{"control", "https://app.example.com/\n", false},
		{"control", "https://evil.com\t.app.example.com", false},
		{"control", "/\u0085", false}, // C1 NEL
		{"control encoded", "/%09/evil.com", false},
		{"control encoded", "/%0a/evil.com", false},
		{"control encoded", "/%0D%0A/evil.com", false},
		{"control encoded", "/%0d%0aSet-Cookie:%20x=y", false},
		{"control encoded", "/x?y=%0aLocation:%20//evil.com", false},
		{"control encoded", "/%00", false},
		{"control encoded", "/%7f", false},
		{"control encoded", "/%1F", false},
		{"control encoded", "/%2509/evil.com", false},
		{"control encoded", "/%250a", false},
		{"control encoded", "https://app.example.com/%0a", false},

		// Spaces and other whitespace.
		{"space", " /x", false},
		{"space", "/x ", false},
		{"space", " //evil.com", false},
		{"space", "/ /evil.com", false},
		{"space", "/a b", false},
		{"space", "\u00a0/x", false},
		{"space", "/\u3000", false},
		{"space", "\u2028/x", false},
		{"space", "/x\u200b", false},
		{"space", "\ufeff/x", false},

		// Encoded slashes right after the leading one, once or several times.
		{"encoded slash", "/%2fevil.com", false},
		{"encoded slash", "/%2Fevil.com", false},
		{"encoded slash", "/%2F%2Fevil.com", false},
		{"encoded slash", "/%2f/evil.com", false},
		{"encoded slash", "/%252fevil.com", false},
		{"encoded slash", "/%252F%252Fevil.com", false},
		{"encoded slash", "/%25252fevil.com", false},
		{"encoded slash", "/a%2F%2Fb", false}, // "//" once decoded
		{"encoded slash", "/%2525252525252fevil.com", false},

		// Dot segments, which dot-segment removal can fold into "//host".
		{"dot segment", "/.", false},
		{"dot segment", "/..", false},
		{"dot segment", "/./", false},
		{"dot segment", "/../", false},
		{"dot segment", "/./evil.com", false},
		{"dot segment", "/.//evil.com", false},
		{"dot segment", "/..//evil.com", false},
		{"dot segment", "/a/..//evil.com", false},
		{"dot segment", "/a/../b", false},
		{"dot segment", "/a/./b", false},
		{"dot segment", "/%2e", false},
		{"dot segment", "/%2E%2E", false},
		{"dot segment", "/%2e%2e//evil.com", false},
		{"dot segment", "/.%2e/", false},
		{"dot segment", "/%252e%252e/", false},
		{"dot segment", "/..%2f..%2fevil.com", false},
		{"dot segment", "/..%2F%2Fevil.com", false},
		{"dot segment", "https://app.example.com/../x", false},

		// Empty segments.
		{"empty segment", "/a//b", false},
		{"empty segment", "/a///", false},
		{"empty segment", "https://app.example.com//evil.com", false},

		// Malformed escapes, too long, not ASCII.
		{"malformed", "/%", false},
		{"malformed", "/%zz", false},
		{"malformed", "/%e", false},
		{"malformed", "/%%2f", false},
		{"malformed", "/a?b=%g0", false},
		{"malformed", "/\xff", false},
		{"malformed", "/caf\u00e9", false},
		{"malformed", long, false},

		// Schemes that are not http(s), and http(s) without "//".
		{"scheme", "javascript:alert(1)", false},
		{"scheme", "JaVaScRiPt:alert(1)", false},
		{"scheme", "javascript://%0aalert(1)", false},
		{"scheme", "javascript://app.example.com/%0aalert(1)", false},
		{"scheme", " javascript:alert(1)", false},
		{"scheme", "java\tscript:alert(1)", false},
		{"scheme", "data:text/html,<script>alert(1)</script>", false},
		{"scheme", "data:text/html;base64,PHNjcmlwdD4=", false},
		{"scheme", "vbscript:msgbox(1)", false},
		{"scheme", "file:///etc/passwd", false},
		{"scheme", "ftp://app.example.com/", false},
		{"scheme", "ws://app.example.com/", false},
		{"scheme", "wss://app.example.com/", false},
		{"scheme", "blob:https://app.example.com/x", false},
		{"scheme", "intent://evil.com#Intent;scheme=https;end", false},
		{"scheme", "https:evil.com", false},
		{"scheme", "http:evil.com", false},
		{"scheme", "https:/evil.com", false},
		{"scheme", "https:///evil.com", false},
		{"scheme", "https:////evil.com", false},
		{"scheme", "https:app.example.com", false},
		{"scheme", "https//evil.com", false},
		{"scheme", "https:", false},
		{"scheme", "https://", false},
		{"scheme", "https:///", false},
		{"scheme", "://evil.com", false},
		{"scheme", "httpx://app.example.com/", false},
		{"scheme", "xhttps://app.example.com/", false},

		// User info: the host is what follows the "@".
		{"userinfo", "https://app.example.com@evil.com", false},
		{"userinfo", "https://app.example.com@evil.com/", false},
		{"userinfo", "https://evil.com@app.example.com", false},
		{"userinfo", "https://user:pass@app.example.com/", false},
		{"userinfo", "https://app.example.com:@evil.com", false},
		{"userinfo", "https://app.example.com:443@evil.com", false},
		{"userinfo", "https://@app.example.com", false},
		{"userinfo", "https://app.example.com%40evil.com", false},
		{"userinfo", "https://app.example.com%2540evil.com", false},

		// Absolute URLs on allowed hosts.
		{"allowed host", "https://app.example.com", true},
		{"allowed host", "https://app.example.com/", true},
		{"allowed host", "http://app.example.com/x?y=z#w", true},
		{"allowed host", "HTTPS://APP.EXAMPLE.COM/X", true},
		{"allowed host", "hTtPs://App.Example.Com/", true},
		{"allowed host", "https://app.example.com:8443/x", true},
		{"allowed host", "https://app.example.com:0/", true},
		{"allowed host", "https://app.example.com:65535/", true},
		{"allowed host", "https://app.example.com?x=1", true},
		{"allowed host", "https://app.example.com#@evil.com", true}, // the fragment, not user info
		{"allowed host", "https://app.example.com?@evil.com", true},
		{"allowed host", "https://app.example.com/@evil.com", true},
		{"allowed host", "https://admin.example.org/", true},
		{"allowed host", "https://127.0.0.1:8080/x", true},
		{"allowed host", "http://[::1]:8000/x", true},
		{"allowed host", "http://[0:0:0:0:0:0:0:1]/", true},

		// Wildcards: exactly one label below.
		{"wildcard", "https://x.apps.example.com/", true},
		{"wildcard", "https://X-1.Apps.Example.com/", true},
		{"wildcard", "https://a.b.apps.example.com/", false},
		{"wildcard", "https://apps.example.com/", false},
		{"wildcard", "https://.apps.example.com/", false},
		{"wildcard", "https://x.apps.example.com.evil.com/", false},
		{"wildcard", "https://xapps.example.com/", false},
		{"wildcard", "https://x.apps-example.com/", false},

		// Hosts that only look allowed.
		{"host", "https://evil.com", false},
		{"host", "https://evil.com/app.example.com", false},
		{"host", "https://evil.com?app.example.com", false},
		{"host", "https://evil.com#app.example.com", false},
		{"host", "https://app.example.com.evil.com", false},
		{"host", "https://app.example.com.", false},
		{"host", "https://app.example.com..", false},
		{"host", "https://evilapp.example.com", false},
		{"host", "https://app-example.com", false},
		{"host", "https://app.example.co", false},
		{"host", "https://example.com", false},
		{"host", "https://app.example.com:99999/", false},
		{"host", "https://app.example.com:/", false},
		{"host", "https://app.example.com:abc/", false},
		{"host", "https://app.example.com:-1/", false},
		{"host", "https://app.example.com:+80/", false},
		{"host", "https://app.example.com:80:80/", false},
		{"host", "https://ex%61mple.com/", false},
		{"host", "https://app.example%2Ecom/", false},
		{"host", "https://app%2eexample.com/", false},
		{"host", "https://-app.example.com/", false},
		{"host", "https://[app.example.com]/", false},
		{"host", "https://[::2]/", false},
		{"host", "https://[::1/", false},
		{"host", "https://[::1]x/", false},
		{"host", "https://[fe80::1%25eth0]/", false},
		{"host", "https://[::ffff:127.0.0.1]/", false}, // not the listed 127.0.0.1 literally
		{"host", "https://[127.0.0.1]/", false},
		{"host", "https://127.1/", false},
		{"host", "https://0x7f.0.0.1/", false},
		{"host", "https://0x7f000001/", false},
		{"host", "https://2130706433/", false},
		{"host", "https://0177.0.0.1/", false},
		{"host", "https://127.0.0.1.nip.io/", false},
		{"host", "https://localhost/", false},

		// IDNA and confusables: never matched loosely (and not ASCII, so refused).
		{"idna", "https://\u0430pp.example.com/", false},         // Cyrillic a
		{"idna", "https://app.example.com\u3002evil.com", false}, // ideographic full stop
		{"idna", "https://app\u3002example\u3002com/", false},
		{"idna", "https://\uff41pp.example.com/", false}, // full-width a
		{"idna", "https://app.example.com\uff0fevil.com", false},
		{"idna", "https://xn--pp-8cd.example.com/", false}, // another host's ACE form
		{"idna", "https://app.\u0435xample.com/", false},

		// The host the request came to is always allowed.
		{"same origin", "https://gw.example/x", true},
		{"same origin", "http://GW.example:8443/x?y", true},
		{"same origin", "https://gw.example.evil.com/", false},
		{"same origin", "https://evil.gw.example/", false},
		{"same origin", "https://gw.example@evil.com/", false},
	}
}

// TestRedirects (SECURITY.md H6): every payload of the table is accepted as given or
// refused to "/".
func TestRedirects(t *testing.T) {
	rd := testRedirects(t)
	seen := map[string]bool{}
	for _, p := range redirectPayloads() {
		if seen[p.raw] {
			t.Errorf("duplicate payload %q", p.raw)
		}
		seen[p.raw] = true
		want := Fallback
		if p.ok {
			want = p.raw
		}
		if got := rd.Safe(p.raw, gwRequest()); got != want {
			t.Errorf("%s: Safe(%q) = %q, want %q", p.class, p.raw, got, want)
		}
		if p.ok {
			checkAccepted(t, p.raw)
		}
	}
}

// TestRedirectsTrustedHost: the request's own host is the one a trusted proxy reports,
// and only then.
func TestRedirectsTrustedHost(t *testing.T) {
	trust, err := forwarded.NewTrust([]string{"10.0.0.0/8"})
	if err != nil {
		t.Fatal(err)
	}
	rd, err := NewRedirects(nil, trust)
	if err != nil {
		t.Fatal(err)
	}
	r := gwRequest()
	r.Header.Set("X-Forwarded-Host", "public.example:443")
	r.RemoteAddr = "10.1.2.3:5000"
	if got := rd.Safe("https://public.example/x", r); got != "https://public.example/x" {
		t.Errorf("trusted proxy's host refused: %q", got)
	}
	if got := rd.Safe("https://gw.example/x", r); got != Fallback {
		t.Errorf("socket host accepted behind a proxy that names another: %q", got)
	}
	r.RemoteAddr = "203.0.113.9:5000"
	if got := rd.Safe("https://public.example/x", r); got != Fallback {
		t.Errorf("untrusted X-Forwarded-Host believed: %q", got)
	}
	if got := rd.Safe("https://gw.example/x", r); got != "https://gw.example/x" {
		t.Errorf("own host refused: %q", got)
	}
	if got := rd.Safe("https://gw.example/x", nil); got != Fallback {
		t.Errorf("no request, own host accepted: %q", got)
	}
}

func TestNewRedirects(t *testing.T) {
	for _, good := range [][]string{nil, {}, {"a.example", "*.b.example", "10.0.0.1", "::1", "[2001:db8::1]", " C.Example "}} {
		if _, err := NewRedirects(good, nil); err != nil {
			t.Errorf("NewRedirects(%q): %v", good, err)
		}
	}
	for _, bad := range []string{"", "*", "*.", "a.*.example", "**.example", "https://a.example", "a.example/x",
		"a.example:443", "user@a.example", "a .example", "a.example.", "fe80::1%eth0", "[::1", "é.example"} {
		if _, err := NewRedirects([]string{"ok.example", bad}, nil); err == nil || !strings.Contains(err.Error(), "redirects:") {
			t.Errorf("NewRedirects(%q): %v, want an error", bad, err)
		}
	}
}

// checkAccepted is the property every accepted target must have: a local path with one
// leading "/" (no backslash or control byte) that a browser resolves on gw.example, or
// an absolute http(s) URL to an allowed host, read the same way by the browser model
// and by Go.
func checkAccepted(t *testing.T, raw string) {
	t.Helper()
	if strings.ContainsAny(raw, "\\") || strings.ContainsFunc(raw, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		t.Fatalf("accepted %q has a backslash or control character", raw)
	}
	scheme, host := browserResolve(raw)
	base, _ := url.Parse("https://gw.example/login")
	ref, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("accepted %q does not parse: %v", raw, err)
	}
	goURL := base.ResolveReference(ref)
	if raw[0] == '/' {
		if len(raw) > 1 && raw[1] == '/' {
			t.Fatalf("accepted %q starts with //", raw)
		}
		if host != "gw.example" || goURL.Host != "gw.example" {
			t.Fatalf("accepted local %q leaves gw.example: browser %q, Go %q", raw, host, goURL.Host)
		}
		return
	}
	if scheme != "http" && scheme != "https" {
		t.Fatalf("accepted %q: scheme %q", raw, scheme)
	}
	if !allowedByTest(host) {
		t.Fatalf("accepted %q: browser goes to %q, not an allowed host", raw, host)
	}
	if canonHost(goURL.Hostname()) != canonHost(strings.Trim(host, "[]")) {
		t.Fatalf("accepted %q: browser host %q, Go host %q", raw, host, goURL.Host)
	}
}

// canonHost is h in lower case, an IP address written canonically.
func canonHost(h string) string {
	if a, err := netip.ParseAddr(h); err == nil {
		return a.String()
	}
	return strings.ToLower(h)
}

// allowedByTest restates testHosts() independently of Redirects (hosts as the browser
// model writes them: lower case, IPv6 in brackets, no port).
func allowedByTest(host string) bool {
	switch host {
	case "gw.example", "app.example.com", "admin.example.org", "127.0.0.1", "[::1]":
		return true
	}
	label, ok := strings.CutSuffix(host, ".apps.example.com")
	return ok && label != "" && !strings.ContainsAny(label, ".[]:")
}

// browserResolve models how a browser (the WHATWG URL Standard) resolves ref against
// https://gw.example/ as far as the scheme and host are concerned: it strips leading
// and trailing C0 controls and spaces, removes tabs and newlines, reads "\" as "/" in
// special schemes, skips any run of slashes before an authority, takes the host after
// the last "@" and before the port, percent-decodes and lower-cases it, and writes an
// IPv6 address canonically. Non-special schemes (javascript:, data:) have no host.
// IPv4 number forms and IDNA are not normalised: such hosts are never in the allowed
// list.
func browserResolve(ref string) (scheme, host string) {
	ref = strings.TrimFunc(ref, func(r rune) bool { return r <= ' ' })
	ref = strings.NewReplacer("\t", "", "\n", "", "\r", "").Replace(ref)
	if s, rest, ok := cutScheme(ref); ok {
		s = strings.ToLower(s)
		switch s {
		case "https": // the base's scheme: authority only after "//", else relative
			if strings.HasPrefix(rest, "//") {
				return s, authorityHost(rest)
			}
			return relative(rest)
		case "http", "ws", "wss", "ftp":
			return s, authorityHost(rest)
		default: // file and non-special schemes leave the site in their own ways
			return s, ""
		}
	}
	return relative(ref)
}

func relative(rest string) (scheme, host string) {
	slash := func(i int) bool { return len(rest) > i && (rest[i] == '/' || rest[i] == '\\') }
	if slash(0) && slash(1) {
		return "https", authorityHost(rest)
	}
	return "https", "gw.example"
}

func cutScheme(s string) (scheme, rest string, ok bool) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case i > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'):
		case i > 0 && c == ':':
			return s[:i], s[i+1:], true
		default:
			return "", "", false
		}
	}
	return "", "", false
}

// authorityHost skips leading slashes and backslashes, then reads the host of the
// authority.
func authorityHost(s string) string {
	s = strings.TrimLeft(s, "/\\")
	if i := strings.IndexAny(s, "/\\?#"); i >= 0 {
		s = s[:i]
	}
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		s = s[i+1:]
	}
	if strings.HasPrefix(s, "[") {
		if i := strings.IndexByte(s, ']'); i >= 0 {
			if a, err := netip.ParseAddr(s[1:i]); err == nil && a.Is6() {
				return "[" + a.String() + "]" // browsers serialise IPv6 hosts canonically
			}
			return "<invalid>"
		}
		return "<invalid>"
	}
	if i := strings.IndexByte(s, ':'); i >= 0 {
		s = s[:i]
	}
	if dec, err := url.PathUnescape(s); err == nil {
		s = dec
	} else {
		return "<invalid>"
	}
	return strings.ToLower(s)
}

// FuzzRedirects (SECURITY.md H6): whatever the target, Safe returns it unchanged or
// "/", and an accepted target is local (one leading "/", no backslash or control byte,
// resolved on gw.example by a browser and by Go) or absolute http(s) to an allowed host.
func FuzzRedirects(f *testing.F) {
	for _, p := range redirectPayloads() {
		f.Add(p.raw)
	}
	rd := testRedirects(f)
	f.Fuzz(func(t *testing.T, raw string) {
		got := rd.Safe(raw, gwRequest())
		switch got {
		case Fallback:
			return
		case raw:
			checkAccepted(t, raw)
		default:
			t.Fatalf("Safe(%q) = %q: neither the target nor the fallback", raw, got)
		}
	})
}
