package authsvc_test

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/authsvc"
)

func mustPair(t testing.TB, alg string) authsvc.KeyPair {
	t.Helper()
	kp, err := authsvc.GenerateKeyPair(alg)
	if err != nil {
		t.Fatal(err)
	}
	return kp
}

func kids(jwks []authsvc.JWK) []string {
	out := make([]string, 0, len(jwks))
	for _, j := range jwks {
		out = append(out, j.Kid)
	}
	return out
}

// TestGenerateKeyPair: every algorithm's pair is in the forms LoadKeys reads (PKCS#8
// private, PKIX public, matching), and KeyID is the kid the loaded key signs with.
func TestGenerateKeyPair(t *testing.T) {
	for _, alg := range []string{authsvc.RS256, authsvc.ES256, authsvc.EdDSA} {
		t.Run(alg, func(t *testing.T) {
			kp := mustPair(t, alg)
			for pemBytes, typ := range map[string]string{string(kp.PrivatePEM): "PRIVATE KEY", string(kp.PublicPEM): "PUBLIC KEY"} {
				block, rest := pem.Decode([]byte(pemBytes))
				if block == nil || block.Type != typ || len(strings.TrimSpace(string(rest))) != 0 {
					t.Fatalf("want one %q block, got %v", typ, block)
				}
			}
			block, _ := pem.Decode(kp.PublicPEM)
			if _, err := x509.ParsePKIXPublicKey(block.Bytes); err != nil {
				t.Fatalf("public key: %v", err)
			}
			other := mustPair(t, authsvc.EdDSA)
			keys, err := authsvc.LoadKeys(authsvc.KeyConfig{
				Access:  authsvc.KeySpec{Private: string(kp.PrivatePEM), Public: string(kp.PublicPEM)},
				Refresh: authsvc.KeySpec{Private: string(other.PrivatePEM)},
			}, "")
			if err != nil {
				t.Fatal(err)
			}
			jwks := keys.AccessJWKS()
			if len(jwks) != 1 || jwks[0].Kid != kp.KeyID || jwks[0].Alg != alg || kp.Alg != alg {
				t.Fatalf("JWKS %+v, pair %s/%s", jwks, kp.Alg, kp.KeyID)
			}
		})
	}
	if _, err := authsvc.GenerateKeyPair("HS256"); err == nil {
		t.Error("HS256 accepted")
	}
}

// TestAssertionKeys: the assertion kind is optional without devDir, generated once in
// devDir like the others, never shared with another kind, and published in JWKS beside the
// access keys (never the refresh keys), each key once.
func TestAssertionKeys(t *testing.T) {
	access, refresh, assertion := mustPair(t, authsvc.EdDSA), mustPair(t, authsvc.EdDSA), mustPair(t, authsvc.ES256)
	oldAccess, oldAssertion, oldRefresh := mustPair(t, authsvc.EdDSA), mustPair(t, authsvc.EdDSA), mustPair(t, authsvc.EdDSA)
	base := authsvc.KeyConfig{
		Access:  authsvc.KeySpec{Private: string(access.PrivatePEM)},
		Refresh: authsvc.KeySpec{Private: string(refresh.PrivatePEM), Previous: []string{string(oldRefresh.PublicPEM)}},
	}

	t.Run("optional", func(t *testing.T) {
		keys, err := authsvc.LoadKeys(base, "")
		if err != nil {
			t.Fatal(err)
		}
		if got := kids(keys.JWKS()); !slices.Equal(got, []string{access.KeyID}) {
			t.Errorf("JWKS kids %v, want only the access key", got)
		}
		if _, err := authsvc.NewAssertions(keys, authsvc.AssertionConfig{TTL: 30 * time.Second, Issuer: "authgate"}); !errors.Is(err, authsvc.ErrNoAssertionKey) {
			t.Errorf("NewAssertions without a key = %v, want ErrNoAssertionKey", err)
		}
	})

	t.Run("published", func(t *testing.T) {
		cfg := base
		cfg.Access.Previous = []string{string(oldAccess.PublicPEM)}
		cfg.Assertion = authsvc.KeySpec{
			Private: string(assertion.PrivatePEM), Public: string(assertion.PublicPEM),
			// the access key's predecessor listed again: published once
			Previous: []string{string(oldAssertion.PublicPEM), string(oldAccess.PublicPEM)},
		}
		keys, err := authsvc.LoadKeys(cfg, "")
		if err != nil {
			t.Fatal(err)
		}
		got := kids(keys.JWKS())
		if len(got) != 4 || got[0] != access.KeyID || !slices.Contains(got, oldAccess.KeyID) ||
			!slices.Contains(got, assertion.KeyID) || !slices.Contains(got, oldAssertion.KeyID) {
			t.Errorf("JWKS kids %v: want access %s, %s and assertion %s, %s", got, access.KeyID, oldAccess.KeyID, assertion.KeyID, oldAssertion.KeyID)
		}
		if slices.Contains(got, refresh.KeyID) || slices.Contains(got, oldRefresh.KeyID) {
			t.Errorf("JWKS %v publishes a refresh key", got)
		}
	})

	t.Run("distinct", func(t *testing.T) {
		cfg := base
		cfg.Assertion = authsvc.KeySpec{Private: string(access.PrivatePEM)}
		err := authsvc.CheckKeys(cfg)
		if err == nil || !strings.Contains(err.Error(), "access and assertion") {
			t.Fatalf("CheckKeys with the access key for assertions = %v", err)
		}
		cfg.Assertion = authsvc.KeySpec{Private: string(assertion.PrivatePEM), Public: string(access.PublicPEM)}
		if err := authsvc.CheckKeys(cfg); err == nil || !strings.Contains(err.Error(), "assertion") {
			t.Fatalf("CheckKeys with a mismatched assertion public key = %v", err)
		}
		cfg.Assertion = authsvc.KeySpec{Private: string(assertion.PrivatePEM), Previous: []string{"not a key"}}
		if err := authsvc.CheckKeys(cfg); err == nil || !strings.Contains(err.Error(), "assertion previous public key 0") {
			t.Fatalf("CheckKeys with a bad previous assertion key = %v", err)
		}
	})

	t.Run("generated in development", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "keys")
		first, err := authsvc.LoadKeys(authsvc.KeyConfig{}, dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, kind := range []string{"access", "refresh", "assertion"} {
			fi, err := os.Stat(filepath.Join(dir, kind+"_token_private.pem"))
			if err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("%s key file: %v, %v", kind, fi, err)
			}
		}
		if _, err := authsvc.NewAssertions(first, authsvc.AssertionConfig{TTL: 30 * time.Second, Issuer: "authgate"}); err != nil {
			t.Errorf("generated keys have no assertion key: %v", err)
		}
		again, err := authsvc.LoadKeys(authsvc.KeyConfig{}, dir)
		if err != nil {
			t.Fatal(err)
		}
		if a, b := kids(first.JWKS()), kids(again.JWKS()); len(a) != 2 || !slices.Equal(a, b) {
			t.Errorf("JWKS after a restart %v, before %v: want the same access and assertion keys", b, a)
		}
	})
}
