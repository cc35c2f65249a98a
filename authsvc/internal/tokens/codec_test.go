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

func TestRoundTrip(t *testing.T) {
	keys := newKeyring(t)
	for _, alg := range []string{tokens.RS256, tokens.ES256, tokens.EdDSA} {
		for _, typ := range []tokens.Type{tokens.Access, tokens.Refresh} {
			t.Run(alg+"/"+string(typ), func(t *testing.T) {
				signer := keys.key(alg+string(typ), alg)
				c, _ := newCodec(t, typ, signer)
				tok, exp, err := c.Issue("user-42", "sid-7", "jti-9")
				if err != nil {
					t.Fatal(err)
				}
				if want := t0().Add(15 * time.Minute); !exp.Equal(want) {
					t.Errorf("expiresAt = %v, want %v", exp, want)
				}
				got, err := c.Parse(tok)
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				want := tokens.Claims{
					Subject: "user-42", SessionID: "sid-7", ID: "jti-9", Type: typ,
					KeyID: kidOf(t, signer.Public()), IssuedAt: t0(), ExpiresAt: exp,
				}
				if !got.IssuedAt.Equal(want.IssuedAt) || !got.ExpiresAt.Equal(want.ExpiresAt) {
					t.Errorf("times = %v..%v, want %v..%v", got.IssuedAt, got.ExpiresAt, want.IssuedAt, want.ExpiresAt)
				}
				got.IssuedAt, got.ExpiresAt, want.IssuedAt, want.ExpiresAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
				if got != want {
					t.Errorf("claims = %+v, want %+v", got, want)
				}
				checkHeader(t, tok, alg, kidOf(t, signer.Public()), typ)
				checkIndependently(t, tok, alg, signer.Public(), typ)
				if c.Algorithm() != alg || c.KeyID() != kidOf(t, signer.Public()) || c.Type() != typ {
					t.Errorf("Algorithm/KeyID/Type = %s/%s/%s", c.Algorithm(), c.KeyID(), c.Type())
				}
			})
		}
	}
}

// checkHeader decodes the JOSE header and compares it member by member.
func checkHeader(t *testing.T, tok, alg, kid string, typ tokens.Type) {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]string
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatal(err)
	}
	wantTyp := map[tokens.Type]string{tokens.Access: "at+jwt", tokens.Refresh: "rt+jwt"}[typ]
	want := map[string]string{"alg": alg, "kid": kid, "typ": wantTyp}
	if len(h) != len(want) || h["alg"] != alg || h["kid"] != kid || h["typ"] != wantTyp {
		t.Errorf("header = %v, want %v", h, want)
	}
}

// checkIndependently verifies tok with the jwt library alone, so the signature format
// (notably ES256's R||S) is checked by code other than the code under test.
func checkIndependently(t *testing.T, tok, alg string, pub crypto.PublicKey, typ tokens.Type) {
	t.Helper()
	claims := jwt.MapClaims{}
	_, err := jwt.NewParser(jwt.WithValidMethods([]string{alg}), jwt.WithTimeFunc(t0)).
		ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) { return pub, nil })
	if err != nil {
		t.Fatalf("jwt library rejects the token: %v", err)
	}
	for k, v := range map[string]any{
		"iss": testIssuer, "aud": testAudience, "sub": "user-42", "sid": "sid-7",
		"jti": "jti-9", "typ": string(typ), "iat": float64(t0().Unix()), "nbf": float64(t0().Unix()),
		"exp": float64(t0().Add(15 * time.Minute).Unix()),
	} {
		if claims[k] != v {
			t.Errorf("claim %s = %v, want %v", k, claims[k], v)
		}
	}
}

func TestExpiryWithInjectedClock(t *testing.T) {
	keys := newKeyring(t)
	for _, leeway := range []time.Duration{0, 30 * time.Second, tokens.MaxLeeway} {
		c, clock := newCodec(t, tokens.Access, keys.key("ed", tokens.EdDSA), func(cfg *tokens.Config) {
			cfg.Leeway = leeway
		})
		tok := mustIssue(t, c)
		exp := t0().Add(15 * time.Minute)
		tests := []struct {
			name  string
			now   time.Time
			valid bool
		}{
			{"at issue", t0(), true},
			{"just before exp", exp.Add(-time.Second), true},
			{"one second before exp+leeway", exp.Add(leeway - time.Second), true},
			{"at exp+leeway", exp.Add(leeway), false},
			{"after exp+leeway", exp.Add(leeway + time.Second), false},
			{"a day later", exp.Add(24 * time.Hour), false},
			{"iat within leeway in the future", t0().Add(-leeway), true},
			{"iat beyond leeway in the future", t0().Add(-leeway - time.Second), false},
		}
		for _, tt := range tests {
			t.Run(leeway.String()+"/"+tt.name, func(t *testing.T) {
				clock.now = tt.now
				claims, err := c.Parse(tok)
				if tt.valid {
					if err != nil {
						t.Fatalf("Parse at %v: %v", tt.now, err)
					}
					return
				}
				assertInvalid(t, claims, err)
				// T4: an expired token is just invalid, never "expired but otherwise fine".
				if errors.Is(err, jwt.ErrTokenExpired) || errors.Is(err, jwt.ErrTokenNotValidYet) {
					t.Errorf("error exposes the jwt cause: %v", err)
				}
			})
		}
	}
}

func TestIssuerAndAudienceMismatch(t *testing.T) {
	keys := newKeyring(t)
	signer := keys.key("ed", tokens.EdDSA)
	issuing, _ := newCodec(t, tokens.Access, signer)
	tok := mustIssue(t, issuing)
	tests := []struct {
		name   string
		mutate func(*tokens.Config)
	}{
		{"other issuer", func(c *tokens.Config) { c.Issuer = "https://evil.test" }},
		{"issuer differs in case", func(c *tokens.Config) { c.Issuer = strings.ToUpper(testIssuer) }},
		{"other audience", func(c *tokens.Config) { c.Audience = "other-service" }},
		{"audience prefix", func(c *tokens.Config) { c.Audience = testAudience + "-x" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			verifier, _ := newCodec(t, tokens.Access, signer, tt.mutate)
			claims, err := verifier.Parse(tok)
			assertInvalid(t, claims, err)
		})
	}
}

func TestTypesCannotBeSwapped(t *testing.T) {
	keys := newKeyring(t)
	access, _ := newCodec(t, tokens.Access, keys.rsa("access"))
	refresh, _ := newCodec(t, tokens.Refresh, keys.rsa("refresh"))
	// A misconfiguration that shares one key: typ alone must still keep the types apart.
	shared := keys.key("shared", tokens.EdDSA)
	sharedAccess, _ := newCodec(t, tokens.Access, shared)
	sharedRefresh, _ := newCodec(t, tokens.Refresh, shared)
	tests := []struct {
		name          string
		issuer, parse *tokens.Codec
	}{
		{"access token at refresh", access, refresh},
		{"refresh token as bearer", refresh, access},
		{"shared key: access token at refresh", sharedAccess, sharedRefresh},
		{"shared key: refresh token as bearer", sharedRefresh, sharedAccess},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := mustIssue(t, tt.issuer)
			if _, err := tt.issuer.Parse(tok); err != nil {
				t.Fatalf("own codec rejects its token: %v", err)
			}
			claims, err := tt.parse.Parse(tok)
			assertInvalid(t, claims, err)
		})
	}
}

func TestClaimChecks(t *testing.T) {
	keys := newKeyring(t)
	signer := keys.rsa("access")
	c, _ := newCodec(t, tokens.Access, signer)
	kid := kidOf(t, signer.Public())
	tests := []struct {
		name   string
		header map[string]any
		mutate func(jwt.MapClaims)
		valid  bool
	}{
		{"control: crafted good token", nil, func(jwt.MapClaims) {}, true},
		{"control: aud as array", nil, func(m jwt.MapClaims) { m["aud"] = []string{"x", testAudience} }, true},
		{"missing exp", nil, func(m jwt.MapClaims) { delete(m, "exp") }, false},
		{"exp as string", nil, func(m jwt.MapClaims) { m["exp"] = "never" }, false},
		{"missing iat", nil, func(m jwt.MapClaims) { delete(m, "iat") }, false},
		{"control: no nbf", nil, func(m jwt.MapClaims) { delete(m, "nbf") }, true},
		{"nbf in the future", nil, func(m jwt.MapClaims) { m["nbf"] = t0().Add(time.Hour).Unix() }, false},
		{"iat in the future, no nbf", nil, func(m jwt.MapClaims) { delete(m, "nbf"); m["iat"] = t0().Add(time.Hour).Unix() }, false},
		{"missing iss", nil, func(m jwt.MapClaims) { delete(m, "iss") }, false},
		{"missing aud", nil, func(m jwt.MapClaims) { delete(m, "aud") }, false},
		{"missing sub", nil, func(m jwt.MapClaims) { delete(m, "sub") }, false},
		{"empty sub", nil, func(m jwt.MapClaims) { m["sub"] = "" }, false},
		{"missing sid", nil, func(m jwt.MapClaims) { delete(m, "sid") }, false},
		{"empty sid", nil, func(m jwt.MapClaims) { m["sid"] = "" }, false},
		{"sid not a string", nil, func(m jwt.MapClaims) { m["sid"] = 7 }, false},
		{"missing jti", nil, func(m jwt.MapClaims) { delete(m, "jti") }, false},
		{"empty jti", nil, func(m jwt.MapClaims) { m["jti"] = "" }, false},
		{"missing typ claim", nil, func(m jwt.MapClaims) { delete(m, "typ") }, false},
		{"typ claim refresh", nil, func(m jwt.MapClaims) { m["typ"] = string(tokens.Refresh) }, false},
		{"header typ rt+jwt", map[string]any{"typ": "rt+jwt"}, func(jwt.MapClaims) {}, false},
		{"header typ JWT", map[string]any{"typ": "JWT"}, func(jwt.MapClaims) {}, false},
		{"header typ missing", map[string]any{"typ": nil}, func(jwt.MapClaims) {}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			claims := goodClaims()
			tt.mutate(claims)
			header := accessHeader(kid)
			for k, v := range tt.header {
				header[k] = v
			}
			tok := craft(t, jwt.SigningMethodRS256, signer, header, claims)
			got, err := c.Parse(tok)
			if tt.valid {
				if err != nil || got.Subject != "user-1" || got.SessionID != "session-1" || got.ID != "jti-1" {
					t.Fatalf("Parse = %+v, %v; want the crafted claims", got, err)
				}
				return
			}
			assertInvalid(t, got, err)
		})
	}
}

func TestIssueRequiresIdentifiers(t *testing.T) {
	c, _ := newCodec(t, tokens.Access, newKeyring(t).key("ed", tokens.EdDSA))
	for _, args := range [][3]string{{"", "s", "j"}, {"u", "", "j"}, {"u", "s", ""}} {
		t.Run(strings.Join(args[:], ","), func(t *testing.T) {
			tok, _, err := c.Issue(args[0], args[1], args[2])
			if !errors.Is(err, tokens.ErrMissingClaim) || tok != "" {
				t.Fatalf("Issue = %q, %v; want ErrMissingClaim", tok, err)
			}
		})
	}
}
