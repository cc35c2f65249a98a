package tokens_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/authgate/authgate/authsvc/internal/tokens"
)

// FuzzParse: Parse never panics, and it accepts nothing but the exact tokens the codec
// issued (T1, T4). Every rejection wraps ErrInvalid and carries zero claims.
func FuzzParse(f *testing.F) {
	keys := newKeyring(f)
	signer := keys.key("ed", tokens.EdDSA)
	c, _ := newCodec(f, tokens.Access, signer)
	issued := map[string]bool{}
	for _, ids := range [][3]string{{"user-1", "session-1", "jti-1"}, {"u", "s", "j"}} {
		tok, _, err := c.Issue(ids[0], ids[1], ids[2])
		if err != nil {
			f.Fatal(err)
		}
		issued[tok] = true
		f.Add(tok)
		parts := strings.Split(tok, ".")
		f.Add(parts[0] + "." + parts[1] + ".")
		f.Add(parts[0] + "." + parts[1] + "." + parts[2] + "A")
		f.Add(strings.ToUpper(tok))
	}
	kid := kidOf(f, signer.Public())
	f.Add(craft(f, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, accessHeader(kid), goodClaims()))
	f.Add(craft(f, jwt.SigningMethodHS256, []byte(kid), accessHeader(kid), goodClaims()))
	f.Add(craft(f, jwt.SigningMethodEdDSA, keys.key("other", tokens.EdDSA), accessHeader(kid), goodClaims()))
	for _, s := range []string{"", ".", "..", "...", "a.b.c", "eyJ9.eyJ9.AA", strings.Repeat("A", tokens.MaxTokenBytes+1)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, token string) {
		claims, err := c.Parse(token)
		if err != nil {
			if !errors.Is(err, tokens.ErrInvalid) || claims != (tokens.Claims{}) {
				t.Fatalf("rejection = %+v, %v; want zero claims and ErrInvalid", claims, err)
			}
			return
		}
		if !issued[token] {
			t.Fatalf("accepted a token the codec did not issue: %q", token)
		}
	})
}
