package tokens

import (
	"crypto"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// header is the JOSE header of issued tokens; nothing else is ever written into it.
type header struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Typ string `json:"typ"`
}

// payload is the claim set of issued tokens.
type payload struct {
	Issuer    string `json:"iss"`
	Subject   string `json:"sub"`
	Audience  string `json:"aud"`
	ExpiresAt int64  `json:"exp"`
	NotBefore int64  `json:"nbf"`
	IssuedAt  int64  `json:"iat"`
	ID        string `json:"jti"`
	SessionID string `json:"sid"`
	Type      Type   `json:"typ"`
}

// Issue signs a token of the Codec's type for user sub in session sid with token id jti.
// The header carries "kid" and "typ" ("at+jwt" or "rt+jwt"); the claims are iss, sub, aud,
// exp, nbf, iat, jti, sid and typ, with times from the Codec's Clock at second precision.
// expiresAt is the "exp" claim. It returns ErrMissingClaim if sub, sid or jti is empty, or
// the signer's error, wrapped.
func (c *Codec) Issue(sub, sid, jti string) (token string, expiresAt time.Time, err error) {
	if sub == "" || sid == "" || jti == "" {
		return "", time.Time{}, ErrMissingClaim
	}
	now := c.clock()
	iat := now.Unix()
	exp := now.Add(c.ttl).Unix()
	token, err = signCompact(c.keys, c.headerTyp, payload{
		Issuer: c.issuer, Subject: sub, Audience: c.audience,
		ExpiresAt: exp, NotBefore: iat, IssuedAt: iat,
		ID: jti, SessionID: sid, Type: c.typ,
	})
	if err != nil {
		return "", time.Time{}, err
	}
	return token, time.Unix(exp, 0), nil
}

// signCompact signs claims with the current signing key of keys and returns the compact
// JWS, its header holding exactly alg, kid and typ. Errors: encoding or the signer's,
// wrapped.
func signCompact(keys *KeySet, typ string, claims any) (string, error) {
	signer, kid, alg := keys.Signer()
	h, err := json.Marshal(header{Alg: alg, Kid: kid, Typ: typ})
	if err != nil {
		return "", fmt.Errorf("tokens: encode header: %w", err)
	}
	p, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("tokens: encode claims: %w", err)
	}
	signingInput := encodeSegment(h) + "." + encodeSegment(p)
	sig, err := signJWS(signer, alg, signingInput)
	if err != nil {
		return "", err
	}
	return signingInput + "." + encodeSegment(sig), nil
}

// signJWS signs the JWS signing input with any crypto.Signer (in-memory key, HSM, KMS) and
// returns the signature in JWS form: PKCS#1 v1.5 for RS256, the 64-byte R||S for ES256
// (the signer returns ASN.1 DER), the raw 64 bytes for EdDSA.
func signJWS(signer crypto.Signer, alg, signingInput string) ([]byte, error) {
	if alg == EdDSA {
		sig, err := signer.Sign(cryptoRand(), []byte(signingInput), crypto.Hash(0))
		if err != nil {
			return nil, fmt.Errorf("tokens: sign: %w", err)
		}
		return sig, nil
	}
	digest := sha256.Sum256([]byte(signingInput))
	sig, err := signer.Sign(cryptoRand(), digest[:], crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("tokens: sign: %w", err)
	}
	if alg != ES256 {
		return sig, nil
	}
	return ecdsaDERToJWS(sig)
}

// ecdsaDERToJWS converts an ASN.1 ECDSA-Sig-Value for P-256 into JWS's fixed R||S form.
func ecdsaDERToJWS(der []byte) ([]byte, error) {
	var v struct{ R, S *big.Int }
	rest, err := asn1.Unmarshal(der, &v)
	if err != nil {
		return nil, fmt.Errorf("tokens: decode ECDSA signature: %w", err)
	}
	const size = 32
	if len(rest) != 0 || v.R.Sign() <= 0 || v.S.Sign() <= 0 ||
		v.R.BitLen() > 8*size || v.S.BitLen() > 8*size {
		return nil, errors.New("tokens: malformed ECDSA signature from signer")
	}
	out := make([]byte, 2*size)
	v.R.FillBytes(out[:size])
	v.S.FillBytes(out[size:])
	return out, nil
}

// encodeSegment is JWS base64url without padding.
func encodeSegment(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
