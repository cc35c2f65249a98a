package tokens_test

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
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/authgate/authgate/authsvc/internal/tokens"
)

func pemOf(typ string, der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

func pkcs8(t *testing.T, key any) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pemOf("PRIVATE KEY", der)
}

func pkix(t *testing.T, pub any) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pemOf("PUBLIC KEY", der)
}

// inputForms returns the ways an operator can hand over the same PEM text.
func inputForms(t *testing.T, pemText string) map[string]string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(path, []byte(pemText), 0o600); err != nil {
		t.Fatal(err)
	}
	b64 := base64.StdEncoding.EncodeToString([]byte(pemText))
	var wrapped strings.Builder // like the output of base64(1): 76-column lines
	for i := 0; i < len(b64); i += 76 {
		wrapped.WriteString(b64[i:min(i+76, len(b64))] + "\n")
	}
	return map[string]string{
		"PEM":                 pemText,
		"PEM with whitespace": "\n  " + pemText + "\n\n",
		"PEM with CRLF":       strings.ReplaceAll(pemText, "\n", "\r\n"),
		"base64 PEM":          b64,
		"wrapped base64 PEM":  wrapped.String(),
		"file path":           path,
	}
}

func TestLoadPrivateKey(t *testing.T) {
	keys := newKeyring(t)
	rsaKey, ecKey := keys.rsa("rsa"), keys.ec("ec")
	edKey := keys.key("ed", tokens.EdDSA)
	sec1, err := x509.MarshalECPrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	p256OID, err := asn1.Marshal(asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7})
	if err != nil {
		t.Fatal(err)
	}
	formats := []struct {
		name string
		pem  string
		want crypto.Signer
	}{
		{"RSA PKCS#1", pemOf("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey)), rsaKey},
		{"RSA PKCS#8", pkcs8(t, rsaKey), rsaKey},
		{"ECDSA SEC1", pemOf("EC PRIVATE KEY", sec1), ecKey},
		{"ECDSA SEC1 after EC PARAMETERS (openssl ecparam -genkey)", pemOf("EC PARAMETERS", p256OID) + pemOf("EC PRIVATE KEY", sec1), ecKey},
		{"ECDSA PKCS#8", pkcs8(t, ecKey), ecKey},
		{"Ed25519 PKCS#8", pkcs8(t, edKey), edKey},
	}
	for _, f := range formats {
		for form, input := range inputForms(t, f.pem) {
			t.Run(f.name+"/"+form, func(t *testing.T) {
				got, err := tokens.LoadPrivateKey(input)
				if err != nil {
					t.Fatalf("LoadPrivateKey: %v", err)
				}
				if !got.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(f.want.Public()) {
					t.Fatal("loaded a different key")
				}
			})
		}
	}
}

func TestLoadPublicKey(t *testing.T) {
	keys := newKeyring(t)
	rsaKey, ecKey := keys.rsa("rsa"), keys.ec("ec")
	edKey := keys.key("ed", tokens.EdDSA)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: t0(), NotAfter: t0().Add(time.Hour)}
	cert, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, edKey.Public(), edKey)
	if err != nil {
		t.Fatal(err)
	}
	formats := []struct {
		name string
		pem  string
		want crypto.PublicKey
	}{
		{"RSA PKIX", pkix(t, rsaKey.Public()), rsaKey.Public()},
		{"RSA PKCS#1", pemOf("RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(&rsaKey.PublicKey)), rsaKey.Public()},
		{"ECDSA PKIX", pkix(t, ecKey.Public()), ecKey.Public()},
		{"Ed25519 PKIX", pkix(t, edKey.Public()), edKey.Public()},
		{"certificate", pemOf("CERTIFICATE", cert), edKey.Public()},
	}
	for _, f := range formats {
		for form, input := range inputForms(t, f.pem) {
			t.Run(f.name+"/"+form, func(t *testing.T) {
				got, err := tokens.LoadPublicKey(input)
				if err != nil {
					t.Fatalf("LoadPublicKey: %v", err)
				}
				if kidOf(t, got) != kidOf(t, f.want) {
					t.Fatal("loaded a different key")
				}
			})
		}
	}
}

func TestLoadKeyRejectsGarbage(t *testing.T) {
	keys := newKeyring(t)
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "notpem.txt")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	edPriv := pkcs8(t, keys.key("ed", tokens.EdDSA))
	// Labelled encrypted (legacy OpenSSL style) around DER that would parse: must be refused,
	// not read as if it were plain.
	encrypted := string(pem.EncodeToMemory(&pem.Block{
		Type:    "RSA PRIVATE KEY",
		Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00000000000000000000000000000000"},
		Bytes:   x509.MarshalPKCS1PrivateKey(keys.rsa("rsa")),
	}))
	common := map[string]string{
		"empty":                "",
		"blank":                " \n\t",
		"plain words":          "supersecretvalue",
		"missing file":         filepath.Join(dir, "absent.pem"),
		"directory":            dir,
		"file without PEM":     notPEM,
		"base64 of non-PEM":    base64.StdEncoding.EncodeToString([]byte("hello world")),
		"PEM without END":      strings.Split(edPriv, "-----END")[0],
		"bad DER in PEM":       pemOf("PRIVATE KEY", []byte("c2VjcmV0 not der")) + pemOf("PUBLIC KEY", []byte("c2VjcmV0 not der")),
		"encrypted PEM":        encrypted,
		"unknown block type":   pemOf("OPENSSH PRIVATE KEY", []byte{1, 2, 3}),
		"RSA 1024 private key": pkcs8(t, weak),
		"P-384 private key":    pkcs8(t, p384),
		"RSA 1024 public key":  pkix(t, weak.Public()),
		"P-384 public key":     pkix(t, p384.Public()),
	}
	for name, input := range common {
		t.Run("private/"+name, func(t *testing.T) {
			key, err := tokens.LoadPrivateKey(input)
			checkKeyErr(t, key, err, input)
		})
		t.Run("public/"+name, func(t *testing.T) {
			key, err := tokens.LoadPublicKey(input)
			checkKeyErr(t, key, err, input)
		})
	}
	t.Run("public key given to LoadPrivateKey", func(t *testing.T) {
		key, err := tokens.LoadPrivateKey(pkix(t, keys.key("ed", tokens.EdDSA).Public()))
		checkKeyErr(t, key, err, "")
	})
	t.Run("private key given to LoadPublicKey", func(t *testing.T) {
		key, err := tokens.LoadPublicKey(edPriv)
		checkKeyErr(t, key, err, "")
	})
}

// checkKeyErr wants ErrKey, no key, and an error message that does not echo the input.
func checkKeyErr(t *testing.T, key any, err error, input string) {
	t.Helper()
	if !errors.Is(err, tokens.ErrKey) || key != nil {
		t.Fatalf("got %v, %v; want ErrKey", key, err)
	}
	for _, secret := range []string{"supersecretvalue", "c2VjcmV0"} {
		if strings.Contains(input, secret) && strings.Contains(err.Error(), secret) {
			t.Fatalf("error %q repeats the input", err)
		}
	}
}

func TestGenerateKey(t *testing.T) {
	tests := []struct {
		alg   string
		check func(crypto.Signer) bool
	}{
		{tokens.RS256, func(s crypto.Signer) bool { k, ok := s.(*rsa.PrivateKey); return ok && k.N.BitLen() == 2048 }},
		{tokens.ES256, func(s crypto.Signer) bool { k, ok := s.(*ecdsa.PrivateKey); return ok && k.Curve == elliptic.P256() }},
		{tokens.EdDSA, func(s crypto.Signer) bool { _, ok := s.(ed25519.PrivateKey); return ok }},
	}
	for _, tt := range tests {
		t.Run(tt.alg, func(t *testing.T) {
			pemBytes, err := tokens.GenerateKey(tt.alg, nil)
			if err != nil {
				t.Fatal(err)
			}
			if block, _ := pem.Decode(pemBytes); block == nil || block.Type != "PRIVATE KEY" {
				t.Fatalf("not a PKCS#8 PEM block: %q", pemBytes)
			}
			signer, err := tokens.LoadPrivateKey(string(pemBytes))
			if err != nil || !tt.check(signer) {
				t.Fatalf("LoadPrivateKey = %T, %v", signer, err)
			}
			c, _ := newCodec(t, tokens.Refresh, signer)
			if _, err := c.Parse(mustIssue(t, c)); err != nil || c.Algorithm() != tt.alg {
				t.Fatalf("round trip with %s (%s): %v", tt.alg, c.Algorithm(), err)
			}
		})
	}
	t.Run("EdDSA reads its seed from rand", func(t *testing.T) {
		seed := bytes.Repeat([]byte{7}, ed25519.SeedSize)
		a, errA := tokens.GenerateKey(tokens.EdDSA, bytes.NewReader(seed))
		b, errB := tokens.GenerateKey(tokens.EdDSA, bytes.NewReader(seed))
		if errA != nil || errB != nil || !bytes.Equal(a, b) {
			t.Fatalf("GenerateKey ignored rand: %v %v", errA, errB)
		}
		signer, err := tokens.LoadPrivateKey(string(a))
		if err != nil || !ed25519.NewKeyFromSeed(seed).Equal(signer) {
			t.Fatalf("key is not the one derived from the seed: %v", err)
		}
		if _, err := tokens.GenerateKey(tokens.EdDSA, iotest.ErrReader(errors.New("no entropy"))); err == nil {
			t.Fatal("GenerateKey succeeded with a failing reader")
		}
	})
	for _, alg := range []string{"HS256", "none", "RS512", "", "es256"} {
		t.Run("rejects "+alg, func(t *testing.T) {
			if pemBytes, err := tokens.GenerateKey(alg, nil); !errors.Is(err, tokens.ErrKey) || pemBytes != nil {
				t.Fatalf("GenerateKey(%q) = %q, %v; want ErrKey", alg, pemBytes, err)
			}
		})
	}
}

func TestKeyID(t *testing.T) {
	keys := newKeyring(t)
	for _, alg := range []string{tokens.RS256, tokens.ES256, tokens.EdDSA} {
		t.Run(alg, func(t *testing.T) {
			pub := keys.key(alg, alg).Public()
			kid := kidOf(t, pub)
			der, err := x509.MarshalPKIXPublicKey(pub)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(der)
			if want := base64.RawURLEncoding.EncodeToString(sum[:])[:16]; kid != want {
				t.Fatalf("KeyID = %q, want %q", kid, want)
			}
			// Stable across a PEM round trip, distinct from another key.
			reloaded, err := tokens.LoadPublicKey(pkix(t, pub))
			if err != nil || kidOf(t, reloaded) != kid {
				t.Fatalf("kid changed after reload: %v", err)
			}
			if kidOf(t, keys.key(alg+"-other", alg).Public()) == kid {
				t.Fatal("two keys share a kid")
			}
		})
	}
	t.Run("unsupported key", func(t *testing.T) {
		weak, err := rsa.GenerateKey(rand.Reader, 1024)
		if err != nil {
			t.Fatal(err)
		}
		for _, pub := range []crypto.PublicKey{nil, "key", weak.Public(), []byte{1}} {
			if kid, err := tokens.KeyID(pub); !errors.Is(err, tokens.ErrKey) || kid != "" {
				t.Fatalf("KeyID(%T) = %q, %v; want ErrKey", pub, kid, err)
			}
		}
	})
}
