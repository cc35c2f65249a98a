package tokens_test

import (
	"testing"

	"github.com/authgate/authgate/authsvc/internal/tokens"
)

// BenchmarkParse is the token half of the proxy's hot path, per algorithm.
func BenchmarkParse(b *testing.B) {
	keys := newKeyring(b)
	for _, alg := range []string{tokens.RS256, tokens.ES256, tokens.EdDSA} {
		b.Run(alg, func(b *testing.B) {
			c, _ := newCodec(b, tokens.Access, keys.key(alg, alg))
			tok := mustIssue(b, c)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Parse(tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
