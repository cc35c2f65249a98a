package tokens

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Signing algorithms (JWS "alg" values) the package issues and accepts.
const (
	RS256 = "RS256"
	ES256 = "ES256"
	EdDSA = "EdDSA"
)

// minRSABits is the smallest RSA modulus accepted for signing or verifying (RFC 7518 §3.3).
const minRSABits = 2048

// ErrKey reports key material that cannot be used: not PEM, base64 PEM or a readable file,
// an unparsable or encrypted PEM block, or a key type, curve or size the package does not
// support. Error messages never repeat the input, which may be a private key.
var ErrKey = errors.New("tokens: unusable key")

// pemMarker starts every PEM block.
const pemMarker = "-----BEGIN "

// LoadPrivateKey reads a signing key from s, which is PEM text, base64-encoded PEM (the
// seed's ACCESS_TOKEN_PRIVATE_KEY style) or the path of a PEM file. It accepts RSA
// (PKCS#1 "RSA PRIVATE KEY" or PKCS#8 "PRIVATE KEY", at least 2048 bits), ECDSA P-256
// (SEC1 "EC PRIVATE KEY" or PKCS#8) and Ed25519 (PKCS#8). "EC PARAMETERS" blocks are
// skipped. Every failure wraps ErrKey.
func LoadPrivateKey(s string) (crypto.Signer, error) {
	block, err := loadPEM(s, map[string]bool{
		"RSA PRIVATE KEY": true, "EC PRIVATE KEY": true, "PRIVATE KEY": true,
	})
	if err != nil {
		return nil, err
	}
	var key any
	switch block.Type {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: parse %s: %w", ErrKey, block.Type, err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%w: %T is not a signing key", ErrKey, key)
	}
	if _, err := algorithmFor(signer.Public()); err != nil {
		return nil, err
	}
	return signer, nil
}

// LoadPublicKey reads a verification key from s, in the same three forms as
// LoadPrivateKey. It accepts a PKIX "PUBLIC KEY", a PKCS#1 "RSA PUBLIC KEY" or a
// "CERTIFICATE" (its subject key is used; the certificate itself is not validated), with
// the same key types as LoadPrivateKey. Every failure wraps ErrKey.
func LoadPublicKey(s string) (crypto.PublicKey, error) {
	block, err := loadPEM(s, map[string]bool{
		"PUBLIC KEY": true, "RSA PUBLIC KEY": true, "CERTIFICATE": true,
	})
	if err != nil {
		return nil, err
	}
	var pub any
	switch block.Type {
	case "RSA PUBLIC KEY":
		pub, err = x509.ParsePKCS1PublicKey(block.Bytes)
	case "CERTIFICATE":
		var cert *x509.Certificate
		if cert, err = x509.ParseCertificate(block.Bytes); err == nil {
			pub = cert.PublicKey
		}
	default:
		pub, err = x509.ParsePKIXPublicKey(block.Bytes)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: parse %s: %w", ErrKey, block.Type, err)
	}
	if _, err := algorithmFor(pub); err != nil {
		return nil, err
	}
	return pub, nil
}

// GenerateKey makes a new private key for alg (RS256: RSA 2048, ES256: ECDSA P-256,
// EdDSA: Ed25519) and returns it as a PKCS#8 "PRIVATE KEY" PEM block, for development
// mode. rand nil means crypto/rand.Reader. Since Go 1.26 the standard library ignores rand
// for RSA and ECDSA key generation and always uses a secure source; Ed25519 reads its seed
// from rand. An unknown alg wraps ErrKey; a failing rand returns its error.
func GenerateKey(alg string, rand io.Reader) ([]byte, error) {
	if rand == nil {
		rand = cryptoRand()
	}
	var key any
	var err error
	switch alg {
	case RS256:
		key, err = rsa.GenerateKey(rand, minRSABits)
	case ES256:
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand)
	case EdDSA:
		_, key, err = ed25519.GenerateKey(rand)
	default:
		return nil, fmt.Errorf("%w: unsupported algorithm %q", ErrKey, alg)
	}
	if err != nil {
		return nil, fmt.Errorf("tokens: generate %s key: %w", alg, err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("tokens: encode %s key: %w", alg, err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// KeyID returns the stable "kid" of pub: the first 16 characters of the unpadded
// base64url SHA-256 of its PKIX DER encoding. An unsupported key wraps ErrKey.
func KeyID(pub crypto.PublicKey) (string, error) {
	if _, err := algorithmFor(pub); err != nil {
		return "", err
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrKey, err)
	}
	sum := sha256.Sum256(der)
	return base64.RawURLEncoding.EncodeToString(sum[:])[:16], nil
}

// algorithmFor returns the one JWS algorithm allowed with pub, or an error wrapping ErrKey.
func algorithmFor(pub crypto.PublicKey) (string, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k.N == nil || k.N.BitLen() < minRSABits {
			return "", fmt.Errorf("%w: RSA keys must have at least %d bits", ErrKey, minRSABits)
		}
		return RS256, nil
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return "", fmt.Errorf("%w: ECDSA keys must use P-256", ErrKey)
		}
		return ES256, nil
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return "", fmt.Errorf("%w: bad Ed25519 key size", ErrKey)
		}
		return EdDSA, nil
	default:
		return "", fmt.Errorf("%w: unsupported key type %T", ErrKey, pub)
	}
}

// loadPEM resolves s (PEM, base64 PEM or a file path) and returns its first block whose
// type is in want. Other blocks (such as "EC PARAMETERS") are skipped.
func loadPEM(s string, want map[string]bool) (*pem.Block, error) {
	data, err := resolve(s)
	if err != nil {
		return nil, err
	}
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, fmt.Errorf("%w: no supported PEM block", ErrKey)
		}
		if !want[block.Type] {
			continue
		}
		if _, encrypted := block.Headers["Proc-Type"]; encrypted {
			return nil, fmt.Errorf("%w: encrypted PEM is not supported", ErrKey)
		}
		return block, nil
	}
}

// resolve turns the three accepted input forms into PEM bytes.
func resolve(s string) ([]byte, error) {
	trimmed := strings.TrimSpace(s)
	if trimmed == "" {
		return nil, fmt.Errorf("%w: empty value", ErrKey)
	}
	if strings.HasPrefix(trimmed, pemMarker) {
		return []byte(trimmed), nil
	}
	compact := strings.Join(strings.Fields(trimmed), "")
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding} {
		if decoded, err := enc.DecodeString(compact); err == nil {
			if bytes.Contains(decoded, []byte(pemMarker)) {
				return decoded, nil
			}
		}
	}
	// A key file is named by the operator's own configuration; reading it is the point.
	data, err := os.ReadFile(filepath.Clean(trimmed))
	if err != nil {
		// The error names neither the value nor the path: a mistyped inline key would leak.
		return nil, fmt.Errorf("%w: not PEM, base64-encoded PEM or a readable PEM file", ErrKey)
	}
	if !bytes.Contains(data, []byte(pemMarker)) {
		return nil, fmt.Errorf("%w: file holds no PEM data", ErrKey)
	}
	return data, nil
}

// cryptoRand returns the system's secure random source.
func cryptoRand() io.Reader { return rand.Reader }
