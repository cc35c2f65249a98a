// Package tokens issues and verifies the gateway's JWT access and refresh tokens.
//
// A Codec handles one token type with its own signing key. Parse pins the algorithm to the
// key selected by "kid" from an in-memory key set, checks every claim and maps every
// failure to ErrInvalid (SECURITY.md T1–T5, T9).
package tokens

import (
	"crypto"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Type says what a token is for; it is carried in the "typ" claim.
type Type string

// The two token types. A Codec accepts only its own type.
const (
	Access  Type = "access"
	Refresh Type = "refresh"
)

// MaxLeeway is the largest clock-skew allowance New accepts.
const MaxLeeway = 60 * time.Second

// Sentinel errors.
var (
	// ErrInvalid is wrapped by every Parse failure, whatever the cause (malformed,
	// badly signed, expired, wrong issuer, audience or type, missing claim).
	ErrInvalid = errors.New("tokens: invalid token")
	// ErrConfig is wrapped by every problem New finds in a Config.
	ErrConfig = errors.New("tokens: invalid config")
	// ErrMissingClaim is returned by Issue when sub, sid or jti is empty.
	ErrMissingClaim = errors.New("tokens: sub, sid and jti must not be empty")
)

// Config describes one Codec. Fields marked optional may be left zero.
type Config struct {
	Type     Type          // Access or Refresh; goes into the "typ" claim
	Issuer   string        // "iss", required
	Audience string        // "aud", required
	TTL      time.Duration // lifetime of issued tokens, > 0
	Leeway   time.Duration // clock-skew allowance for exp, nbf and iat: 0..MaxLeeway
	// Keys is the key set to sign and verify with. When nil, New builds one from Signer,
	// Public and Verify.
	Keys *KeySet
	// Signer is the current signing key; the algorithm follows from it:
	// RSA (≥ 2048 bits) → RS256, ECDSA P-256 → ES256, Ed25519 → EdDSA.
	Signer crypto.Signer
	// Public is optional: the configured public key of Signer. New fails if it does not
	// match Signer.Public() (catches a mismatched key pair in the configuration).
	Public crypto.PublicKey
	// Verify lists extra verify-only keys (old keys during rotation). Signer's public key
	// is always a verification key.
	Verify []crypto.PublicKey
	Clock  func() time.Time // optional: nil means time.Now
	Rand   io.Reader        // optional: nil means crypto/rand.Reader; used by NewID
}

// Claims are the verified contents of a token.
type Claims struct {
	Subject   string // "sub": the user id
	SessionID string // "sid"
	ID        string // "jti"
	Type      Type   // "typ"
	KeyID     string // "kid" of the key that verified it
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// Codec issues and parses tokens of one Type. It is safe for concurrent use.
type Codec struct {
	typ       Type
	headerTyp string
	issuer    string
	audience  string
	ttl       time.Duration
	leeway    time.Duration
	keys      *KeySet
	parsers   map[string]*jwt.Parser // by algorithm, each pinned to it
	clock     func() time.Time
	rand      io.Reader
}

// New checks cfg and builds a Codec. Every problem found is reported at once (joined),
// each wrapping ErrConfig; an unusable key also wraps ErrKey.
func New(cfg Config) (*Codec, error) {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...))
	}
	headerTyp := ""
	switch cfg.Type {
	case Access:
		headerTyp = "at+jwt"
	case Refresh:
		headerTyp = "rt+jwt"
	default:
		bad("type must be %q or %q", Access, Refresh)
	}
	if cfg.Issuer == "" {
		bad("issuer is required")
	}
	if cfg.Audience == "" {
		bad("audience is required")
	}
	if cfg.TTL <= 0 {
		bad("ttl must be positive")
	}
	if cfg.Leeway < 0 || cfg.Leeway > MaxLeeway {
		bad("leeway must be between 0 and %s", MaxLeeway)
	}
	clock := cfg.Clock
	if clock == nil {
		clock = time.Now
	}
	c := &Codec{
		typ: cfg.Type, headerTyp: headerTyp, issuer: cfg.Issuer, audience: cfg.Audience,
		ttl: cfg.TTL, leeway: cfg.Leeway, keys: cfg.Keys, clock: clock, rand: cfg.Rand,
	}
	if c.rand == nil {
		c.rand = cryptoRand()
	}
	if c.keys == nil {
		ks, err := NewKeySet(cfg.Signer, cfg.Public, cfg.Verify)
		if err != nil {
			bad("%w", err)
		}
		c.keys = ks
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	c.parsers = make(map[string]*jwt.Parser, 3)
	for _, alg := range []string{RS256, ES256, EdDSA} {
		c.parsers[alg] = jwt.NewParser(
			jwt.WithValidMethods([]string{alg}),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithIssuer(c.issuer),
			jwt.WithAudience(c.audience),
			jwt.WithLeeway(c.leeway),
			jwt.WithTimeFunc(c.clock),
			jwt.WithStrictDecoding(),
		)
	}
	return c, nil
}

// samePublicKey reports whether a and b are the same key (all supported types have Equal).
func samePublicKey(a, b crypto.PublicKey) bool {
	eq, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(b)
}

// KeyID returns the "kid" of the current signing key.
func (c *Codec) KeyID() string { _, kid, _ := c.keys.Signer(); return kid }

// Algorithm returns the JWS algorithm of the current signing key (RS256, ES256 or EdDSA).
func (c *Codec) Algorithm() string { _, _, alg := c.keys.Signer(); return alg }

// Keys returns the Codec's key set.
func (c *Codec) Keys() *KeySet { return c.keys }

// NewID returns a fresh random identifier (session id, jti) read from the Codec's Rand.
// See the package-level NewID for its form and errors.
func (c *Codec) NewID() (string, error) { return NewID(c.rand) }

// idBytes is the number of random bytes in an identifier: 128 bits (SECURITY.md C6).
const idBytes = 16

// NewID reads 16 bytes (128 bits) from r (nil means crypto/rand.Reader) and returns them
// base64url-encoded without padding (22 characters). It returns the reader's error,
// wrapped, if r cannot supply 16 bytes.
func NewID(r io.Reader) (string, error) {
	if r == nil {
		r = cryptoRand()
	}
	b := make([]byte, idBytes)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", fmt.Errorf("tokens: read random id: %w", err)
	}
	return encodeSegment(b), nil
}
