package tokens_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/authgate/authgate/authsvc/internal/tokens"
)

// TestKeySetReplace covers a rotation done in place (SECURITY.md T9): the set is swapped
// atomically; tokens of a key kept verify-only keep working; tokens of a removed key stop
// at once, also when the cache already holds them.
func TestKeySetReplace(t *testing.T) {
	keys := newKeyring(t)
	oldKey, newKey := keys.rsa("old"), keys.key("new", tokens.EdDSA)
	set, err := tokens.NewKeySet(oldKey, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{now: t0()}
	codec, err := tokens.New(tokens.Config{
		Type: tokens.Access, Issuer: testIssuer, Audience: testAudience, TTL: 15 * time.Minute, Keys: set, Clock: clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	cache := tokens.NewCache(codec, 0)
	oldToken := mustIssue(t, codec)
	if _, err := cache.Parse(oldToken); err != nil {
		t.Fatalf("old token before rotation: %v", err)
	}

	// Rotate: the new key signs, the old one verifies only.
	if err := set.Replace(newKey, nil, []crypto.PublicKey{oldKey.Public()}); err != nil {
		t.Fatal(err)
	}
	if codec.Algorithm() != tokens.EdDSA || codec.KeyID() != kidOf(t, newKey.Public()) {
		t.Fatalf("after Replace the codec signs with %s/%s", codec.Algorithm(), codec.KeyID())
	}
	newToken := mustIssue(t, codec)
	for name, tok := range map[string]string{"old": oldToken, "new": newToken} {
		if _, err := cache.Parse(tok); err != nil {
			t.Errorf("%s token after rotation: %v", name, err)
		}
	}

	// Retire the old key: its tokens fail, from the cache too.
	if err := set.Replace(newKey, nil, nil); err != nil {
		t.Fatal(err)
	}
	claims, err := cache.Parse(oldToken)
	assertInvalid(t, claims, err)
	if _, err := cache.Parse(newToken); err != nil {
		t.Errorf("new token after retiring the old key: %v", err)
	}

	// A bad replacement changes nothing.
	if err := set.Replace(nil, nil, nil); !errors.Is(err, tokens.ErrKey) {
		t.Errorf("Replace(nil) = %v, want ErrKey", err)
	}
	if err := set.Replace(newKey, oldKey.Public(), nil); !errors.Is(err, tokens.ErrKey) {
		t.Errorf("Replace with a mismatched public key = %v, want ErrKey", err)
	}
	if _, err := cache.Parse(newToken); err != nil || codec.KeyID() != kidOf(t, newKey.Public()) {
		t.Errorf("a refused Replace changed the set: %v", err)
	}
}

// TestJWKS: the published keys decode back to exactly the verification keys, with their
// kid and algorithm, signing key first, and nothing private.
func TestJWKS(t *testing.T) {
	keys := newKeyring(t)
	rsaKey, ecKey, edKey := keys.rsa("rsa"), keys.ec("ec"), keys.key("ed", tokens.EdDSA)
	set, err := tokens.NewKeySet(edKey, nil, []crypto.PublicKey{rsaKey.Public(), ecKey.Public()})
	if err != nil {
		t.Fatal(err)
	}
	jwks := set.JWKS()
	if len(jwks) != 3 || jwks[0].Kid != kidOf(t, edKey.Public()) {
		t.Fatalf("JWKS %+v: want 3 keys, the signing key first", jwks)
	}
	b64 := func(s string) []byte {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			t.Fatalf("not base64url: %q", s)
		}
		return b
	}
	for _, j := range jwks {
		if j.Use != "sig" {
			t.Errorf("%s: use %q", j.Kid, j.Use)
		}
		var pub crypto.PublicKey
		switch j.Kty {
		case "RSA":
			pub = &rsa.PublicKey{N: new(big.Int).SetBytes(b64(j.N)), E: int(new(big.Int).SetBytes(b64(j.E)).Int64())}
		case "EC":
			point := append(append([]byte{4}, b64(j.X)...), b64(j.Y)...)
			ec, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
			if err != nil || j.Crv != "P-256" {
				t.Fatalf("EC JWK %+v: %v", j, err)
			}
			pub = ec
		case "OKP":
			pub = ed25519.PublicKey(b64(j.X))
		default:
			t.Fatalf("kty %q", j.Kty)
		}
		key, ok := set.Lookup(j.Kid)
		if !ok || key.Alg != j.Alg || kidOf(t, pub) != j.Kid {
			t.Errorf("JWK %s (%s) does not match the set's key %+v", j.Kid, j.Alg, key)
		}
	}
}
