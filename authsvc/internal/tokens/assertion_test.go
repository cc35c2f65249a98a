package tokens_test

import (
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/authgate/authgate/authsvc/internal/tokens"
)

func newAsserter(t *testing.T, signer crypto.Signer, ttl time.Duration) (*tokens.Asserter, *tokens.KeySet) {
	t.Helper()
	set, err := tokens.NewKeySet(signer, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, err := tokens.NewAsserter(set, testIssuer, ttl, nil)
	if err != nil {
		t.Fatal(err)
	}
	return a, set
}

// TestAssertionSign: every algorithm yields a JWT the jwt library alone verifies, with
// exactly the header and claims the README documents.
func TestAssertionSign(t *testing.T) {
	keys := newKeyring(t)
	for _, alg := range []string{tokens.RS256, tokens.ES256, tokens.EdDSA} {
		t.Run(alg, func(t *testing.T) {
			signer := keys.key("assert-"+alg, alg)
			a, _ := newAsserter(t, signer, 30*time.Second)
			now := t0().Add(700 * time.Millisecond) // iat is truncated to the second
			tok, exp, err := a.Sign(tokens.Assertion{Audience: "users-app", Subject: "u1", Role: "admin", SessionID: "s1"}, now)
			if err != nil {
				t.Fatal(err)
			}
			if want := t0().Add(30 * time.Second); !exp.Equal(want) {
				t.Errorf("expiresAt %v, want %v", exp, want)
			}
			raw, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
			var h map[string]string
			if err := json.Unmarshal(raw, &h); err != nil {
				t.Fatal(err)
			}
			if len(h) != 3 || h["alg"] != alg || h["kid"] != kidOf(t, signer.Public()) || h["typ"] != "id+jwt" {
				t.Errorf("header %v", h)
			}
			claims := jwt.MapClaims{}
			_, err = jwt.NewParser(jwt.WithValidMethods([]string{alg}), jwt.WithTimeFunc(func() time.Time { return now }),
				jwt.WithAudience("users-app"), jwt.WithIssuer(testIssuer), jwt.WithExpirationRequired(), jwt.WithIssuedAt()).
				ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) { return signer.Public(), nil })
			if err != nil {
				t.Fatalf("jwt library rejects the assertion: %v", err)
			}
			jti, _ := claims["jti"].(string)
			if len(jti) != 22 {
				t.Errorf("jti %q: want 22 base64url characters", jti)
			}
			delete(claims, "jti")
			want := jwt.MapClaims{
				"iss": testIssuer, "aud": "users-app", "sub": "u1", "role": "admin", "sid": "s1",
				"iat": float64(t0().Unix()), "nbf": float64(t0().Unix()), "exp": float64(t0().Unix() + 30),
			}
			if len(claims) != len(want) {
				t.Errorf("claims %v, want %v (+jti)", claims, want)
			}
			for k, v := range want {
				if claims[k] != v {
					t.Errorf("claim %s = %v, want %v", k, claims[k], v)
				}
			}
		})
	}
}

// TestAssertionsFollowTheKeySet: a Replace of the key set switches the signing key (and
// kid) of the next assertion, and every assertion gets its own jti.
func TestAssertionsFollowTheKeySet(t *testing.T) {
	keys := newKeyring(t)
	oldKey, newKey := keys.key("old", tokens.EdDSA), keys.key("new", tokens.ES256)
	a, set := newAsserter(t, oldKey, 10*time.Second)
	claims := tokens.Assertion{Audience: "a", Subject: "u", SessionID: "s"}
	first, _, err := a.Sign(claims, t0())
	if err != nil {
		t.Fatal(err)
	}
	second, _, _ := a.Sign(claims, t0())
	if first == second {
		t.Error("two assertions share a jti")
	}
	if err := set.Replace(newKey, nil, []crypto.PublicKey{oldKey.Public()}); err != nil {
		t.Fatal(err)
	}
	tok, _, err := a.Sign(claims, t0())
	if err != nil {
		t.Fatal(err)
	}
	parsed, _, err := jwt.NewParser().ParseUnverified(tok, jwt.MapClaims{})
	if err != nil || parsed.Header["kid"] != kidOf(t, newKey.Public()) || parsed.Header["alg"] != tokens.ES256 {
		t.Fatalf("after Replace: header %v, %v", parsed.Header, err)
	}
}

func TestAssertionErrors(t *testing.T) {
	keys := newKeyring(t)
	a, set := newAsserter(t, keys.key("k", tokens.EdDSA), time.Second)
	for _, c := range []tokens.Assertion{
		{Subject: "u", SessionID: "s"}, {Audience: "a", SessionID: "s"}, {Audience: "a", Subject: "u"},
	} {
		if _, _, err := a.Sign(c, t0()); !errors.Is(err, tokens.ErrAssertionClaim) {
			t.Errorf("Sign(%+v) = %v, want ErrAssertionClaim", c, err)
		}
	}
	if _, _, err := a.Sign(tokens.Assertion{Audience: "a", Subject: "u", SessionID: "s", Role: ""}, t0()); err != nil {
		t.Errorf("an empty role is allowed: %v", err)
	}
	for _, tc := range []struct {
		name   string
		keys   *tokens.KeySet
		issuer string
		ttl    time.Duration
	}{
		{"nil keys", nil, "x", time.Second},
		{"no issuer", set, "", time.Second},
		{"zero ttl", set, "x", 0},
		{"over a minute", set, "x", 61 * time.Second},
		{"fractional seconds", set, "x", 1500 * time.Millisecond},
	} {
		if _, err := tokens.NewAsserter(tc.keys, tc.issuer, tc.ttl, nil); !errors.Is(err, tokens.ErrConfig) {
			t.Errorf("%s: NewAsserter = %v, want ErrConfig", tc.name, err)
		}
	}
	if _, err := tokens.NewAsserter(set, "x", tokens.MaxAssertionTTL, nil); err != nil {
		t.Errorf("MaxAssertionTTL refused: %v", err)
	}
}
