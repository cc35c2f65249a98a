package tokens

import (
	"errors"
	"fmt"
	"io"
	"time"
)

// AssertionHeaderType is the JOSE "typ" of identity assertions. Access and refresh tokens
// carry "at+jwt" and "rt+jwt", so no verifier that checks "typ" can mistake one for another.
const AssertionHeaderType = "id+jwt"

// MaxAssertionTTL is the longest lifetime NewAsserter accepts: an assertion is a proof that
// one request came through the gateway, not a credential to keep.
const MaxAssertionTTL = 60 * time.Second

// ErrAssertionClaim is returned by Asserter.Sign when the audience, subject or session id
// is empty.
var ErrAssertionClaim = errors.New("tokens: assertion audience, subject and session id must not be empty")

// Assertion is what an identity assertion says about one forwarded request.
type Assertion struct {
	Audience  string // "aud": the upstream it is meant for
	Subject   string // "sub": the user id
	Role      string // "role"
	SessionID string // "sid"
}

// assertionPayload is the claim set of an identity assertion.
type assertionPayload struct {
	Issuer    string `json:"iss"`
	Audience  string `json:"aud"`
	Subject   string `json:"sub"`
	Role      string `json:"role"`
	SessionID string `json:"sid"`
	IssuedAt  int64  `json:"iat"`
	NotBefore int64  `json:"nbf"`
	ExpiresAt int64  `json:"exp"`
	ID        string `json:"jti"`
}

// Asserter signs identity assertions with the signing key of its key set. It is safe for
// concurrent use; the key set may be replaced while it signs.
type Asserter struct {
	keys   *KeySet
	issuer string
	ttl    time.Duration
	rand   io.Reader
}

// NewAsserter returns an Asserter signing with keys for issuer, each assertion valid for
// ttl (whole seconds, 1s..MaxAssertionTTL). rand nil means crypto/rand.Reader (for "jti").
// Errors wrap ErrConfig: nil keys, an empty issuer, a ttl out of range.
func NewAsserter(keys *KeySet, issuer string, ttl time.Duration, rand io.Reader) (*Asserter, error) {
	var errs []error
	if keys == nil {
		errs = append(errs, fmt.Errorf("%w: assertion keys are required", ErrConfig))
	}
	if issuer == "" {
		errs = append(errs, fmt.Errorf("%w: assertion issuer is required", ErrConfig))
	}
	if ttl < time.Second || ttl > MaxAssertionTTL || ttl%time.Second != 0 {
		errs = append(errs, fmt.Errorf("%w: assertion ttl must be whole seconds between 1s and %s", ErrConfig, MaxAssertionTTL))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if rand == nil {
		rand = cryptoRand()
	}
	return &Asserter{keys: keys, issuer: issuer, ttl: ttl, rand: rand}, nil
}

// Sign returns the compact JWT of a, issued at now (second precision): header alg, kid and
// typ "id+jwt"; claims iss, aud, sub, role, sid, iat, nbf (= iat), exp (= iat + ttl) and a
// fresh random jti. expiresAt is the "exp" claim. Errors: ErrAssertionClaim, the random
// source's or the signer's error, wrapped.
func (s *Asserter) Sign(a Assertion, now time.Time) (token string, expiresAt time.Time, err error) {
	if a.Audience == "" || a.Subject == "" || a.SessionID == "" {
		return "", time.Time{}, ErrAssertionClaim
	}
	jti, err := NewID(s.rand)
	if err != nil {
		return "", time.Time{}, err
	}
	iat := now.Unix()
	exp := iat + int64(s.ttl/time.Second)
	token, err = signCompact(s.keys, AssertionHeaderType, assertionPayload{
		Issuer: s.issuer, Audience: a.Audience, Subject: a.Subject, Role: a.Role, SessionID: a.SessionID,
		IssuedAt: iat, NotBefore: iat, ExpiresAt: exp, ID: jti,
	})
	if err != nil {
		return "", time.Time{}, err
	}
	return token, time.Unix(exp, 0), nil
}
