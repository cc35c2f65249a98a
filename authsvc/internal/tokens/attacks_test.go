package tokens_test

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/authgate/authgate/authsvc/internal/tokens"
)

// TestAttacks covers SECURITY.md T1, T2 and T4: each case is a token an attacker can
// build; every one must be rejected with ErrInvalid.
func TestAttacks(t *testing.T) {
	keys := newKeyring(t)
	signer := keys.rsa("access")
	attacker := keys.rsa("attacker")
	c, _ := newCodec(t, tokens.Access, signer)
	kid := kidOf(t, signer.Public())
	good := craft(t, jwt.SigningMethodRS256, signer, accessHeader(kid), goodClaims())
	if _, err := c.Parse(good); err != nil {
		t.Fatalf("control token rejected: %v", err)
	}
	parts := strings.Split(good, ".")
	der, err := x509.MarshalPKIXPublicKey(signer.Public())
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	withHeader := func(extra map[string]any) map[string]any {
		h := accessHeader(kid)
		for k, v := range extra {
			h[k] = v
		}
		return h
	}
	seg := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	noneTok := craft(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, accessHeader(kid), goodClaims())
	tampered := goodClaims()
	tampered["sub"] = "admin"
	tamperedPayload := craft(t, jwt.SigningMethodRS256, attacker, accessHeader(kid), tampered)
	padded := goodClaims()
	padded["pad"] = strings.Repeat("A", tokens.MaxTokenBytes)

	tests := []struct {
		name  string
		token string
	}{
		{"empty", ""},
		{"dots only", ".."},
		{"two segments", parts[0] + "." + parts[1]},
		{"four segments", good + "." + parts[2]},
		{"empty signature", parts[0] + "." + parts[1] + "."},
		{"empty header", "." + parts[1] + "." + parts[2]},
		{"empty payload", parts[0] + ".." + parts[2]},
		{"trailing newline", good + "\n"},
		{"base64 padding", good + "=="},
		{"space inside", parts[0] + ". " + parts[1] + "." + parts[2]},
		{"alg none, no signature", noneTok},
		{"alg none with the real signature", strings.TrimSuffix(noneTok, ".") + "." + parts[2]},
		{"alg None", seg(`{"alg":"None","kid":"`+kid+`","typ":"at+jwt"}`) + "." + parts[1] + "." + parts[2]},
		{"alg missing", seg(`{"kid":"`+kid+`","typ":"at+jwt"}`) + "." + parts[1] + "." + parts[2]},
		{"HS256 with the PEM public key as secret", craft(t, jwt.SigningMethodHS256, pubPEM, withHeader(nil), goodClaims())},
		{"HS256 with the DER public key as secret", craft(t, jwt.SigningMethodHS256, der, withHeader(nil), goodClaims())},
		{"RS384 with the real key", craft(t, jwt.SigningMethodRS384, signer, withHeader(nil), goodClaims())},
		{"PS256 with the real key", craft(t, jwt.SigningMethodPS256, signer, withHeader(nil), goodClaims())},
		{"ES256 token claiming the RS256 kid", craft(t, jwt.SigningMethodES256, keys.ec("ec"), withHeader(nil), goodClaims())},
		{"unknown kid", craft(t, jwt.SigningMethodRS256, signer, withHeader(map[string]any{"kid": "AAAAAAAAAAAAAAAA"}), goodClaims())},
		{"missing kid", craft(t, jwt.SigningMethodRS256, signer, withHeader(map[string]any{"kid": nil}), goodClaims())},
		{"kid as a path", craft(t, jwt.SigningMethodRS256, signer, withHeader(map[string]any{"kid": "../../../../dev/null"}), goodClaims())},
		{"kid as a number", craft(t, jwt.SigningMethodRS256, signer, withHeader(map[string]any{"kid": 1}), goodClaims())},
		{"kid in other case", craft(t, jwt.SigningMethodRS256, signer, withHeader(map[string]any{"kid": nil, "KID": kid}), goodClaims())},
		{"attacker key embedded as jwk", craft(t, jwt.SigningMethodRS256, attacker, withHeader(map[string]any{
			"jwk": map[string]any{"kty": "RSA", "n": base64.RawURLEncoding.EncodeToString(attacker.N.Bytes()), "e": "AQAB"},
		}), goodClaims())},
		{"attacker key embedded as x5c", craft(t, jwt.SigningMethodRS256, attacker, withHeader(map[string]any{
			"x5c": []string{base64.StdEncoding.EncodeToString(der)},
		}), goodClaims())},
		{"crit header", craft(t, jwt.SigningMethodRS256, signer, withHeader(map[string]any{"crit": []string{"exp"}}), goodClaims())},
		{"header not JSON", seg("not json") + "." + parts[1] + "." + parts[2]},
		{"header a JSON array", seg(`["alg"]`) + "." + parts[1] + "." + parts[2]},
		{"payload not JSON", parts[0] + "." + seg("not json") + "." + parts[2]},
		{"tampered payload, original signature", parts[0] + "." + strings.Split(tamperedPayload, ".")[1] + "." + parts[2]},
		{"tampered payload, signed by another key", tamperedPayload},
		{"flipped signature bit", parts[0] + "." + parts[1] + "." + flipLastChar(parts[2])},
		{"oversized but validly signed", craft(t, jwt.SigningMethodRS256, signer, accessHeader(kid), padded)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			claims, err := c.Parse(tt.token)
			assertInvalid(t, claims, err)
		})
	}
}

// flipLastChar changes the last base64url character of s to another valid one.
func flipLastChar(s string) string {
	last := s[len(s)-1]
	repl := byte('A')
	if last == 'A' {
		repl = 'Q'
	}
	return s[:len(s)-1] + string(repl)
}

// TestSizeLimitBoundary finds the longest validly signed token that fits MaxTokenBytes:
// it parses; one that is longer by padding does not (T4).
func TestSizeLimitBoundary(t *testing.T) {
	signer := newKeyring(t).key("ed", tokens.EdDSA)
	c, _ := newCodec(t, tokens.Access, signer)
	kid := kidOf(t, signer.Public())
	tokenWithPad := func(n int) string {
		claims := goodClaims()
		claims["pad"] = strings.Repeat("x", n)
		return craft(t, jwt.SigningMethodEdDSA, signer, accessHeader(kid), claims)
	}
	// Binary search for the largest pad n whose token still fits (length grows with n).
	lo, hi := 0, tokens.MaxTokenBytes
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if len(tokenWithPad(mid)) <= tokens.MaxTokenBytes {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	n := lo
	fits, over := tokenWithPad(n), tokenWithPad(n+3)
	if len(fits) > tokens.MaxTokenBytes || len(over) <= tokens.MaxTokenBytes {
		t.Fatalf("bad test tokens: %d and %d bytes", len(fits), len(over))
	}
	if _, err := c.Parse(fits); err != nil {
		t.Fatalf("token of %d bytes rejected: %v", len(fits), err)
	}
	claims, err := c.Parse(over)
	assertInvalid(t, claims, err)
}

// TestRemoteKeyHeadersIgnored: jku and x5u pointing at a live server are never fetched
// (T2); a token signed by the real key is judged on that key alone.
func TestRemoteKeyHeadersIgnored(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	keys := newKeyring(t)
	signer, attacker := keys.key("ed", tokens.EdDSA), keys.key("attacker", tokens.EdDSA)
	c, _ := newCodec(t, tokens.Access, signer)
	kid := kidOf(t, signer.Public())
	header := accessHeader(kid)
	header["jku"] = srv.URL + "/jwks.json"
	header["x5u"] = srv.URL + "/cert.pem"
	tests := []struct {
		name  string
		key   any
		valid bool
	}{
		{"signed by the real key", signer, true},
		{"signed by the attacker's key", attacker, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			claims, err := c.Parse(craft(t, jwt.SigningMethodEdDSA, tt.key, header, goodClaims()))
			if tt.valid && err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !tt.valid {
				assertInvalid(t, claims, err)
			}
		})
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the parser fetched a remote key %d times", n)
	}
}
