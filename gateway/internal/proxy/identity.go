package proxy

import "net/http"

// IsIdentityHeader reports whether a header name is reserved for the gateway
// (SECURITY.md H1). Names compare case-insensitively with '_' read as '-', so
// "x_user_id" and "X-USER-ID" are both X-User-Id. Reserved are:
//
//   - every name starting with "X-User" (X-User, X-User-*, and also X-UserId,
//     X-Username, X-Userinfo, which upstreams read as identity too);
//   - X-Auth and every name starting with "X-Auth-" or "X-Authenticated-";
//   - X-Forwarded-User, -Email, -Groups, -Preferred-Username and -Access-Token
//     (what oauth2-proxy sends), X-Remote-User;
//   - Remote-User, Remote-Groups, Remote-Name, Remote-Email (Authelia's);
//   - each alias: a name, or a prefix when it ends in '*' ("X-Pomerium-Claim-*");
//     a lone "*" is ignored rather than reserving every header.
//
// IsIdentityHeader does not allocate.
func IsIdentityHeader(name string, aliases []string) bool {
	if len(name) >= 6 {
		switch lower(name[0]) {
		case 'x':
			if builtinX(name) {
				return true
			}
		case 'r':
			if headerEqual(name, "remote-user") || headerEqual(name, "remote-groups") ||
				headerEqual(name, "remote-name") || headerEqual(name, "remote-email") {
				return true
			}
		}
	}
	for _, a := range aliases {
		if n := len(a); n > 0 && a[n-1] == '*' {
			if n > 1 && headerHasPrefix(name, a[:n-1]) {
				return true
			}
		} else if headerEqual(name, a) {
			return true
		}
	}
	return false
}

// builtinX checks the reserved names starting with "X-".
func builtinX(name string) bool {
	switch {
	case headerHasPrefix(name, "x-user"),
		headerEqual(name, "x-auth"),
		headerHasPrefix(name, "x-auth-"),
		headerHasPrefix(name, "x-authenticated-"),
		headerEqual(name, "x-remote-user"):
		return true
	case headerHasPrefix(name, "x-forwarded-"):
		rest := name[len("x-forwarded-"):]
		return headerEqual(rest, "user") || headerEqual(rest, "email") || headerEqual(rest, "groups") ||
			headerEqual(rest, "preferred-username") || headerEqual(rest, "access-token")
	}
	return false
}

// StripIdentityHeaders deletes from h every key IsIdentityHeader reserves,
// whatever its spelling: canonical or not ("x_user_id", "X-USER-ID" set directly
// in the map) and whatever its values.
func StripIdentityHeaders(h http.Header, aliases []string) {
	for k := range h {
		if IsIdentityHeader(k, aliases) {
			delete(h, k)
		}
	}
}

// lower folds ASCII letters and reads '_' as '-'.
func lower(c byte) byte {
	switch {
	case 'A' <= c && c <= 'Z':
		return c + 'a' - 'A'
	case c == '_':
		return '-'
	}
	return c
}

// headerHasPrefix reports whether name starts with prefix after folding both.
func headerHasPrefix(name, prefix string) bool {
	if len(name) < len(prefix) {
		return false
	}
	for i := range len(prefix) {
		if lower(name[i]) != lower(prefix[i]) {
			return false
		}
	}
	return true
}

// headerEqual reports whether a and b are the same name after folding.
func headerEqual(a, b string) bool {
	return len(a) == len(b) && headerHasPrefix(a, b)
}
