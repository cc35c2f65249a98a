package tokens

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/golang-jwt/jwt/v5"
)

// MaxTokenBytes is the longest token Parse looks at (SECURITY.md T4).
const MaxTokenBytes = 8 << 10

// parsedClaims is what the jwt library decodes and validates (exp, nbf, iat, iss, aud).
type parsedClaims struct {
	jwt.RegisteredClaims
	SessionID string `json:"sid"`
	Type      Type   `json:"typ"`
}

// Parse verifies token and returns its claims. Every failure wraps ErrInvalid and returns
// zero Claims: a token over MaxTokenBytes (rejected before any decoding), anything but
// three non-empty base64url segments, a header without a known "kid" (looked up only in the
// Codec's key set; "jku", "x5u", "jwk" and "x5c" are ignored), an "alg" other than the one
// pinned to that key, a "crit" header, a header or claim "typ" of another token type, a bad
// signature, a missing or passed "exp" (after the leeway), a future "nbf" or "iat", a wrong
// "iss" or "aud", or an empty "sub", "sid" or "jti". There is no "expired but otherwise
// valid" outcome.
func (c *Codec) Parse(token string) (Claims, error) {
	claims, _, err := c.parseRetry(token)
	return claims, err
}

// parseRetry is Parse, also saying whether a refused token may be accepted later (its
// nbf or iat is still ahead), so that a cache does not remember that refusal.
func (c *Codec) parseRetry(token string) (claims Claims, later bool, err error) {
	claims, reason := c.parse(token)
	if reason == "" {
		return claims, false, nil
	}
	return Claims{}, reason == reasonNotYet, fmt.Errorf("%w: %s", ErrInvalid, reason)
}

// reasonNotYet is parse's reason for a token whose nbf or iat lies ahead.
const reasonNotYet = "token not valid yet"

// parse returns the claims or a non-empty reason for rejecting the token. The reason is
// meant for logs: it names the failed check and carries no claim values.
func (c *Codec) parse(token string) (Claims, string) {
	if len(token) > MaxTokenBytes {
		return Claims{}, "token too long"
	}
	if !compactAlphabet(token) {
		return Claims{}, "token contains characters outside base64url"
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return Claims{}, "token must have three segments"
	}
	for _, p := range parts {
		if p == "" {
			return Claims{}, "empty segment"
		}
	}
	key, reason := c.checkHeader(parts[0])
	if reason != "" {
		return Claims{}, reason
	}
	if c.expired(parts[1]) {
		// Refused before the signature check: expiry is read from the payload as sent,
		// and a token past it is refused whatever its signature, so an expired token
		// costs a base64 and JSON decode, not a public-key operation.
		return Claims{}, "token is expired"
	}
	var pc parsedClaims
	_, err := c.parsers[key.Alg].ParseWithClaims(token, &pc, func(t *jwt.Token) (any, error) {
		// Belt and braces: the parser already enforces WithValidMethods.
		if t.Method == nil || t.Method.Alg() != key.Alg {
			return nil, fmt.Errorf("algorithm not allowed for key %s", key.ID)
		}
		return key.Public, nil
	})
	if err != nil {
		if errors.Is(err, jwt.ErrTokenNotValidYet) || errors.Is(err, jwt.ErrTokenUsedBeforeIssued) {
			return Claims{}, reasonNotYet
		}
		return Claims{}, err.Error()
	}
	switch {
	case pc.Type != c.typ:
		return Claims{}, "wrong token type"
	case pc.Subject == "", pc.SessionID == "", pc.ID == "":
		return Claims{}, "sub, sid and jti are required"
	case pc.IssuedAt == nil:
		return Claims{}, "iat is required"
	}
	return Claims{
		Subject:   pc.Subject,
		SessionID: pc.SessionID,
		ID:        pc.ID,
		Type:      pc.Type,
		KeyID:     key.ID,
		IssuedAt:  pc.IssuedAt.Time,
		ExpiresAt: pc.ExpiresAt.Time,
	}, ""
}

// expired reports whether the payload segment names an "exp" that, with the leeway, has
// passed. Anything it cannot read is left to the full parse.
func (c *Codec) expired(seg string) bool {
	raw, err := base64.RawURLEncoding.Strict().DecodeString(seg)
	if err != nil {
		return false
	}
	var p struct {
		Exp *jwt.NumericDate `json:"exp"`
	}
	if json.Unmarshal(raw, &p) != nil || p.Exp == nil {
		return false
	}
	return !c.clock().Before(p.Exp.Add(c.leeway))
}

// checkHeader decodes the JOSE header and returns the key of the key set named by "kid"
// whose pinned algorithm matches "alg", or a reason for rejecting the token. Member names are
// matched exactly, as the jwt library does; unknown members such as jku, x5u, jwk and x5c
// are never read.
func (c *Codec) checkHeader(seg string) (Key, string) {
	raw, err := base64.RawURLEncoding.Strict().DecodeString(seg)
	if err != nil {
		return Key{}, "header is not base64url"
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(raw, &members); err != nil {
		return Key{}, "header is not a JSON object"
	}
	if _, ok := members["crit"]; ok {
		return Key{}, "critical header extensions are not supported"
	}
	var alg, kid, typ string
	for name, dst := range map[string]*string{"alg": &alg, "kid": &kid, "typ": &typ} {
		v, ok := members[name]
		if !ok {
			return Key{}, "header lacks " + name
		}
		if err := json.Unmarshal(v, dst); err != nil {
			return Key{}, "header " + name + " is not a string"
		}
	}
	key, ok := c.keys.Lookup(kid)
	if !ok {
		return Key{}, "unknown key id"
	}
	if alg != key.Alg {
		return Key{}, "algorithm not allowed for this key"
	}
	if typ != c.headerTyp {
		return Key{}, "wrong token type in header"
	}
	return key, ""
}

// compactAlphabet reports whether s holds only base64url characters and dots, so that no
// whitespace, padding or other byte the base64 decoder would skip can ride along.
func compactAlphabet(s string) bool {
	for i := range len(s) {
		switch b := s[i]; {
		case b >= 'A' && b <= 'Z', b >= 'a' && b <= 'z', b >= '0' && b <= '9', b == '-', b == '_', b == '.':
		default:
			return false
		}
	}
	return true
}
