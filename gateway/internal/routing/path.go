package routing

import (
	"errors"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// ErrBadPath is wrapped by every error CheckPath returns.
var ErrBadPath = errors.New("routing: ambiguous or malformed request path")

// badPathError is ErrBadPath with the reason; reasons are constants so the
// accepting path never allocates.
type badPathError struct{ reason string }

func (e badPathError) Error() string        { return ErrBadPath.Error() + ": " + e.reason }
func (e badPathError) Is(target error) bool { return target == ErrBadPath }

// CheckPath rejects a request path whose meaning could differ between the
// gateway and an upstream (SECURITY.md H4), so that the route decision is made on
// exactly the path that is forwarded. path is the decoded r.URL.Path and
// escapedPath is r.URL.EscapedPath() (what the proxy forwards). It returns nil or
// an error wrapping ErrBadPath that names the reason. Rejected:
//
//   - a path (or escaped path) not starting with "/", or an escaped path that does
//     not decode to path, or malformed percent-encoding;
//   - encoded '/', '\' or '.' (%2F, %5C, %2E in any case). '.' is unreserved, no
//     client needs to encode it (RFC 3986 §2.3), and refusing every %2E, not only
//     whole "%2e%2e" segments, also stops mixed forms such as ".%2e" or "%2e." for
//     upstreams that decode before resolving dot segments;
//   - a percent sign followed by two hex digits in the decoded path (%25xx, double
//     encoding, for upstreams that decode twice);
//   - NUL and every other control character (C0, DEL, C1), raw or encoded;
//   - a raw backslash; ';' anywhere (matrix parameters); '?' or '#' after decoding
//     (a hop that decodes and re-parses would cut the path there);
//   - empty segments ("//") and "." or ".." segments;
//   - invalid UTF-8 (overlong encodings of '.' and '/'), Unicode format characters
//     (zero-width, bidi controls) and the compatibility forms that upstream stacks
//     normalise to '.', '/', '\', ';', '%', '?' or '#' (fullwidth and small forms,
//     dot leaders, division and fraction slashes, the Greek question mark).
//
// Also rejected, unless PathCheck.AllowAmbiguousSegments is set (SECURITY.md H10):
//
//   - a segment ending in '.' or a space ("/admin.", "/admin%20"), which Windows, IIS
//     and some frameworks strip, so that it names another segment upstream;
//   - a non-ASCII letter that common upstream stacks fold to ASCII: by case mapping
//     ("ı" U+0131 upper-cases to "I", "ſ" U+017F and the Kelvin sign fold to "s" and
//     "k") or by compatibility normalisation (ligatures such as "ﬁ", superscripts,
//     letterlike and mathematical alphanumeric symbols), so that a public catch-all
//     cannot carry them to an upstream that reads them as a protected path.
//
// One trailing slash is allowed. CheckPath does not allocate when it accepts.
func CheckPath(path, escapedPath string) error { return PathCheck{}.Check(path, escapedPath) }

// PathCheck is CheckPath with its one setting.
type PathCheck struct {
	// AllowAmbiguousSegments accepts the segments and letters listed under "Also
	// rejected" on CheckPath, for upstreams known to read them literally.
	AllowAmbiguousSegments bool
}

// Check is CheckPath under p's setting.
func (p PathCheck) Check(path, escapedPath string) error {
	if len(escapedPath) == 0 || escapedPath[0] != '/' {
		return badPathError{"escaped path does not start with '/'"}
	}
	if reason := checkEscaped(path, escapedPath); reason != "" {
		return badPathError{reason}
	}
	if reason := checkDecoded(path); reason != "" {
		return badPathError{reason}
	}
	if !p.AllowAmbiguousSegments {
		if reason := checkAmbiguous(path); reason != "" {
			return badPathError{reason}
		}
	}
	return nil
}

// checkAmbiguous returns a reason if a segment of the (otherwise accepted) decoded path
// ends in '.' or ' ', or holds a letter that folds to ASCII.
func checkAmbiguous(path string) string {
	for i := 0; i < len(path); i++ {
		c := path[i]
		switch {
		case c == '.' || c == ' ':
			if i+1 == len(path) || path[i+1] == '/' {
				return "segment ending in '.' or space"
			}
		case c >= utf8.RuneSelf:
			r, n := utf8.DecodeRuneInString(path[i:])
			if foldsToASCII(r) || decomposesToASCII(path[i:]) {
				return "letter an upstream may fold to ASCII"
			}
			i += n - 1
		}
	}
	return ""
}

// foldsToASCII reports whether the non-ASCII rune r becomes ASCII under upper- or
// lower-casing or simple case folding.
func foldsToASCII(r rune) bool {
	if unicode.ToUpper(r) < utf8.RuneSelf || unicode.ToLower(r) < utf8.RuneSelf {
		return true
	}
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if f < utf8.RuneSelf {
			return true
		}
	}
	return false
}

// decomposesToASCII reports whether the rune at the start of s has a compatibility
// (NFKC) mapping, beyond its canonical one, that holds an ASCII byte ("ﬁ" → "fi", "²" →
// "2", "ℌ" → "H"); "ü" (canonically "u" and a diaeresis) is not one. It does not allocate.
func decomposesToASCII(s string) bool {
	compat := norm.NFKC.PropertiesString(s).Decomposition()
	if string(compat) == string(norm.NFC.PropertiesString(s).Decomposition()) {
		return false
	}
	for _, b := range compat {
		if b < utf8.RuneSelf {
			return true
		}
	}
	return false
}

// checkEscaped walks escaped, decoding percent-escapes, and returns a reason if
// an escape encodes a separator, a dot or a control character, or if the result
// differs from path.
func checkEscaped(path, escaped string) string {
	j := 0
	for i := 0; i < len(escaped); i++ {
		c := escaped[i]
		if c == '%' {
			if i+2 >= len(escaped) || !isHex(escaped[i+1]) || !isHex(escaped[i+2]) {
				return "malformed percent-encoding"
			}
			c = unhex(escaped[i+1])<<4 | unhex(escaped[i+2])
			i += 2
			switch {
			case c == '/':
				return "encoded slash (%2F)"
			case c == '\\':
				return "encoded backslash (%5C)"
			case c == '.':
				return "encoded dot (%2E)"
			case c < 0x20 || c == 0x7f:
				return "encoded control character"
			}
		}
		if j >= len(path) || path[j] != c {
			return "escaped path does not decode to the path"
		}
		j++
	}
	if j != len(path) {
		return "escaped path does not decode to the path"
	}
	return ""
}

// checkDecoded returns a reason if the decoded path is not a clean absolute path
// free of characters an upstream could read differently, or "" if it is.
func checkDecoded(path string) string {
	if len(path) == 0 || path[0] != '/' {
		return "path does not start with '/'"
	}
	for i := 0; i < len(path); i++ {
		c := path[i]
		switch {
		case c == '/':
			if reason := checkSegment(path[i+1:]); reason != "" {
				return reason
			}
		case c < 0x20 || c == 0x7f:
			return "control character"
		case c == '\\':
			return "backslash"
		case c == ';':
			return "';' in path (matrix parameter)"
		case c == '?' || c == '#':
			return "encoded '?' or '#' in path"
		case c == '%' && i+2 < len(path) && isHex(path[i+1]) && isHex(path[i+2]):
			return "double percent-encoding (%25)"
		case c >= utf8.RuneSelf:
			r, n := utf8.DecodeRuneInString(path[i:])
			if reason := checkRune(r, n); reason != "" {
				return reason
			}
			i += n - 1
		}
	}
	return ""
}

// checkSegment checks the segment that starts at rest (just after a '/').
func checkSegment(rest string) string {
	switch {
	case len(rest) > 0 && rest[0] == '/':
		return "empty segment (//)"
	case rest == "." || rest == "..",
		len(rest) > 1 && rest[0] == '.' && rest[1] == '/',
		len(rest) > 2 && rest[0] == '.' && rest[1] == '.' && rest[2] == '/':
		return "dot segment"
	}
	return ""
}

// checkRune checks one non-ASCII rune of width n.
func checkRune(r rune, n int) string {
	switch {
	case r == utf8.RuneError && n == 1:
		return "invalid UTF-8"
	case unicode.IsControl(r):
		return "control character"
	case unicode.Is(unicode.Cf, r):
		return "Unicode format character"
	case isConfusable(r):
		return "character an upstream may normalise to a delimiter"
	}
	return ""
}

// isConfusable reports runes that NFKC, or Windows "best fit" mapping, turns
// into '.', '/', '\', ';', '%', '?' or '#': the whole fullwidth and small forms
// blocks, plus scattered look-alikes.
func isConfusable(r rune) bool {
	switch {
	case r >= 0xff00 && r <= 0xffef: // Halfwidth and Fullwidth Forms
		return true
	case r >= 0xfe50 && r <= 0xfe6f: // Small Form Variants
		return true
	}
	switch r {
	case 0x037e, // GREEK QUESTION MARK, canonically ';'
		0x2024, 0x2025, 0x2026, // ONE/TWO DOT LEADER, ELLIPSIS
		0x2044, 0x2215, 0x29f8, // FRACTION SLASH, DIVISION SLASH, BIG SOLIDUS
		0x2216, 0x29f5, 0x29f9: // SET MINUS, REVERSE SOLIDUS OPERATOR, BIG REVERSE SOLIDUS
		return true
	}
	return false
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}
