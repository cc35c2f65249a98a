package routing

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

// TestCheckPath feeds raw request targets through net/url, exactly as net/http
// does, so each case is a request a client can send.
func TestCheckPath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		target string // raw request-target
		reason string // "" = accepted; otherwise a substring of the error
	}{
		{"root", "/", ""},
		{"simple", "/api/users/42", ""},
		{"trailing slash", "/api/users/", ""},
		{"query ignored", "/api/users?x=../..&y=%2F", ""},
		{"encoded space", "/files/a%20b", ""},
		{"encoded unicode", "/wiki/Z%C3%BCrich", ""},
		{"raw unicode", "/wiki/Zürich", ""},
		{"dots inside a name", "/a/..b/c..d/.e/f.g", ""},
		{"letters that do not fold", "/straße/日本/Ωmega/é", ""},
		{"ligature ij", "/\u0133", "fold to ASCII"},
		{"greek and cyrillic", "/Ωmega/Москва", ""},
		{"literal percent", "/100%25", ""},
		{"literal percent not hex", "/100%25zz", ""},
		{"tilde and plus", "/~user/a+b", ""},

		{"encoded slash in traversal", "/public/..%2fapi/users", "encoded slash"},
		{"encoded slash upper", "/public%2F..%2Fapi", "encoded slash"},
		{"encoded slash alone", "/api%2fusers", "encoded slash"},
		{"encoded backslash", "/public/..%5capi", "encoded backslash"},
		{"encoded backslash upper", "/public%5C..%5Capi", "encoded backslash"},
		{"encoded dot segment", "/api/%2e%2e/x", "encoded dot"},
		{"encoded dot upper", "/api/%2E%2E/x", "encoded dot"},
		{"half encoded dot segment", "/api/.%2e/x", "encoded dot"},
		{"encoded single dot", "/api/%2e/x", "encoded dot"},
		{"encoded dot in a name", "/a%2ejs", "encoded dot"},
		{"duplicate slash", "/api//users", "empty segment"},
		{"leading double slash", "//api/users", "empty segment"},
		{"trailing double slash", "/api/users//", "empty segment"},
		{"dot segment", "/api/./users", "dot segment"},
		{"dot dot segment", "/public/../api/users", "dot segment"},
		{"trailing dot", "/api/.", "dot segment"},
		{"trailing dot dot", "/api/..", "dot segment"},
		{"matrix param", "/api/users;x=1", "matrix"},
		{"matrix traversal", "/public/..;/api", "matrix"},
		{"matrix segment", "/public;/api", "matrix"},
		{"encoded semicolon", "/api/users%3bx", "matrix"},
		{"raw backslash", "/api\\users", "backslash"},
		{"encoded NUL", "/api/users%00.json", "control"},
		{"encoded newline", "/api%0a/users", "control"},
		{"encoded tab", "/api%09", "control"},
		{"encoded DEL", "/api%7f", "control"},
		{"encoded C1", "/api%C2%85", "control"},
		{"double encoded dot", "/api/%252e%252e/x", "double percent"},
		{"double encoded slash", "/public%252fapi", "double percent"},
		{"encoded question mark", "/api/users%3f/x", "'?'"},
		{"encoded hash", "/api/users%23/x", "'#'"},
		{"overlong dot", "/api/%c0%ae%c0%ae/x", "invalid UTF-8"},
		{"invalid utf8", "/api/%ff", "invalid UTF-8"},
		{"fullwidth solidus", "/public\uff0fapi", "normalise"},
		{"fullwidth dots", "/api/\uff0e\uff0e/x", "normalise"},
		{"fullwidth letters", "/\uff41dmin", "normalise"},
		{"greek question mark", "/api\u037ex", "normalise"},
		{"division slash", "/public\u2215api", "normalise"},
		{"zero width space", "/ad\u200bmin", "format character"},
		{"bidi override", "/\u202eadmin", "format character"},
		// Ambiguous segments (SECURITY.md H10), refused unless allowed.
		{"trailing dot", "/admin.", "ending in '.'"},
		{"trailing dot mid path", "/admin./x", "ending in '.'"},
		{"trailing dots", "/admin../x", "ending in '.'"},
		{"trailing encoded space", "/admin%20", "ending in '.' or space"},
		{"trailing space mid path", "/admin%20/users", "ending in '.' or space"},
		{"dotless i", "/adm\u0131n", "fold to ASCII"},
		{"long s", "/\u017fecret", "fold to ASCII"},
		{"kelvin sign", "/\u212Aey", "fold to ASCII"},
		{"dotted capital I", "/\u0130nternal", "fold to ASCII"},
		{"ligature fi", "/\ufb01les", "fold to ASCII"},
		{"superscript two", "/v\u00b2", "fold to ASCII"},
		{"mathematical bold a", "/\U0001D41Admin", "fold to ASCII"},
		{"circled a", "/\u24d0dmin", "fold to ASCII"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			u, err := url.ParseRequestURI(tt.target)
			if err != nil {
				t.Fatalf("net/url rejects %q: %v", tt.target, err)
			}
			err = CheckPath(u.Path, u.EscapedPath())
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("CheckPath(%q, %q) = %v, want nil", u.Path, u.EscapedPath(), err)
				}
				return
			}
			if !errors.Is(err, ErrBadPath) {
				t.Fatalf("CheckPath(%q, %q) = %v, want ErrBadPath", u.Path, u.EscapedPath(), err)
			}
			if !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("CheckPath(%q) = %q, want reason %q", tt.target, err, tt.reason)
			}
		})
	}
}

// TestCheckPathPairs covers inputs net/url would not produce, for callers that
// pass something other than r.URL.
func TestCheckPathPairs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, path, escaped string
		ok                  bool
	}{
		{"same", "/a", "/a", true},
		{"escaped matches", "/a b", "/a%20b", true},
		{"empty", "", "", false},
		{"relative", "a", "a", false},
		{"escaped relative", "/a", "a", false},
		{"decoded relative", "a", "/a", false},
		{"mismatch", "/admin", "/public", false},
		{"mismatch length", "/a", "/ab", false},
		{"escaped shorter", "/ab", "/a", false},
		{"escape decodes elsewhere", "/a b", "/a%21b", false},
		{"truncated escape", "/a%", "/a%", false},
		{"truncated escape 2", "/a%2", "/a%2", false},
		{"bad hex", "/a%zz", "/a%zz", false},
		{"raw NUL", "/a\x00", "/a\x00", false},
		{"raw newline", "/a\nb", "/a\nb", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := CheckPath(tt.path, tt.escaped)
			if (err == nil) != tt.ok {
				t.Fatalf("CheckPath(%q, %q) = %v, want ok=%v", tt.path, tt.escaped, err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrBadPath) {
				t.Errorf("error %v does not wrap ErrBadPath", err)
			}
		})
	}
}

// TestAmbiguousSegmentsSetting: the setting accepts exactly the ambiguous forms and
// nothing else CheckPath refuses.
func TestAmbiguousSegmentsSetting(t *testing.T) {
	t.Parallel()
	lax := PathCheck{AllowAmbiguousSegments: true}
	for _, p := range []string{"/admin.", "/admin /x", "/adm\u0131n", "/\u212Aey", "/\ufb01les"} {
		if err := CheckPath(p, url.PathEscape(p)); err == nil {
			t.Errorf("CheckPath(%q) accepted by default", p)
		}
		if err := lax.Check(p, (&url.URL{Path: p}).EscapedPath()); err != nil {
			t.Errorf("allowed ambiguous %q refused: %v", p, err)
		}
	}
	for _, p := range []string{"/a/../b", "/a%2fb", "/a;b", "/\uff41"} {
		u, err := url.ParseRequestURI(p)
		if err != nil {
			continue
		}
		if lax.Check(u.Path, u.EscapedPath()) == nil {
			t.Errorf("the setting let %q through", p)
		}
	}
}

func TestCheckPathDoesNotAllocate(t *testing.T) {
	allocs := testing.AllocsPerRun(100, func() {
		if CheckPath("/api/users/Zürich x/", "/api/users/Z%C3%BCrich%20x/") != nil {
			t.Fatal("rejected")
		}
	})
	if allocs != 0 {
		t.Errorf("CheckPath allocates %.1f times per run", allocs)
	}
}

func BenchmarkCheckPath(b *testing.B) {
	cases := []struct{ name, path, escaped string }{
		{"plain", "/api/users/42/profile", "/api/users/42/profile"},
		{"escaped", "/wiki/Zürich and more/", "/wiki/Z%C3%BCrich%20and%20more/"},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if CheckPath(c.path, c.escaped) != nil {
					b.Fatal("rejected")
				}
			}
		})
	}
}
