package authsvc

import (
	"crypto"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/authgate/authgate/authsvc/internal/tokens"
)

// KeySpec is one token kind's configured keys, each as PEM, base64-encoded PEM or a file
// path.
type KeySpec struct {
	Private  string   // signing key; "" lets LoadKeys generate one (development)
	Public   string   // optional; must match Private when set
	Previous []string // verify-only public keys (rotation)
}

// KeyConfig holds the keys of both token kinds. Access and refresh tokens never share a key.
type KeyConfig struct {
	Access, Refresh KeySpec
}

// Keys are the loaded key sets of both token kinds, swappable at run time.
type Keys struct {
	access, refresh *tokens.KeySet
}

// kinds pairs each kind's name with its spec, in report order.
func (c KeyConfig) kinds() []struct {
	name string
	spec KeySpec
} {
	return []struct {
		name string
		spec KeySpec
	}{{"access", c.Access}, {"refresh", c.Refresh}}
}

// CheckKeys loads every configured key without keeping or writing anything and reports
// every problem at once (unreadable, not a key, too weak, a public key that does not match
// its private key, the same key for both kinds). A kind without a private key is not a
// problem here: LoadKeys generates one in development, and production validation asks for
// it. Errors name the key ("access private key: …"), never its value.
func CheckKeys(cfg KeyConfig) error {
	_, err := loadKeySets(cfg, "")
	return err
}

// LoadKeys loads the configured keys. A kind without a private key gets one generated
// once in devDir (development) and reused from there at the next start, so restarts keep
// users logged in; with devDir "" that is an error. Errors: as CheckKeys, and failures to
// write a generated key.
func LoadKeys(cfg KeyConfig, devDir string) (*Keys, error) {
	sets, err := loadKeySets(cfg, devDir)
	if err != nil {
		return nil, err
	}
	var errs []error
	for i, k := range cfg.kinds() {
		if sets[i] == nil {
			errs = append(errs, fmt.Errorf("%s private key: not configured", k.name))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &Keys{access: sets[0], refresh: sets[1]}, nil
}

func loadKeySets(cfg KeyConfig, devDir string) ([]*tokens.KeySet, error) {
	var errs []error
	sets := make([]*tokens.KeySet, 0, 2)
	var signers []crypto.Signer
	for _, k := range cfg.kinds() {
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
		sets, signers = append(sets, set), append(signers, signer)
	}
	if len(signers) == 2 && signers[0] != nil && signers[1] != nil && samePublic(signers[0].Public(), signers[1].Public()) {
		errs = append(errs, errors.New("access and refresh tokens must be signed with different keys"))
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
