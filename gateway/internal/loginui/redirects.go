package loginui

import (
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"github.com/authgate/authgate/gateway/internal/forwarded"
	"github.com/authgate/authgate/gateway/internal/routing"
)

// Fallback is where a refused redirect target goes (SECURITY.md H6).
const Fallback = "/"

// maxTarget is the longest redirect target accepted; longer ones fall back.
const maxTarget = 2048

// maxDecodeRounds bounds how often a target is percent-decoded to look for hidden
// slashes, backslashes and control characters; a target still changing after that
// many rounds is refused.
const maxDecodeRounds = 4

// Redirects decides where the sign-in page and logout may send a browser after they are
// done (the rd parameter, SECURITY.md H6). It accepts only
//
//   - a relative path with exactly one leading "/" that a browser resolves on the same
//     host: no "//", no backslash, no dot segments, no control character or space,
//     nothing of that kind hidden in percent-encoding (decoded repeatedly);
//   - an absolute http or https URL without user info whose host (port ignored, ASCII
//     letters compared case-insensitively) is in the allowed list, where "*.example.com"
//     allows exactly one label below example.com, or is the host the request itself came
//     to (forwarded.Trust.Host: the same origin is always safe).
//
// Anything else falls back to "/". Only printable ASCII is accepted: browsers send
// non-ASCII URLs percent-encoded, and a host that is not plain ASCII (IDNA, full-width
// letters, other dots) never matches an entry. Redirects is immutable and safe for
// concurrent use.
type Redirects struct {
	exact map[string]bool // lower-case host names and IP addresses
	wild  []string        // ".example.com" for an entry "*.example.com"
	trust *forwarded.Trust
}

// NewRedirects returns a validator allowing absolute targets on hosts (host names, IP
// addresses, or "*." and a host name; case-insensitive, without port) and on the host
// each request came to, as trust reports it (nil trusts no proxy). Errors: an entry that
// is none of those.
func NewRedirects(hosts []string, trust *forwarded.Trust) (*Redirects, error) {
	if trust == nil {
		trust = &forwarded.Trust{}
	}
	rd := &Redirects{exact: make(map[string]bool, len(hosts)), trust: trust}
	var bad []string
	for _, entry := range hosts {
		h := strings.ToLower(strings.TrimSpace(entry))
		switch {
		case strings.HasPrefix(h, "*.") && routing.ValidHostName(h[2:]):
			rd.wild = append(rd.wild, h[1:])
		case routing.ValidHostName(h):
			rd.exact[h] = true
		default:
			if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
				h = h[1 : len(h)-1]
			}
			a, err := netip.ParseAddr(h)
			if err != nil || a.Zone() != "" {
				bad = append(bad, strconv.Quote(entry))
				continue
			}
			rd.exact[a.String()] = true
		}
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("redirects: not a host name, IP address or *.domain: %s", strings.Join(bad, ", "))
	}
	return rd, nil
}

// Safe returns raw when it is a safe place to send the browser that made r, else
// Fallback ("/"). An empty raw is Fallback too.
func (rd *Redirects) Safe(raw string, r *http.Request) string {
	if rd.accepts(raw, r) {
		return raw
	}
	return Fallback
}

func (rd *Redirects) accepts(raw string, r *http.Request) bool {
	if raw == "" || len(raw) > maxTarget || !printableASCII(raw) || !cleanWhenDecoded(raw) {
		return false
	}
	if raw[0] == '/' {
		return safePath(pathPart(raw))
	}
	return rd.absolute(raw, r)
}

// printableASCII reports whether s has only the bytes '!' to '~': no space, control
// character, DEL or non-ASCII byte, and no backslash (which browsers read as "/").
func printableASCII(s string) bool {
	for i := range len(s) {
		if c := s[i]; c <= ' ' || c >= 0x7f || c == '\\' {
			return false
		}
	}
	return true
}

// cleanWhenDecoded percent-decodes s until it stops changing and reports whether no
// round revealed a control character or a backslash; malformed escapes and targets
// still changing after maxDecodeRounds are refused.
func cleanWhenDecoded(s string) bool {
	for range maxDecodeRounds {
		if !strings.Contains(s, "%") {
			return true
		}
		dec, err := url.PathUnescape(s)
		if err != nil {
			return false
		}
		for i := range len(dec) {
			if c := dec[i]; c < ' ' || c == 0x7f || c == '\\' {
				return false
			}
		}
		if dec == s {
			return true
		}
		s = dec
	}
	return false
}

// pathPart is the part of a target before its query or fragment.
func pathPart(s string) string {
	if i := strings.IndexAny(s, "?#"); i >= 0 {
		return s[:i]
	}
	return s
}

// safePath reports whether p, a path starting with "/", stays a path under every
// decoding: one leading "/", no empty segment ("//" anywhere) and no "." or ".."
// segment, so that neither dot-segment removal nor a server that decodes it once more
// can turn it into "//host".
func safePath(p string) bool {
	for range maxDecodeRounds + 1 {
		if p == "" || p[0] != '/' || strings.Contains(p, "//") {
			return false
		}
		for seg := range strings.SplitSeq(p[1:], "/") {
			if seg == "." || seg == ".." {
				return false
			}
		}
		if !strings.Contains(p, "%") {
			return true
		}
		dec, err := url.PathUnescape(p)
		if err != nil {
			return false
		}
		if dec == p {
			return true
		}
		p = dec
	}
	return false
}

// absolute checks an absolute target: "http://" or "https://" (scheme in any case),
// an authority of host[:port] with no user info, then nothing or a safe path, query or
// fragment. The host must be allowed. Go's own parser must read the same host.
func (rd *Redirects) absolute(raw string, r *http.Request) bool {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok || (!strings.EqualFold(scheme, "http") && !strings.EqualFold(scheme, "https")) {
		return false
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	authority, tail := rest[:end], rest[end:]
	host, ok := splitAuthority(authority)
	if !ok {
		return false
	}
	if tail != "" && tail[0] == '/' && !safePath(pathPart(tail)) {
		return false
	}
	u, err := url.Parse(raw)
	if err != nil || u.User != nil || u.Opaque != "" || !strings.EqualFold(u.Hostname(), host) {
		return false
	}
	return rd.allowed(strings.ToLower(host), r)
}

// splitAuthority returns the host of "host", "host:port", "[v6]" or "[v6]:port": a DNS
// name of ASCII letters, digits, '-' and '_', or an IP address (an IPv6 one in
// brackets, without zone), and a port of 1 to 5 digits up to 65535. No user info, no
// percent-encoding, no trailing dot.
func splitAuthority(a string) (host string, ok bool) {
	port := ""
	if strings.HasPrefix(a, "[") {
		end := strings.IndexByte(a, ']')
		if end < 0 {
			return "", false
		}
		addr, err := netip.ParseAddr(a[1:end])
		if err != nil || !addr.Is6() || addr.Zone() != "" {
			return "", false
		}
		host, rest := a[1:end], a[end+1:]
		if rest != "" {
			if rest[0] != ':' {
				return "", false
			}
			port = rest[1:]
			if !validPort(port) {
				return "", false
			}
		}
		return host, true
	}
	host = a
	if i := strings.LastIndexByte(a, ':'); i >= 0 {
		host, port = a[:i], a[i+1:]
		if !validPort(port) {
			return "", false
		}
	}
	if !routing.ValidHostName(host) {
		return "", false
	}
	return host, true
}

func validPort(p string) bool {
	if p == "" || len(p) > 5 {
		return false
	}
	n, err := strconv.Atoi(p)
	return err == nil && n >= 0 && n <= 65535 && p[0] != '+' && p[0] != '-'
}

// allowed reports whether host (lower case, no port, IPv6 without brackets) is listed,
// falls under a "*." entry by exactly one label, or is the host r came to.
func (rd *Redirects) allowed(host string, r *http.Request) bool {
	if a, err := netip.ParseAddr(host); err == nil {
		host = a.String()
	}
	if rd.exact[host] {
		return true
	}
	for _, suffix := range rd.wild {
		if label, ok := strings.CutSuffix(host, suffix); ok && label != "" && !strings.Contains(label, ".") {
			return true
		}
	}
	if r == nil {
		return false
	}
	own := strings.ToLower(routing.HostOnly(rd.trust.Host(r)))
	if a, err := netip.ParseAddr(own); err == nil {
		own = a.String()
	}
	return own != "" && own == host
}
