package authsvc

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/authgate/authgate/authsvc/internal/tokens"
)

// KeySpec is one token kind's configured keys, each as PEM, base64-encoded PEM or a file
// path.
type KeySpec struct {
	Private  string   // signing key; "" lets LoadKeys generate one (development)
	Public   string   // optional; must match Private when set
	Previous []string // verify-only public keys (rotation)
}

// KeyConfig holds the keys of the three kinds: access and refresh tokens, and the identity
// assertions the gateway sends upstreams. No two kinds share a signing key. The assertion
// kind is optional: without a private key (and no devDir to generate one in) there is none.
type KeyConfig struct {
	Access, Refresh, Assertion KeySpec
}

// Keys are the loaded key sets, swappable at run time. assertion is nil when none is
// configured.
type Keys struct {
	access, refresh, assertion *tokens.KeySet
}

// kinds pairs each kind's name with its spec, in report order.
func (c KeyConfig) kinds() []struct {
	name string
	spec KeySpec
} {
	return []struct {
		name string
		spec KeySpec
	}{{"access", c.Access}, {"refresh", c.Refresh}, {"assertion", c.Assertion}}
}

// CheckKeys loads every configured key without keeping or writing anything and reports
// every problem at once (unreadable, not a key, too weak, a public key that does not match
// its private key, one signing key for two kinds). A kind without a private key is not a
// problem here: LoadKeys generates one in development, and production validation asks for
// it. Errors name the key ("access private key: …"), never its value.
func CheckKeys(cfg KeyConfig) error {
	_, err := loadKeySets(cfg, "")
	return err
}

// LoadKeys loads the configured keys. A kind without a private key gets one generated
// once in devDir (development) and reused from there at the next start, so restarts keep
// users logged in; with devDir "" that is an error for access and refresh keys, and means
// no assertion key. Errors: as CheckKeys, and failures to write a generated key.
func LoadKeys(cfg KeyConfig, devDir string) (*Keys, error) {
	sets, err := loadKeySets(cfg, devDir)
	if err != nil {
		return nil, err
	}
	var errs []error
	for i, k := range cfg.kinds()[:2] { // access and refresh keys are required; assertion keys are not
		if sets[i] == nil {
			errs = append(errs, fmt.Errorf("%s private key: not configured", k.name))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &Keys{access: sets[0], refresh: sets[1], assertion: sets[2]}, nil
}

// loadKeySets returns one set per kind, in kinds order (nil: no private key yet).
func loadKeySets(cfg KeyConfig, devDir string) ([]*tokens.KeySet, error) {
	var errs []error
	kinds := cfg.kinds()
	sets := make([]*tokens.KeySet, len(kinds))
	signers := make([]crypto.Signer, len(kinds))
	for i, k := range kinds {
		priv := k.spec.Private
		if priv == "" && devDir != "" {
			path, err := devKey(devDir, k.name)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s private key: %w", k.name, err))
				continue
			}
			priv = path
		}
		set, signer, err := loadKeySet(k.name, k.spec, priv)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		sets[i], signers[i] = set, signer
	}
	for i := range signers {
		for j := i + 1; j < len(signers); j++ {
			if signers[i] != nil && signers[j] != nil && samePublic(signers[i].Public(), signers[j].Public()) {
				errs = append(errs, fmt.Errorf("the %s and %s signing keys must be different keys", kinds[i].name, kinds[j].name))
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return sets, nil
}

// loadKeySet loads one kind; priv "" (no key yet) yields a nil set without error.
// Each error names the kind and the key.
func loadKeySet(kind string, spec KeySpec, priv string) (*tokens.KeySet, crypto.Signer, error) {
	var errs []error
	var signer crypto.Signer
	if priv != "" {
		s, err := tokens.LoadPrivateKey(priv)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s private key: %w", kind, err))
		}
		signer = s
	}
	var public crypto.PublicKey
	if spec.Public != "" {
		p, err := tokens.LoadPublicKey(spec.Public)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s public key: %w", kind, err))
		}
		public = p
	}
	verify := make([]crypto.PublicKey, 0, len(spec.Previous))
	for i, k := range spec.Previous {
		pub, err := tokens.LoadPublicKey(k)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s previous public key %d: %w", kind, i, err))
			continue
		}
		verify = append(verify, pub)
	}
	if len(errs) > 0 || signer == nil {
		return nil, nil, errors.Join(errs...)
	}
	set, err := tokens.NewKeySet(signer, public, verify)
	if err != nil {
		return nil, nil, fmt.Errorf("%s keys: %w", kind, err)
	}
	return set, signer, nil
}

func samePublic(a, b crypto.PublicKey) bool {
	eq, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(b)
}

// devKey returns the path of dir/<kind>_token_private.pem, generating an RS256 key there
// the first time.
func devKey(dir, kind string) (string, error) {
	path := filepath.Join(dir, kind+"_token_private.pem")
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("key dir: %w", err)
	}
	pemBytes, err := tokens.GenerateKey(tokens.RS256, rand.Reader)
	if err != nil {
		return "", fmt.Errorf("generate key: %w", err)
	}
	if err := os.WriteFile(path, pemBytes, 0o600); err != nil {
		return "", fmt.Errorf("write key: %w", err)
	}
	return path, nil
}

// JWK is a public key in RFC 7517 form.
type JWK = tokens.JWK

// AccessJWKS returns the public keys that verify access tokens, as RFC 7517 JWKs.
func (k *Keys) AccessJWKS() []JWK { return k.access.JWKS() }

// JWKS returns what the gateway publishes for upstreams (/.well-known/jwks.json): the keys
// that verify access tokens, then those that verify identity assertions, each once. Refresh
// keys are never part of it: only the gateway reads refresh tokens.
func (k *Keys) JWKS() []JWK {
	out := k.access.JWKS()
	if k.assertion == nil {
		return out
	}
	for _, j := range k.assertion.JWKS() {
		if !slices.ContainsFunc(out, func(o JWK) bool { return o.Kid == j.Kid }) {
			out = append(out, j)
		}
	}
	return out
}

// KeyPair is a new signing key in the forms LoadKeys accepts.
type KeyPair struct {
	Alg        string // RS256, ES256 or EdDSA
	KeyID      string // the "kid" tokens signed with it carry
	PrivatePEM []byte // PKCS#8 "PRIVATE KEY"
	PublicPEM  []byte // PKIX "PUBLIC KEY"
}

// Signing algorithms GenerateKeyPair accepts.
const (
	RS256 = tokens.RS256 // RSA 2048
	ES256 = tokens.ES256 // ECDSA P-256
	EdDSA = tokens.EdDSA // Ed25519
)

// GenerateKeyPair makes a new key for alg (RS256, ES256 or EdDSA) from crypto/rand, for
// `gateway keys generate`. Errors: an unknown alg, or a failed generation or encoding,
// wrapped.
func GenerateKeyPair(alg string) (KeyPair, error) {
	privPEM, err := tokens.GenerateKey(alg, nil)
	if err != nil {
		return KeyPair{}, fmt.Errorf("generate key: %w", err)
	}
	signer, err := tokens.LoadPrivateKey(string(privPEM))
	if err != nil {
		return KeyPair{}, fmt.Errorf("generate key: %w", err)
	}
	der, err := x509.MarshalPKIXPublicKey(signer.Public())
	if err != nil {
		return KeyPair{}, fmt.Errorf("encode public key: %w", err)
	}
	kid, err := tokens.KeyID(signer.Public())
	if err != nil {
		return KeyPair{}, fmt.Errorf("key id: %w", err)
	}
	return KeyPair{
		Alg: alg, KeyID: kid, PrivatePEM: privPEM,
		PublicPEM: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}),
	}, nil
}
