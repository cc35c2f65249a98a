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

// newCodec loads (or, with cfg.KeyDir, generates once) the keys of one token kind.
func newCodec(cfg Config, typ tokens.Type, keys Keys) (*tokens.Codec, error) {
	priv := keys.Private
	if priv == "" {
		if cfg.KeyDir == "" {
			return nil, errors.New("no private key configured")
		}
		path, err := devKey(cfg.KeyDir, string(typ))
		if err != nil {
			return nil, err
		}
		priv = path
	}
	signer, err := tokens.LoadPrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	var public crypto.PublicKey
	if keys.Public != "" {
		if public, err = tokens.LoadPublicKey(keys.Public); err != nil {
			return nil, fmt.Errorf("public key: %w", err)
		}
	}
	verify := make([]crypto.PublicKey, 0, len(keys.Previous))
	for i, k := range keys.Previous {
		pub, err := tokens.LoadPublicKey(k)
		if err != nil {
			return nil, fmt.Errorf("previous public key %d: %w", i, err)
		}
		verify = append(verify, pub)
	}
	d := cfg.AccessTTL
	if typ == tokens.Refresh {
		d = cfg.RefreshTTL
	}
	return tokens.New(tokens.Config{
		Type:     typ,
		Issuer:   cfg.Issuer,
		Audience: cfg.Audience,
		TTL:      d,
		Leeway:   cfg.Leeway,
		Signer:   signer,
		Public:   public,
		Verify:   verify,
		Clock:    cfg.Clock,
	})
}

// devKey returns the path of dir/<kind>.pem, generating an RS256 key there the first time.
func devKey(dir, kind string) (string, error) {
	path := filepath.Join(dir, kind+"_token_private.pem")
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("key dir: %w", err)
	}
	pemBytes, err := tokens.GenerateKey("RS256", rand.Reader)
	if err != nil {
		return "", fmt.Errorf("generate %s key: %w", kind, err)
	}
	if err := os.WriteFile(path, pemBytes, 0o600); err != nil {
		return "", fmt.Errorf("write %s key: %w", kind, err)
	}
	return path, nil
}
