package users

import (
	"errors"
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/text/secure/precis"
	"golang.org/x/text/unicode/norm"
)

// Errors of CanonicalEmail.
var (
	// ErrEmailEmpty: nothing but white space.
	ErrEmailEmpty = errors.New("email is empty")
	// ErrEmailInvalid: not a plain address, or one with a character a person cannot
	// see or that changes how the text around it reads.
	ErrEmailInvalid = errors.New("email is invalid")
)

// asciiSpace is what CanonicalEmail trims: what a form or a paste adds around an
// address. Any other white space (vertical tab, form feed, NEL, U+2028, …) refuses it.
const asciiSpace = " \t\r\n"

// MaxEmailBytes is the longest email accepted (RFC 5321's path limit less the brackets).
const MaxEmailBytes = 254

// domainProfile maps a domain for lookup (UTS #46: width and case folded, the bidi and
// joiner rules enforced) and returns its ASCII (punycode) form.
var domainProfile = idna.New(idna.MapForLookup(), idna.BidiRule(), idna.Transitional(false), idna.StrictDomainName(true))

// CanonicalEmail returns the one stored form of an email address, so that two
// addresses a person cannot tell apart are one account:
//
//   - spaces, tabs and line ends around it are trimmed; any other rune that is not a letter, mark, number,
//     punctuation or symbol (controls and NUL, format characters such as the
//     zero-width U+200B..U+200D, U+2060, U+FEFF and the bidi controls U+202A..U+202E,
//     U+2066..U+2069, U+200E, U+200F, U+061C, white space inside, private-use,
//     surrogates, unassigned code points) or invalid UTF-8 refuses it;
//   - it must be a bare addr-spec as net/mail parses it (no display name, no
//     comments, no quoted local part, no domain literal) with a dotted domain;
//   - the local part is NFC-normalised, width-mapped and lower-cased by the PRECIS
//     UsernameCaseMapped profile (RFC 8265), which for ASCII is exactly the
//     strings.ToLower the accounts were always stored with;
//   - the domain is mapped by IDNA (UTS #46 lookup) to its lower-case ASCII
//     (punycode) form, so "Bücher.de" and "xn--bcher-kva.de" are one domain.
//
// For an ASCII address the result is strings.ToLower(strings.TrimSpace(raw)), the
// form every existing account has. CanonicalEmail is idempotent. Errors:
// ErrEmailEmpty, ErrEmailInvalid.
func CanonicalEmail(raw string) (string, error) {
	s := strings.Trim(raw, asciiSpace)
	if s == "" {
		return "", ErrEmailEmpty
	}
	if len(s) > 4*MaxEmailBytes || !VisibleText(s, false) {
		return "", ErrEmailInvalid
	}
	s = norm.NFC.String(s)
	if strings.ContainsAny(s, "\"\\<>()[],;:") {
		return "", ErrEmailInvalid
	}
	if a, err := mail.ParseAddress(s); err != nil || a.Name != "" || a.Address != s {
		return "", ErrEmailInvalid
	}
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 {
		return "", ErrEmailInvalid
	}
	local, err := precis.UsernameCaseMapped.String(s[:at])
	if err != nil || local == "" || !VisibleText(local, false) || strings.ContainsAny(local, "@\"\\<>()[],;:") {
		return "", ErrEmailInvalid
	}
	domain, err := domainProfile.ToASCII(s[at+1:])
	if err != nil {
		return "", ErrEmailInvalid
	}
	domain = strings.ToLower(domain)
	dot := strings.LastIndexByte(domain, '.')
	if dot <= 0 || dot == len(domain)-1 || strings.Contains(domain, "..") {
		return "", ErrEmailInvalid
	}
	out := local + "@" + domain
	if len(out) > MaxEmailBytes {
		return "", ErrEmailInvalid
	}
	if a, err := mail.ParseAddress(out); err != nil || a.Address != out {
		return "", ErrEmailInvalid
	}
	return out, nil
}

// VisibleText reports whether s is valid UTF-8 made only of letters, marks, numbers,
// punctuation and symbols, plus ordinary spaces (U+0020 and the other Zs spaces) when
// spaces is set: no control character (NUL included), no format character (zero-width
// and bidi controls), no line or paragraph separator, no private-use, surrogate or
// unassigned code point, and none of the letters and symbols that render as nothing
// (blankLetter).
func VisibleText(s string, spaces bool) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		switch {
		case blankLetter(r), invisibleMark(r):
			return false
		case unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S):
		case spaces && unicode.Is(unicode.Zs, r):
		default:
			return false
		}
	}
	return true
}

// invisibleMark reports the default-ignorable code points that are marks by category,
// so render as nothing beside a letter: the combining grapheme joiner (U+034F), the
// variation selectors (U+FE00–FE0F, U+E0100–E01EF), the Mongolian free variation
// selectors (U+180B–180D, U+180F) and the Khmer inherent vowels (U+17B4, U+17B5).
func invisibleMark(r rune) bool {
	return unicode.Is(unicode.Variation_Selector, r) || unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r) ||
		r == 0x034f || r == 0x17b4 || r == 0x17b5 || (r >= 0x180b && r <= 0x180f)
}

// blankLetter reports the code points that are letters or symbols by category yet
// render blank: the Hangul fillers and the blank Braille pattern.
func blankLetter(r rune) bool {
	switch r {
	case 0x115f, 0x1160, 0x3164, 0xffa0, 0x2800:
		return true
	}
	return false
}
