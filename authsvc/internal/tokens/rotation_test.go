package tokens_test

import (
	"crypto"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/authgate/authgate/authsvc/internal/tokens"
)

// TestKeyRotation covers SECURITY.md T9 for a same-algorithm rotation and for a change of
// algorithm (RS256 → EdDSA).
func TestKeyRotation(t *testing.T) {
	keys := newKeyring(t)
	tests := []struct {
		name      string
		oldKey    crypto.Signer
		newKey    crypto.Signer
		oldMethod jwt.SigningMethod
		newMethod jwt.SigningMethod
	}{
		{"RS256 to RS256", keys.rsa("old"), keys.rsa("new"), jwt.SigningMethodRS256, jwt.SigningMethodRS256},
		{"RS256 to EdDSA", keys.rsa("old"), keys.key("new-ed", tokens.EdDSA), jwt.SigningMethodRS256, jwt.SigningMethodEdDSA},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, _ := newCodec(t, tokens.Access, tt.oldKey)
			oldToken := mustIssue(t, before)

			after, clock := newCodec(t, tokens.Access, tt.newKey, func(c *tokens.Config) {
				c.Verify = []crypto.PublicKey{tt.oldKey.Public()}
			})
			newToken := mustIssue(t, after)
			oldKid, newKid := kidOf(t, tt.oldKey.Public()), kidOf(t, tt.newKey.Public())
			if after.KeyID() != newKid || oldKid == newKid {
				t.Fatalf("kids: codec %s, old %s, new %s", after.KeyID(), oldKid, newKid)
			}

			removed, _ := newCodec(t, tokens.Access, tt.newKey)

			cases := []struct {
				name  string
				codec *tokens.Codec
				token string
				valid bool
			}{
				{"old token still valid after rotation", after, oldToken, true},
				{"new token valid", after, newToken, true},
				{"new token unknown to the pre-rotation codec", before, newToken, false},
				{"new kid with the old key's signature", after,
					craft(t, tt.oldMethod, tt.oldKey, accessHeader(newKid), goodClaims()), false},
				{"old kid with the new key's signature", after,
					craft(t, tt.newMethod, tt.newKey, accessHeader(oldKid), goodClaims()), false},
				{"old token once the old key is removed", removed, oldToken, false},
			}
			for _, cc := range cases {
				t.Run(cc.name, func(t *testing.T) {
					claims, err := cc.codec.Parse(cc.token)
					if cc.valid {
						if err != nil || claims.Subject != "user-1" {
							t.Fatalf("Parse = %+v, %v; want valid", claims, err)
						}
						return
					}
					assertInvalid(t, claims, err)
				})
			}

			t.Run("old token stops at its expiry", func(t *testing.T) {
				clock.now = t0().Add(after.TTL() + time.Hour)
				claims, err := after.Parse(oldToken)
				assertInvalid(t, claims, err)
			})
		})
	}
}
