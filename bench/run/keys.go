package main

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
)

// Token signing algorithms the suite runs gateways with.
const (
	algRS256 = "RS256"
	algEdDSA = "EdDSA"
)

// keyPair is one gateway's signing keys (access and refresh never share one), as
// PKCS#8 PEM files with their PKIX public keys (production mode wants all four), plus
// the access signer for the in-process signing benchmark.
type keyPair struct {
	alg                   string
	accessPath, accessPub string
	refreshPath, refPub   string
	accessSigner          crypto.Signer
}

// newKeyPair generates alg keys (RSA 2048, the smallest the gateway accepts, or
// Ed25519) and writes them under dir.
func newKeyPair(dir, alg string) (keyPair, error) {
	kp := keyPair{alg: alg}
	for i, name := range []string{"access", "refresh"} {
		signer, err := generateKey(alg)
		if err != nil {
			return kp, err
		}
		der, err := x509.MarshalPKCS8PrivateKey(signer)
		if err != nil {
			return kp, fmt.Errorf("marshal %s key: %w", alg, err)
		}
		pubDER, err := x509.MarshalPKIXPublicKey(signer.Public())
		if err != nil {
			return kp, fmt.Errorf("marshal %s public key: %w", alg, err)
		}
		path := filepath.Join(dir, fmt.Sprintf("%s-%s.pem", alg, name))
		pub := filepath.Join(dir, fmt.Sprintf("%s-%s.pub.pem", alg, name))
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			return kp, fmt.Errorf("write key: %w", err)
		}
		if err := os.WriteFile(pub, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), 0o600); err != nil {
			return kp, fmt.Errorf("write key: %w", err)
		}
		if i == 0 {
			kp.accessPath, kp.accessPub, kp.accessSigner = path, pub, signer
		} else {
			kp.refreshPath, kp.refPub = path, pub
		}
	}
	return kp, nil
}

func generateKey(alg string) (crypto.Signer, error) {
	switch alg {
	case algRS256:
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, fmt.Errorf("generate RSA key: %w", err)
		}
		return k, nil
	case algEdDSA:
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("generate Ed25519 key: %w", err)
		}
		return k, nil
	}
	return nil, fmt.Errorf("unknown algorithm %q", alg)
}

// signJWS signs a JWS signing input the way the gateway does: PKCS#1 v1.5 over SHA-256
// for RS256, plain Ed25519 over the input for EdDSA.
func signJWS(signer crypto.Signer, alg string, input []byte) ([]byte, error) {
	var (
		sig []byte
		err error
	)
	if alg == algEdDSA {
		sig, err = signer.Sign(rand.Reader, input, crypto.Hash(0))
	} else {
		digest := sha256.Sum256(input)
		sig, err = signer.Sign(rand.Reader, digest[:], crypto.SHA256)
	}
	if err != nil {
		return nil, fmt.Errorf("sign %s: %w", alg, err)
	}
	return sig, nil
}
