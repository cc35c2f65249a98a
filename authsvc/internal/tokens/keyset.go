package tokens

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"sync/atomic"
)

// KeySet is one token type's keys: every verification key by "kid" and the current
// signing key. It is safe for concurrent use; Replace swaps the whole set atomically, so a
// rotation (new signer, old key kept verify-only, later removed) never shows a reader a
// half-built set (SECURITY.md T2, T9).
type KeySet struct {
	cur atomic.Pointer[keyState]
}

// Key is one verification key of a KeySet.
type Key struct {
	ID     string           // "kid": see KeyID
	Alg    string           // the one algorithm accepted with it: RS256, ES256 or EdDSA
	Public crypto.PublicKey // *rsa.PublicKey, *ecdsa.PublicKey (P-256) or ed25519.PublicKey
}

type keyState struct {
	signer crypto.Signer
	kid    string
	alg    string
	keys   map[string]Key
}

// NewKeySet returns a set signing with signer and verifying with its public key and with
// every key in verify. public, when not nil, must be signer's public key (it catches a
// mismatched pair in the configuration). Errors wrap ErrKey: nil signer, an unsupported or
// too weak key, a mismatch, two different keys with one kid.
func NewKeySet(signer crypto.Signer, public crypto.PublicKey, verify []crypto.PublicKey) (*KeySet, error) {
	st, err := newKeyState(signer, public, verify)
	if err != nil {
		return nil, err
	}
	k := &KeySet{}
	k.cur.Store(st)
	return k, nil
}

// Replace swaps in a new signer and verification keys, checked as NewKeySet checks them.
// On error the set is unchanged. Tokens signed by a key that is no longer in the set stop
// verifying at once, cached ones included.
func (k *KeySet) Replace(signer crypto.Signer, public crypto.PublicKey, verify []crypto.PublicKey) error {
	st, err := newKeyState(signer, public, verify)
	if err != nil {
		return err
	}
	k.cur.Store(st)
	return nil
}

func newKeyState(signer crypto.Signer, public crypto.PublicKey, verify []crypto.PublicKey) (*keyState, error) {
	if signer == nil {
		return nil, fmt.Errorf("%w: a signer (signing key) is required", ErrKey)
	}
	pub := signer.Public()
	if public != nil && !samePublicKey(public, pub) {
		return nil, fmt.Errorf("%w: public key does not match the signing key", ErrKey)
	}
	st := &keyState{signer: signer, keys: make(map[string]Key, 1+len(verify))}
	var errs []error
	key, err := st.add(pub)
	if err != nil {
		errs = append(errs, fmt.Errorf("signing key: %w", err))
	}
	st.kid, st.alg = key.ID, key.Alg
	for i, v := range verify {
		if _, err := st.add(v); err != nil {
			errs = append(errs, fmt.Errorf("verify key %d: %w", i, err))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return st, nil
}

func (st *keyState) add(pub crypto.PublicKey) (Key, error) {
	if pub == nil {
		return Key{}, fmt.Errorf("%w: nil key", ErrKey)
	}
	alg, err := algorithmFor(pub)
	if err != nil {
		return Key{}, err
	}
	kid, err := KeyID(pub)
	if err != nil {
		return Key{}, err
	}
	if old, ok := st.keys[kid]; ok {
		if !samePublicKey(old.Public, pub) {
			return Key{}, fmt.Errorf("%w: key id collision", ErrKey)
		}
		return old, nil
	}
	key := Key{ID: kid, Alg: alg, Public: pub}
	st.keys[kid] = key
	return key, nil
}

// Lookup returns the verification key with id kid.
func (k *KeySet) Lookup(kid string) (Key, bool) {
	key, ok := k.cur.Load().keys[kid]
	return key, ok
}

// Signer returns the current signing key with its kid and algorithm.
func (k *KeySet) Signer() (signer crypto.Signer, kid, alg string) {
	st := k.cur.Load()
	return st.signer, st.kid, st.alg
}

// Keys returns every verification key, the signing key's first, the others by kid.
func (k *KeySet) Keys() []Key {
	st := k.cur.Load()
	out := make([]Key, 0, len(st.keys))
	for _, key := range st.keys {
		out = append(out, key)
	}
	slices.SortFunc(out, func(a, b Key) int {
		switch {
		case a.ID == st.kid:
			return -1
		case b.ID == st.kid:
			return 1
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

// JWK is a public key in RFC 7517 form.
type JWK struct {
	Kty string `json:"kty"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Crv string `json:"crv,omitempty"`
	N   string `json:"n,omitempty"`
	E   string `json:"e,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
}

// JWKS returns the public verification keys as RFC 7517 JWKs ("use": "sig"), in the order
// of Keys. Private material is never part of it.
func (k *KeySet) JWKS() []JWK {
	keys := k.Keys()
	out := make([]JWK, 0, len(keys))
	for _, key := range keys {
		out = append(out, jwkOf(key))
	}
	return out
}

func jwkOf(key Key) JWK {
	b64 := base64.RawURLEncoding.EncodeToString
	j := JWK{Use: "sig", Alg: key.Alg, Kid: key.ID}
	switch pub := key.Public.(type) {
	case *rsa.PublicKey:
		j.Kty, j.N, j.E = "RSA", b64(pub.N.Bytes()), b64(big.NewInt(int64(pub.E)).Bytes())
	case *ecdsa.PublicKey:
		// P-256 only (algorithmFor): 32-byte coordinates.
		raw, err := pub.Bytes() // uncompressed point 0x04 || X || Y
		if err == nil && len(raw) == 65 {
			j.Kty, j.Crv, j.X, j.Y = "EC", "P-256", b64(raw[1:33]), b64(raw[33:])
		}
	case ed25519.PublicKey:
		j.Kty, j.Crv, j.X = "OKP", "Ed25519", b64(pub)
	}
	return j
}
