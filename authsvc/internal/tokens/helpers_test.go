package tokens_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/authgate/authgate/authsvc/internal/tokens"
)

const (
	testIssuer   = "https://authgate.test"
	testAudience = "authgate-test"
)

// t0 is the fixed start of every fake clock (2030-01-02T03:04:05Z).
func t0() time.Time { return time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC) }

// keyring generates test keys lazily and keeps them for the test that holds it, so a top
// level test pays for each RSA key once however many subtests use it.
type keyring struct {
	t    testing.TB
	keys map[string]crypto.Signer
}

func newKeyring(t testing.TB) *keyring {
	return &keyring{t: t, keys: map[string]crypto.Signer{}}
}

// key returns the key called name (generating it on first use) for alg.
func (k *keyring) key(name, alg string) crypto.Signer {
	k.t.Helper()
	if s, ok := k.keys[name]; ok {
		return s
	}
	var s crypto.Signer
	var err error
	switch alg {
	case tokens.RS256:
		s, err = rsa.GenerateKey(rand.Reader, 2048)
	case tokens.ES256:
		s, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case tokens.EdDSA:
		_, s, err = ed25519.GenerateKey(rand.Reader)
	default:
		k.t.Fatalf("unknown alg %q", alg)
	}
	if err != nil {
		k.t.Fatal(err)
	}
	k.keys[name] = s
	return s
}

func (k *keyring) rsa(name string) *rsa.PrivateKey {
	k.t.Helper()
	return k.key(name, tokens.RS256).(*rsa.PrivateKey)
}

func (k *keyring) ec(name string) *ecdsa.PrivateKey {
	k.t.Helper()
	return k.key(name, tokens.ES256).(*ecdsa.PrivateKey)
}

// fakeClock is a settable clock; tests move it between calls (never concurrently).
type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time { return c.now }

// newCodec builds a codec of type typ signed by signer, with a fake clock at t0.
func newCodec(t testing.TB, typ tokens.Type, signer crypto.Signer, mutate ...func(*tokens.Config)) (*tokens.Codec, *fakeClock) {
	t.Helper()
	clock := &fakeClock{now: t0()}
	cfg := tokens.Config{
		Type: typ, Issuer: testIssuer, Audience: testAudience,
		TTL: 15 * time.Minute, Leeway: 30 * time.Second,
		Signer: signer, Clock: clock.Now,
	}
	for _, m := range mutate {
		m(&cfg)
	}
	c, err := tokens.New(cfg)
	if err != nil {
		t.Fatalf("tokens.New: %v", err)
	}
	return c, clock
}

func mustIssue(t testing.TB, c *tokens.Codec) string {
	t.Helper()
	tok, _, err := c.Issue("user-1", "session-1", "jti-1")
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	return tok
}

func kidOf(t testing.TB, pub crypto.PublicKey) string {
	t.Helper()
	kid, err := tokens.KeyID(pub)
	if err != nil {
		t.Fatal(err)
	}
	return kid
}

// goodClaims is a claim set the access codec at t0 accepts.
func goodClaims() jwt.MapClaims {
	return jwt.MapClaims{
		"iss": testIssuer, "aud": testAudience, "sub": "user-1", "sid": "session-1",
		"jti": "jti-1", "typ": string(tokens.Access),
		"iat": t0().Unix(), "nbf": t0().Unix(), "exp": t0().Add(10 * time.Minute).Unix(),
	}
}

// craft signs claims with key using method through the jwt library, independently of the
// code under test. header entries are added to (or, when nil, removed from) the header.
func craft(t testing.TB, method jwt.SigningMethod, key any, header map[string]any, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	for k, v := range header {
		if v == nil {
			delete(tok.Header, k)
			continue
		}
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("craft: %v", err)
	}
	return s
}

// accessHeader is the header the access codec expects, for key kid.
func accessHeader(kid string) map[string]any {
	return map[string]any{"kid": kid, "typ": "at+jwt"}
}

// assertInvalid fails unless err wraps ErrInvalid and the claims are zero.
func assertInvalid(t testing.TB, claims tokens.Claims, err error) {
	t.Helper()
	if !errors.Is(err, tokens.ErrInvalid) {
		t.Fatalf("Parse error = %v, want ErrInvalid", err)
	}
	if claims != (tokens.Claims{}) {
		t.Fatalf("Parse returned claims %+v with an error", claims)
	}
}
