package routing

import (
	"errors"
	"net"
	"strings"
)

// compileHost checks a rule's host and returns it lower-cased: "" (any host), a host
// name or IP address, or "*." and a host name (one label below it). Ports are not part
// of a rule: a request's port is ignored.
func compileHost(h string) (string, error) {
	if h == "" {
		return "", nil
	}
	h = strings.ToLower(h)
	name := strings.TrimPrefix(h, "*.")
	if strings.Contains(name, "*") {
		return "", errors.New(`a wildcard is allowed only as a leading "*."`)
	}
	if ip := net.ParseIP(strings.Trim(name, "[]")); ip != nil {
		if name != h {
			return "", errors.New("a wildcard cannot precede an IP address")
		}
		return strings.Trim(name, "[]"), nil
	}
	if !ValidHostName(name) {
		return "", errors.New("not a host name (letters, digits, '-' and '.', no port)")
	}
	return h, nil
}

// ValidHostName reports whether s is a DNS name (or a dotted IPv4 address): labels of
// letters, digits, '-' and '_', 1–63 bytes each, 253 bytes at most.
func ValidHostName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := range len(label) {
			c := label[i]
			if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '-' && c != '_' {
				return false
			}
		}
	}
	return true
}

// HostOnly returns the host of a Host header value without its port ("Example.com:8443"
// → "Example.com", "[::1]:80" → "::1"). It does not allocate.
func HostOnly(hostport string) string {
	if strings.HasPrefix(hostport, "[") {
		if end := strings.IndexByte(hostport, ']'); end > 0 {
			return hostport[1:end]
		}
		return hostport
	}
	if i := strings.LastIndexByte(hostport, ':'); i >= 0 && strings.IndexByte(hostport[:i], ':') < 0 {
		return hostport[:i]
	}
	return hostport
}

// matchHost reports whether the request host (port already removed) falls under the
// rule's compiled host.
func matchHost(rule, host string) bool {
	switch {
	case rule == "":
		return true
	case strings.HasPrefix(rule, "*."):
		suffix := rule[1:] // ".example.com"
		if len(host) <= len(suffix) || !strings.EqualFold(host[len(host)-len(suffix):], suffix) {
			return false
		}
		return strings.IndexByte(host[:len(host)-len(suffix)], '.') < 0
	default:
		return strings.EqualFold(rule, host)
	}
}

// hostCovers reports whether every host matched by later is also matched by earlier.
func hostCovers(earlier, later string) bool {
	switch {
	case earlier == "":
		return true
	case later == "":
		return false
	case earlier == later:
		return true
	case strings.HasPrefix(earlier, "*.") && !strings.HasPrefix(later, "*."):
		return matchHost(earlier, later)
	default:
		return false
	}
}
