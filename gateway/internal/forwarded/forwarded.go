// Package forwarded decides what the gateway believes about a request's origin: the
// client address, the scheme and the host. X-Forwarded-For, -Proto and -Host are read
// only when the socket peer is a configured trusted proxy (SECURITY.md H3, H5); from
// anyone else the socket and the request itself are the truth. Every other package asks
// this one, so the Secure-cookie decision, redirects, forward auth and the headers sent
// upstream agree.
package forwarded

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/authgate/authgate/gateway/internal/routing"
)

// Trust is the set of trusted proxies. The zero value trusts nobody. Safe for concurrent use.
type Trust struct {
	prefixes []netip.Prefix
}

// NewTrust parses IP addresses and CIDR prefixes ("10.0.0.0/8", "127.0.0.1", "::1").
// Errors name every entry that is neither, at once.
func NewTrust(list []string) (*Trust, error) {
	t := &Trust{prefixes: make([]netip.Prefix, 0, len(list))}
	var bad []string
	for _, s := range list {
		s = strings.TrimSpace(s)
		if p, err := netip.ParsePrefix(s); err == nil {
			t.prefixes = append(t.prefixes, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			bad = append(bad, fmt.Sprintf("%q", s))
			continue
		}
		a = a.Unmap()
		t.prefixes = append(t.prefixes, netip.PrefixFrom(a, a.BitLen()))
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("not an IP address or CIDR: %s", strings.Join(bad, ", "))
	}
	return t, nil
}

// Trusted reports whether addr (an IP, without port) is a trusted proxy.
func (t *Trust) Trusted(addr string) bool {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, p := range t.prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// FromTrusted reports whether r's socket peer is a trusted proxy.
func (t *Trust) FromTrusted(r *http.Request) bool {
	return len(t.prefixes) > 0 && t.Trusted(Peer(r))
}

// Peer returns the IP of r's socket peer ("" when RemoteAddr has none).
func Peer(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return ""
	}
	return host
}

// ClientIP returns the client's address: the socket peer, or, when the peer is a trusted
// proxy, the right-most X-Forwarded-For entry that is not itself a trusted proxy (the
// entries left of it were written by the client and prove nothing).
func (t *Trust) ClientIP(r *http.Request) string {
	peer := Peer(r)
	if len(t.prefixes) == 0 || !t.Trusted(peer) {
		return peer
	}
	values := r.Header.Values("X-Forwarded-For")
	for i := len(values) - 1; i >= 0; i-- {
		parts := strings.Split(values[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			ip := strings.TrimSpace(parts[j])
			a, err := netip.ParseAddr(ip)
			if err != nil {
				return peer // a malformed chain: believe only the socket
			}
			if !t.Trusted(ip) {
				return a.Unmap().String()
			}
		}
	}
	return peer
}

// ForwardedFor returns the X-Forwarded-For value to send upstream: a trusted proxy's
// chain with the peer appended, or just the peer.
func (t *Trust) ForwardedFor(r *http.Request) string {
	peer := Peer(r)
	if t.FromTrusted(r) {
		if prior := strings.Join(r.Header.Values("X-Forwarded-For"), ", "); prior != "" {
			return prior + ", " + peer
		}
	}
	return peer
}

// Scheme returns "https" or "http": a trusted proxy's X-Forwarded-Proto when it is one
// of those, else whether the connection itself is TLS.
func (t *Trust) Scheme(r *http.Request) string {
	if t.FromTrusted(r) {
		switch p := strings.ToLower(strings.TrimSpace(firstValue(r.Header.Get("X-Forwarded-Proto")))); p {
		case "http", "https":
			return p
		}
	}
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

// Host returns the host (with port, if any) the client asked for: a trusted proxy's
// X-Forwarded-Host when it is a valid host, else the request's Host.
func (t *Trust) Host(r *http.Request) string {
	if t.FromTrusted(r) {
		if h := strings.TrimSpace(firstValue(r.Header.Get("X-Forwarded-Host"))); ValidHost(h) {
			return h
		}
	}
	return r.Host
}

// firstValue is the first element of a comma-separated header value.
func firstValue(v string) string {
	first, _, _ := strings.Cut(v, ",")
	return first
}

// ValidHost reports whether h is a host or host:port a client could have asked for:
// a DNS name, an IPv4 address or a bracketed IPv6 address, optionally with a numeric
// port; nothing else (no spaces, slashes, user info or control characters).
func ValidHost(h string) bool {
	if h == "" || len(h) > 261 {
		return false
	}
	host, port, hasPort := h, "", false
	if strings.HasPrefix(h, "[") {
		end := strings.IndexByte(h, ']')
		if end < 0 {
			return false
		}
		if _, err := netip.ParseAddr(h[1:end]); err != nil {
			return false
		}
		rest := h[end+1:]
		if rest != "" && rest[0] != ':' {
			return false
		}
		port, hasPort = strings.TrimPrefix(rest, ":"), rest != ""
	} else if i := strings.LastIndexByte(h, ':'); i >= 0 {
		host, port, hasPort = h[:i], h[i+1:], true
		if !routing.ValidHostName(host) {
			return false
		}
	} else if !routing.ValidHostName(host) {
		return false
	}
	if hasPort {
		if port == "" || len(port) > 5 {
			return false
		}
		for i := range len(port) {
			if port[i] < '0' || port[i] > '9' {
				return false
			}
		}
	}
	return true
}
