package tokens_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/authgate/authgate/authsvc/internal/tokens"
)

func TestNewValidatesConfig(t *testing.T) {
	keys := newKeyring(t)
	signer := keys.key("ed", tokens.EdDSA)
	other := keys.key("ed2", tokens.EdDSA)
	weakRSA, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		mutate  func(*tokens.Config)
		wantErr error // nil: New must succeed
	}{
		{"defaults are valid", func(*tokens.Config) {}, nil},
		{"leeway 60s accepted", func(c *tokens.Config) { c.Leeway = 60 * time.Second }, nil},
		{"leeway 0 accepted", func(c *tokens.Config) { c.Leeway = 0 }, nil},
		{"leeway 61s rejected", func(c *tokens.Config) { c.Leeway = 61 * time.Second }, tokens.ErrConfig},
		{"leeway 60s+1ns rejected", func(c *tokens.Config) { c.Leeway = time.Minute + 1 }, tokens.ErrConfig},
		{"negative leeway rejected", func(c *tokens.Config) { c.Leeway = -time.Second }, tokens.ErrConfig},
		{"zero ttl", func(c *tokens.Config) { c.TTL = 0 }, tokens.ErrConfig},
		{"unknown type", func(c *tokens.Config) { c.Type = "id" }, tokens.ErrConfig},
		{"missing issuer", func(c *tokens.Config) { c.Issuer = "" }, tokens.ErrConfig},
		{"missing audience", func(c *tokens.Config) { c.Audience = "" }, tokens.ErrConfig},
		{"missing signer", func(c *tokens.Config) { c.Signer = nil }, tokens.ErrConfig},
		{"matching public key", func(c *tokens.Config) { c.Public = signer.Public() }, nil},
		{"public key of another key pair", func(c *tokens.Config) { c.Public = other.Public() }, tokens.ErrConfig},
		{"public key of another type", func(c *tokens.Config) { c.Public = p384.Public() }, tokens.ErrConfig},
		{"RSA 1024 signer", func(c *tokens.Config) { c.Signer = weakRSA }, tokens.ErrKey},
		{"P-384 signer", func(c *tokens.Config) { c.Signer = p384 }, tokens.ErrKey},
		{"nil verify key", func(c *tokens.Config) { c.Verify = []crypto.PublicKey{nil} }, tokens.ErrConfig},
		{"RSA 1024 verify key", func(c *tokens.Config) { c.Verify = []crypto.PublicKey{weakRSA.Public()} }, tokens.ErrKey},
		{"verify key repeats the signer", func(c *tokens.Config) { c.Verify = []crypto.PublicKey{signer.Public()} }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tokens.Config{
				Type: tokens.Access, Issuer: testIssuer, Audience: testAudience,
				TTL: time.Minute, Leeway: 5 * time.Second, Signer: signer,
			}
			tt.mutate(&cfg)
			c, err := tokens.New(cfg)
			if tt.wantErr == nil {
				if err != nil || c == nil {
					t.Fatalf("New = %v, %v; want a codec", c, err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) || !errors.Is(err, tokens.ErrConfig) || c != nil {
				t.Fatalf("New = %v, %v; want %v (and ErrConfig)", c, err, tt.wantErr)
			}
		})
	}
}

func TestNewReportsEveryProblem(t *testing.T) {
	_, err := tokens.New(tokens.Config{Type: "x", Leeway: time.Hour})
	if err == nil {
		t.Fatal("New accepted an empty config")
	}
	for _, want := range []string{"type", "issuer", "audience", "ttl", "leeway", "signer"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}

func TestNewID(t *testing.T) {
	t.Run("length, alphabet, entropy", func(t *testing.T) {
		seen := map[string]bool{}
		for range 1000 {
			id, err := tokens.NewID(nil)
			if err != nil {
				t.Fatal(err)
			}
			raw, err := base64.RawURLEncoding.Strict().DecodeString(id)
			if err != nil || len(raw) < 16 || len(id) != 22 {
				t.Fatalf("id %q: %d bytes, err %v; want 22 chars of base64url for 16 bytes", id, len(raw), err)
			}
			if seen[id] {
				t.Fatalf("duplicate id %q", id)
			}
			seen[id] = true
		}
	})
	t.Run("reads the injected reader", func(t *testing.T) {
		src := bytes.Repeat([]byte{0xfb}, 16)
		id, err := tokens.NewID(bytes.NewReader(src))
		if want := base64.RawURLEncoding.EncodeToString(src); err != nil || id != want {
			t.Fatalf("NewID = %q, %v; want %q", id, err, want)
		}
	})
	t.Run("codec uses Config.Rand", func(t *testing.T) {
		src := bytes.Repeat([]byte{1, 2, 3, 4}, 8)
		c, _ := newCodec(t, tokens.Access, newKeyring(t).key("ed", tokens.EdDSA), func(cfg *tokens.Config) {
			cfg.Rand = bytes.NewReader(src)
		})
		first, err1 := c.NewID()
		second, err2 := c.NewID()
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if first != base64.RawURLEncoding.EncodeToString(src[:16]) || second != base64.RawURLEncoding.EncodeToString(src[16:]) {
			t.Fatalf("ids %q %q do not come from Config.Rand", first, second)
		}
		if _, err := c.NewID(); err == nil {
			t.Fatal("NewID succeeded on an exhausted reader")
		}
	})
	t.Run("short or failing reader", func(t *testing.T) {
		for _, r := range []interface{ Read([]byte) (int, error) }{
			bytes.NewReader(make([]byte, 15)),
			iotest.ErrReader(errors.New("entropy gone")),
		} {
			if id, err := tokens.NewID(r); err == nil || id != "" {
				t.Fatalf("NewID = %q, %v; want an error", id, err)
			}
		}
	})
}
