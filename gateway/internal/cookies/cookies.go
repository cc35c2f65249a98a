// Package cookies sets, clears and reads the gateway's three cookies with the seed's
// names and attributes (SECURITY.md C1, C5), and finds a request's access token.
package cookies

import (
	"net/http"
	"strings"
	"time"

	"github.com/authgate/authgate/authsvc"
	"github.com/authgate/authgate/gateway/internal/forwarded"
)

// The seed's cookie names. The seed client reads logged_in from JavaScript.
const (
	Access   = "access_token"
	Refresh  = "refresh_token"
	LoggedIn = "logged_in"
)

// Config describes the cookies.
type Config struct {
	AccessTTL   time.Duration // Max-Age of access_token and logged_in: the client refreshes when they go
	RefreshTTL  time.Duration // Max-Age of refresh_token
	RefreshPath string        // Path of refresh_token ("/" or narrower, e.g. "/api/auth")
	Domain      string        // "" = host-only cookies
	Secure      bool          // Secure on every cookie; also set whenever the request came over https
	// HostPrefix names the token cookies __Host-access_token and __Host-refresh_token
	// (needs Secure, no Domain, RefreshPath "/"; validated by the configuration).
	// logged_in keeps its name: the seed client reads it.
	HostPrefix bool
}

// Jar writes and reads the cookies. It is immutable and safe for concurrent use.
type Jar struct {
	cfg             Config
	trust           *forwarded.Trust
	access, refresh string // the token cookies' names
}

// New returns a Jar; trust decides whether a request came over https.
func New(cfg Config, trust *forwarded.Trust) *Jar {
	if trust == nil {
		trust = &forwarded.Trust{}
	}
	j := &Jar{cfg: cfg, trust: trust, access: Access, refresh: Refresh}
	if cfg.HostPrefix {
		j.access, j.refresh = HostPrefix+Access, HostPrefix+Refresh
	}
	return j
}

// HostPrefix is the cookie-name prefix browsers bind to one host over https.
const HostPrefix = "__Host-"

// Names returns the cookie names the gateway owns (the proxy keeps them from upstreams
// both ways), with and without the __Host- prefix.
func (j *Jar) Names() []string {
	return []string{Access, Refresh, LoggedIn, HostPrefix + Access, HostPrefix + Refresh}
}

// SetGrant sets access_token and logged_in (Max-Age = the access TTL, so the browser
// drops them together with the token and the client refreshes) and, when the grant has
// one, the rotated refresh_token.
func (j *Jar) SetGrant(w http.ResponseWriter, r *http.Request, g authsvc.Grant) {
	age := int(j.cfg.AccessTTL.Seconds())
	http.SetCookie(w, j.cookie(r, j.access, g.AccessToken, "/", age, true))
	if g.RefreshToken != "" {
		http.SetCookie(w, j.cookie(r, j.refresh, g.RefreshToken, j.cfg.RefreshPath, int(j.cfg.RefreshTTL.Seconds()), true))
	}
	http.SetCookie(w, j.cookie(r, LoggedIn, "true", "/", age, false))
}

// Clear expires the cookies with the attributes they were set with; refresh_token only
// when refresh is true (a failed logout keeps it so that the client can retry).
func (j *Jar) Clear(w http.ResponseWriter, r *http.Request, refresh bool) {
	http.SetCookie(w, j.cookie(r, j.access, "", "/", -1, true))
	if refresh {
		http.SetCookie(w, j.cookie(r, j.refresh, "", j.cfg.RefreshPath, -1, true))
	}
	http.SetCookie(w, j.cookie(r, LoggedIn, "", "/", -1, false))
}

// cookie builds one cookie; maxAge < 0 renders Max-Age=0 and an Expires in 1970
// (browsers read the former, some other clients only the latter).
func (j *Jar) cookie(r *http.Request, name, value, path string, maxAge int, httpOnly bool) *http.Cookie {
	var expires time.Time
	if maxAge < 0 {
		expires = time.Unix(1, 0)
	}
	//nolint:gosec // G124: Secure is on in production and over https; HttpOnly is off only for logged_in, which the seed client reads
	return &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     path,
		Domain:   j.cfg.Domain,
		Expires:  expires,
		MaxAge:   maxAge,
		HttpOnly: httpOnly,
		Secure:   j.cfg.Secure || j.cfg.HostPrefix || j.trust.Scheme(r) == "https",
		SameSite: http.SameSiteLaxMode,
	}
}

// AccessToken returns r's access token: the Bearer token of the Authorization header if
// there is one, else the access_token cookie; "" when neither.
func (j *Jar) AccessToken(r *http.Request) string {
	if tok, ok := BearerToken(r); ok {
		return tok
	}
	return cookieValue(r, j.access)
}

// RefreshToken returns r's refresh_token cookie, "" when none.
func (j *Jar) RefreshToken(r *http.Request) string { return cookieValue(r, j.refresh) }

// BearerToken returns the token of an "Authorization: Bearer" header; ok is false when
// the request has no such header.
func BearerToken(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "Bearer ") {
		return strings.TrimSpace(h[7:]), true
	}
	return "", false
}

func cookieValue(r *http.Request, name string) string {
	if c, err := r.Cookie(name); err == nil {
		return c.Value
	}
	return ""
}
