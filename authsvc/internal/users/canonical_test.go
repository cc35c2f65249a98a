package users_test

import (
	"errors"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/authgate/authgate/authsvc/internal/users"
)

// refusedRunes lists every class of invisible or text-reordering character an email
// or a name must not hold, with representatives of each (SECURITY.md P3 "no two
// accounts look the same").
var refusedRunes = []struct {
	class string
	runes []rune
}{
	{"C0 controls and NUL", []rune{0x00, 0x01, 0x07, 0x08, 0x0b, 0x0c, 0x1b, 0x1f}},
	{"DEL and C1 controls", []rune{0x7f, 0x80, 0x85, 0x9f}},
	{"zero-width", []rune{0x200b, 0x200c, 0x200d, 0x2060, 0xfeff}},
	{"bidi embeddings and overrides", []rune{0x202a, 0x202b, 0x202c, 0x202d, 0x202e}},
	{"bidi isolates", []rune{0x2066, 0x2067, 0x2068, 0x2069}},
	{"bidi marks", []rune{0x200e, 0x200f, 0x061c}},
	{"other format characters", []rune{0x00ad, 0x180e, 0x2061, 0x2064, 0xfff9, 0xe0001, 0xe0041}},
	{"line and paragraph separators", []rune{0x2028, 0x2029}},
	{"private use", []rune{0xe000, 0xf8ff, 0xf0000}},
	{"unassigned", []rune{0x0378, 0xfdd0, 0xffff, 0x10ffff}},
	{"blank letters and symbols", []rune{0x115f, 0x1160, 0x3164, 0xffa0, 0x2800}},
	{"replacement of invalid UTF-8", []rune{utf8.RuneError}}, // as U+FFFD it is a symbol: the raw byte is tested below
}

func TestCanonicalEmailRefusesInvisible(t *testing.T) {
	for _, c := range refusedRunes {
		if c.class == "replacement of invalid UTF-8" {
			continue
		}
		t.Run(c.class, func(t *testing.T) {
			for _, r := range c.runes {
				for _, s := range []string{
					"al" + string(r) + "ice@example.com", string(r) + "alice@example.com",
					"alice" + string(r) + "@example.com", "alice@exa" + string(r) + "mple.com",
					"alice@example.com" + string(r),
				} {
					if got, err := users.CanonicalEmail(s); !errors.Is(err, users.ErrEmailInvalid) {
						t.Errorf("CanonicalEmail(%+q) = %q, %v; want ErrEmailInvalid", s, got, err)
					}
				}
				if users.VisibleText("Al"+string(r)+"ice", true) {
					t.Errorf("VisibleText accepts %U in a name", r)
				}
			}
		})
	}
	for _, s := range []string{"al\xffice@example.com", "alice@ex\xc3ample.com"} {
		if _, err := users.CanonicalEmail(s); !errors.Is(err, users.ErrEmailInvalid) {
			t.Errorf("invalid UTF-8 %+q: %v", s, err)
		}
	}
}

func TestCanonicalEmail(t *testing.T) {
	good := []struct{ in, want string }{
		// ASCII: exactly the trim + lower-case every stored account has.
		{"alice@example.com", "alice@example.com"},
		{"  ALICE@Example.COM\t", "alice@example.com"},
		{"a.b+tag@sub.example.co.uk", "a.b+tag@sub.example.co.uk"},
		{"o'brien_x-y@example.com", "o'brien_x-y@example.com"},
		// Unicode local parts: NFC, width-mapped, lower-cased.
		{"J\u00d6RG@example.com", "j\u00f6rg@example.com"},
		{"jo\u0308rg@example.com", "j\u00f6rg@example.com"},                 // decomposed ö composes
		{"\uff21\uff2c\uff29\uff23\uff25@example.com", "alice@example.com"}, // fullwidth
		// Domains: IDNA to lower-case punycode, whatever form they come in.
		{"bob@B\u00fccher.DE", "bob@xn--bcher-kva.de"},
		{"bob@xn--bcher-kva.de", "bob@xn--bcher-kva.de"},
		{"bob@XN--BCHER-KVA.DE", "bob@xn--bcher-kva.de"},
		{"bob@\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45.com", "bob@example.com"},
	}
	for _, tc := range good {
		got, err := users.CanonicalEmail(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("CanonicalEmail(%+q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
		if again, err := users.CanonicalEmail(got); err != nil || again != got {
			t.Errorf("not idempotent on %+q: %q, %v", got, again, err)
		}
	}
	if _, err := users.CanonicalEmail(" \t "); !errors.Is(err, users.ErrEmailEmpty) {
		t.Errorf("blank: %v", err)
	}
	bad := []string{
		"nope", "@example.com", "alice@", "alice@example", "alice@@example.com", "a@b@example.com",
		"alice@example..com", "alice@.example.com", "alice@example.com.", "alice example@example.com",
		"Alice <alice@example.com>", "alice@example.com (Alice)", `"alice"@example.com`, `"a b"@example.com`,
		"alice@[192.0.2.1]", "a\\b@example.com", "alice;x@example.com", "alice@exa_mple.com", "alice@-example.com",
		".alice@example.com", "alice.@example.com", "al..ice@example.com",
		strings.Repeat("a", 64) + "@" + strings.Repeat("b", 190) + ".com", // 259 bytes
	}
	for _, s := range bad {
		if got, err := users.CanonicalEmail(s); !errors.Is(err, users.ErrEmailInvalid) {
			t.Errorf("CanonicalEmail(%+q) = %q, %v; want ErrEmailInvalid", s, got, err)
		}
	}
}

// TestNormalizeEmailKeepsStoredAccounts: for every ASCII address (all accounts stored
// before CanonicalEmail existed, and the seed's migration) the result is unchanged.
func TestNormalizeEmailKeepsStoredAccounts(t *testing.T) {
	for _, s := range []string{"Alice@Example.com", " bob@x.io ", "C.D+e@Sub.Example.org", "weird\u200b@x.io"} {
		if got, want := users.NormalizeEmail(s), strings.ToLower(strings.TrimSpace(s)); got != want {
			t.Errorf("NormalizeEmail(%+q) = %q, want %q", s, got, want)
		}
	}
}

func TestVisibleText(t *testing.T) {
	for _, s := range []string{"Ada Lovelace", "Jörg", "李小龍", "O'Brien-Smith", "Zoë\u00a0Q"} {
		if !users.VisibleText(s, true) {
			t.Errorf("VisibleText(%+q) = false", s)
		}
	}
	if users.VisibleText("Ada Lovelace", false) {
		t.Error("a space passes with spaces=false")
	}
	// Marks that render as nothing: "Ad\u034Fmin" shows as "Admin".
	for _, r := range []rune{0x034f, 0xfe00, 0xfe0f, 0xe0100, 0xe01ef, 0x17b4, 0x17b5, 0x180b, 0x180c, 0x180d, 0x180f} {
		if s := "Ad" + string(r) + "min"; users.VisibleText(s, true) {
			t.Errorf("VisibleText(%+q) = true: an invisible mark passes", s)
		}
	}
	// Combining marks that show stay allowed (Jo\u0308rg is Jörg).
	if !users.VisibleText("Jo\u0308rg", true) {
		t.Error("a visible combining mark is refused")
	}
}

// FuzzCanonicalEmail: never panics; the result is idempotent, at most MaxEmailBytes,
// NFC, lower-case ASCII in the domain, and free of every refused class.
func FuzzCanonicalEmail(f *testing.F) {
	for _, s := range []string{
		"alice@example.com", " ALICE@Example.COM ", "bob@B\u00fccher.de", "a\u200bb@x.io", "a@xn--bcher-kva.de",
		"\uff21@\uff45.com", "jo\u0308rg@example.com", "\u202ealice@x.io", "a\x00@x.io", `"a"@x.io`, "a@b@c.d",
		"\u0130@x.io", "\u00df@x.io", "\u1e9e@x.io", "\u03a3@x.io", "\u2126@x.io", "k\u212a@x.io",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := users.CanonicalEmail(in)
		if err != nil {
			if !errors.Is(err, users.ErrEmailInvalid) && !errors.Is(err, users.ErrEmailEmpty) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		again, err := users.CanonicalEmail(out)
		if err != nil || again != out {
			t.Fatalf("not idempotent: %+q -> %+q -> %+q, %v", in, out, again, err)
		}
		if len(out) > users.MaxEmailBytes || !norm.NFC.IsNormalString(out) || !users.VisibleText(out, false) {
			t.Fatalf("bad output %+q for %+q", out, in)
		}
		at := strings.LastIndexByte(out, '@')
		if at <= 0 || strings.Count(out, "@") != 1 {
			t.Fatalf("not one @ in %+q", out)
		}
		for _, r := range out[at+1:] {
			if r > unicode.MaxASCII || unicode.IsUpper(r) {
				t.Fatalf("domain of %+q not lower-case ASCII", out)
			}
		}
		if users.NormalizeEmail(in) != out {
			t.Fatalf("NormalizeEmail(%+q) = %+q, CanonicalEmail %+q", in, users.NormalizeEmail(in), out)
		}
	})
}
