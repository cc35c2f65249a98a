package cookies

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/authgate/authgate/authsvc"
	"github.com/authgate/authgate/gateway/internal/forwarded"
)

func parse(t *testing.T, w *httptest.ResponseRecorder) map[string]*http.Cookie {
	t.Helper()
	out := map[string]*http.Cookie{}
	for _, line := range w.Header().Values("Set-Cookie") {
		c, err := http.ParseSetCookie(line)
		if err != nil {
			t.Fatalf("Set-Cookie %q: %v", line, err)
		}
		if len(line) >= 4096 {
			t.Errorf("cookie %s is %d bytes", c.Name, len(line))
		}
		out[c.Name] = c
	}
	return out
}

// TestJar (SECURITY.md C1, C5): the seed's names and attributes; Secure in production
// and on requests a trusted proxy says came over https, never from an untrusted claim;
// a clear repeats the attributes with Max-Age 0.
func TestJar(t *testing.T) {
	trust, _ := forwarded.NewTrust([]string{"127.0.0.1"})
	cfg := Config{AccessTTL: 15 * time.Minute, RefreshTTL: 59 * time.Minute, RefreshPath: "/api/auth"}
	tests := []struct {
		name       string
		cfg        func(Config) Config
		peer       string
		proto      string
		wantSecure bool
	}{
		{"development, plain http", func(c Config) Config { return c }, "203.0.113.1:1", "", false},
		{"https claimed by an untrusted client", func(c Config) Config { return c }, "203.0.113.1:1", "https", false},
		{"https from a trusted proxy", func(c Config) Config { return c }, "127.0.0.1:1", "https", true},
		{"production", func(c Config) Config { c.Secure = true; return c }, "203.0.113.1:1", "", true},
		{"cookie domain", func(c Config) Config { c.Domain = "example.com"; return c }, "203.0.113.1:1", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.cfg(cfg)
			jar := New(c, trust)
			r := httptest.NewRequest(http.MethodPost, "/api/auth/login", nil)
			r.RemoteAddr = tt.peer
			if tt.proto != "" {
				r.Header.Set("X-Forwarded-Proto", tt.proto)
			}
			w := httptest.NewRecorder()
			jar.SetGrant(w, r, authsvc.Grant{AccessToken: "a.b.c", RefreshToken: "d.e.f"})
			set := parse(t, w)
			want := map[string]struct {
				value, path string
				age         int
				httpOnly    bool
			}{
				Access:   {"a.b.c", "/", 900, true},
				Refresh:  {"d.e.f", "/api/auth", 3540, true},
				LoggedIn: {"true", "/", 900, false},
			}
			for name, w := range want {
				ck := set[name]
				if ck == nil || ck.Value != w.value || ck.Path != w.path || ck.MaxAge != w.age || ck.HttpOnly != w.httpOnly ||
					ck.SameSite != http.SameSiteLaxMode || ck.Secure != tt.wantSecure || ck.Domain != c.Domain {
					t.Errorf("%s = %+v", name, ck)
				}
			}
			w = httptest.NewRecorder()
			jar.Clear(w, r, true)
			cleared := parse(t, w)
			for name, old := range set {
				ck := cleared[name]
				if ck == nil || ck.Value != "" || ck.MaxAge != -1 || ck.Path != old.Path || ck.Secure != old.Secure ||
					ck.HttpOnly != old.HttpOnly || ck.Domain != old.Domain || !ck.Expires.Before(time.Unix(2, 0)) {
					t.Errorf("cleared %s = %+v, set was %+v", name, ck, old)
				}
			}
			w = httptest.NewRecorder()
			jar.Clear(w, r, false)
			if _, ok := parse(t, w)[Refresh]; ok {
				t.Error("Clear(refresh=false) cleared the refresh cookie")
			}
		})
	}
	// A grace-replay grant has no refresh token: the current cookie is left alone.
	w := httptest.NewRecorder()
	New(cfg, trust).SetGrant(w, httptest.NewRequest(http.MethodGet, "/", nil), authsvc.Grant{AccessToken: "a.b.c"})
	if _, ok := parse(t, w)[Refresh]; ok {
		t.Error("empty refresh token was set")
	}
}

func TestAccessToken(t *testing.T) {
	jar := New(Config{}, nil)
	tests := []struct {
		auth, cookie, want string
	}{
		{"Bearer abc", "", "abc"},
		{"bearer  abc ", "", "abc"},
		{"Bearer abc", "cookie-tok", "abc"},
		{"", "cookie-tok", "cookie-tok"},
		{"Basic dXNlcg==", "cookie-tok", "cookie-tok"},
		{"Bearer", "cookie-tok", "cookie-tok"},
		{"", "", ""},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		if tt.auth != "" {
			r.Header.Set("Authorization", tt.auth)
		}
		if tt.cookie != "" {
			r.AddCookie(&http.Cookie{Name: Access, Value: tt.cookie})
		}
		if got := jar.AccessToken(r); got != tt.want {
			t.Errorf("Authorization %q, cookie %q: %q, want %q", tt.auth, tt.cookie, got, tt.want)
		}
	}
}

// TestHostPrefix: with cookies.host_prefix the token cookies are __Host- names (Secure,
// Path=/, no Domain) and only those names are read; logged_in keeps its name.
func TestHostPrefix(t *testing.T) {
	jar := New(Config{AccessTTL: time.Minute, RefreshTTL: time.Hour, RefreshPath: "/", Secure: true, HostPrefix: true}, nil)
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	jar.SetGrant(w, r, authsvc.Grant{AccessToken: "a.b.c", RefreshToken: "d.e.f"})
	set := parse(t, w)
	for _, name := range []string{"__Host-access_token", "__Host-refresh_token", LoggedIn} {
		ck := set[name]
		if ck == nil || !ck.Secure || ck.Path != "/" || ck.Domain != "" {
			t.Fatalf("%s = %+v", name, ck)
		}
	}
	if _, ok := set[Access]; ok {
		t.Fatal("unprefixed access cookie set")
	}
	plain := httptest.NewRequest(http.MethodGet, "/", nil)
	plain.AddCookie(&http.Cookie{Name: Access, Value: "planted"})
	plain.AddCookie(&http.Cookie{Name: Refresh, Value: "planted"})
	if jar.AccessToken(plain) != "" || jar.RefreshToken(plain) != "" {
		t.Fatal("an unprefixed cookie (which a sibling host can plant) was read")
	}
	prefixed := httptest.NewRequest(http.MethodGet, "/", nil)
	prefixed.AddCookie(&http.Cookie{Name: "__Host-access_token", Value: "a.b.c"})
	if jar.AccessToken(prefixed) != "a.b.c" {
		t.Fatal("prefixed cookie not read")
	}
}
