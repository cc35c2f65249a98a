package main

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// What an assertion must be, besides its signature, issuer and audience.
const (
	assertionType   = "id+jwt"         // JOSE "typ": never an access ("at+jwt") or refresh token
	maxLifetime     = 60 * time.Second // exp - iat
	leeway          = 5 * time.Second  // clock skew between the gateway's host and ours
	maxTokenBytes   = 8 << 10
	jwksMaxAge      = 5 * time.Minute // the gateway's Cache-Control max-age
	jwksMinInterval = 5 * time.Second // at most one fetch this often, whatever tokens arrive
	jwksMaxBytes    = 1 << 20
	jwksTimeout     = 5 * time.Second
)

// errNoAssertion: the request carries no X-Auth-Assertion.
var errNoAssertion = errors.New("no X-Auth-Assertion")

// caller is who a request is for.
type caller struct{ id, role string }

type callerKey struct{}

// callerOf returns the caller identify put in r's context.
func callerOf(r *http.Request) caller {
	c, _ := r.Context().Value(callerKey{}).(caller)
	return c
}

// identify puts the caller in the request's context: from a verified X-Auth-Assertion
// when assertions are configured (a request without a valid one is refused with 401 and
// never reaches next; X-User-Id/X-User-Role are then ignored), else from the headers.
func (a *app) identify(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := caller{id: r.Header.Get("X-User-Id"), role: r.Header.Get("X-User-Role")}
		if a.assertions != nil {
			claims, err := a.assertions.verify(r.Context(), r.Header.Get("X-Auth-Assertion"))
			if err != nil {
				if !errors.Is(err, errNoAssertion) {
					a.log.WarnContext(r.Context(), "assertion rejected", "error", err, "request_id", r.Header.Get("X-Request-Id"))
				}
				writeJSON(w, http.StatusUnauthorized, fail("You are not logged in"))
				return
			}
			c = caller{id: claims.Subject, role: claims.Role}
		}
		next(w, r.WithContext(context.WithValue(r.Context(), callerKey{}, c)))
	})
}

// assertionClaims are the claims of the gateway's identity assertion.
type assertionClaims struct {
	jwt.RegisteredClaims
	Role      string `json:"role"`
	SessionID string `json:"sid"`
}

// verifier checks identity assertions against the gateway's JWKS.
type verifier struct {
	keys   *jwksCache
	parser *jwt.Parser
}

// newVerifier returns a verifier of assertions for audience from issuer, with the keys at
// jwksURL. Errors: a missing audience or URL, a URL that is not http(s).
func newVerifier(jwksURL, issuer, audience string, log *slog.Logger) (*verifier, error) {
	return newVerifierAt(jwksURL, issuer, audience, log, time.Now)
}

func newVerifierAt(jwksURL, issuer, audience string, log *slog.Logger, now func() time.Time) (*verifier, error) {
	if jwksURL == "" || audience == "" || issuer == "" {
		return nil, errors.New("assertions need --jwks-url, --audience and --issuer together")
	}
	if u, err := url.Parse(jwksURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--jwks-url %q is not an http(s) URL", jwksURL)
	}
	return &verifier{
		keys: &jwksCache{url: jwksURL, client: &http.Client{Timeout: jwksTimeout}, now: now, log: log},
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{"RS256", "ES256", "EdDSA"}),
			jwt.WithIssuer(issuer),
			jwt.WithAudience(audience),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithLeeway(leeway),
			jwt.WithTimeFunc(now),
			jwt.WithStrictDecoding(),
		),
	}, nil
}

// verify checks token and returns its claims: typ "id+jwt", a kid of the JWKS whose own
// algorithm signed it, the signature, iss, aud, exp (required), nbf and iat (required),
// each with the leeway, a lifetime of at most a minute, sub and sid. Errors:
// errNoAssertion, or the failed check.
func (v *verifier) verify(ctx context.Context, token string) (*assertionClaims, error) {
	if token == "" {
		return nil, errNoAssertion
	}
	if len(token) > maxTokenBytes {
		return nil, errors.New("assertion too long")
	}
	var claims assertionClaims
	_, err := v.parser.ParseWithClaims(token, &claims, func(t *jwt.Token) (any, error) {
		if typ, _ := t.Header["typ"].(string); typ != assertionType {
			return nil, errors.New("not an identity assertion (typ)")
		}
		kid, _ := t.Header["kid"].(string)
		key, err := v.keys.key(ctx, kid)
		if err != nil {
			return nil, err
		}
		if t.Method.Alg() != key.alg { // the algorithm is the key's, never the token's choice
			return nil, fmt.Errorf("algorithm %s not allowed for key %s", t.Method.Alg(), kid)
		}
		return key.public, nil
	})
	switch {
	case err != nil:
		return nil, err
	case claims.Subject == "" || claims.SessionID == "" || claims.IssuedAt == nil:
		return nil, errors.New("assertion lacks sub, sid or iat")
	case claims.ExpiresAt.Sub(claims.IssuedAt.Time) > maxLifetime:
		return nil, errors.New("assertion lives longer than a minute")
	}
	return &claims, nil
}

// verifyKey is one key of the JWKS with the one algorithm it verifies.
type verifyKey struct {
	alg    string
	public crypto.PublicKey
}

type keySet struct {
	keys    map[string]verifyKey
	fetched time.Time
}

// jwksCache holds the gateway's JWKS. A known kid is served from memory while the set is
// younger than jwksMaxAge; an unknown kid (a rotation) or an old set fetches it again, at
// most once per jwksMinInterval, so a flood of made-up kids costs the gateway one request
// every few seconds. When a fetch fails the keys already known keep working.
type jwksCache struct {
	url    string
	client *http.Client
	now    func() time.Time
	log    *slog.Logger

	cur     atomic.Pointer[keySet]
	mu      sync.Mutex // one fetch at a time
	lastTry time.Time  // guarded by mu
}

// errUnknownKey: the kid is not in the JWKS, even after fetching it again (or the fetch
// was not due yet).
var errUnknownKey = errors.New("unknown key id")

// key returns the key with id kid, fetching the set when kid is unknown or the set is
// old (at most once per jwksMinInterval). Errors: errUnknownKey.
func (c *jwksCache) key(ctx context.Context, kid string) (verifyKey, error) {
	now := c.now()
	if ks := c.cur.Load(); ks != nil && now.Sub(ks.fetched) < jwksMaxAge {
		if k, ok := ks.keys[kid]; ok {
			return k, nil
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	ks := c.cur.Load()
	if ks != nil {
		if k, ok := ks.keys[kid]; ok && now.Sub(ks.fetched) < jwksMaxAge {
			return k, nil // fetched by another request meanwhile
		}
	}
	if c.lastTry.IsZero() || now.Sub(c.lastTry) >= jwksMinInterval {
		c.lastTry = now
		fetched, err := c.fetch(ctx, now)
		if err != nil {
			c.log.WarnContext(ctx, "jwks fetch failed; keeping the keys already known", "url", c.url, "error", err)
		} else {
			c.cur.Store(fetched)
			ks = fetched
		}
	}
	if ks != nil {
		if k, ok := ks.keys[kid]; ok {
			return k, nil
		}
	}
	return verifyKey{}, errUnknownKey
}

// fetch reads the JWKS; keys it cannot use are skipped. Errors: transport, status, body,
// or no usable key at all.
func (c *jwksCache) fetch(ctx context.Context, now time.Time) (*keySet, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), jwksTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	res, err := c.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = res.Body.Close() }()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d", res.StatusCode)
	}
	var doc struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, jwksMaxBytes)).Decode(&doc); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	ks := &keySet{keys: make(map[string]verifyKey, len(doc.Keys)), fetched: now}
	for _, j := range doc.Keys {
		k, err := j.verifyKey()
		if err != nil {
			c.log.WarnContext(ctx, "jwks key skipped", "kid", j.Kid, "error", err)
			continue
		}
		ks.keys[j.Kid] = k
	}
	if len(ks.keys) == 0 {
		return nil, errors.New("no usable key")
	}
	return ks, nil
}

// jwk is one RFC 7517 key as the gateway publishes it.
type jwk struct {
	Kty string `json:"kty"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Crv string `json:"crv"`
	N   string `json:"n"`
	E   string `json:"e"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

// verifyKey turns j into a key pinned to its "alg": RS256 (RSA, at least 2048 bits),
// ES256 (EC P-256) or EdDSA (OKP Ed25519). Errors: anything else.
func (j jwk) verifyKey() (verifyKey, error) {
	if j.Kid == "" || (j.Use != "" && j.Use != "sig") {
		return verifyKey{}, errors.New("not a signing key with a kid")
	}
	b64 := base64.RawURLEncoding.DecodeString
	switch {
	case j.Kty == "RSA" && j.Alg == "RS256":
		n, errN := b64(j.N)
		e, errE := b64(j.E)
		if errN != nil || errE != nil || len(e) == 0 || len(e) > 4 {
			return verifyKey{}, errors.New("bad RSA key")
		}
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		if pub.N.BitLen() < 2048 || pub.E < 3 {
			return verifyKey{}, errors.New("RSA key too weak")
		}
		return verifyKey{alg: j.Alg, public: pub}, nil
	case j.Kty == "EC" && j.Alg == "ES256" && j.Crv == "P-256":
		x, errX := b64(j.X)
		y, errY := b64(j.Y)
		if errX != nil || errY != nil || len(x) != 32 || len(y) != 32 {
			return verifyKey{}, errors.New("bad EC key")
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
		if err != nil {
			return verifyKey{}, fmt.Errorf("bad EC key: %w", err)
		}
		return verifyKey{alg: j.Alg, public: pub}, nil
	case j.Kty == "OKP" && j.Alg == "EdDSA" && j.Crv == "Ed25519":
		x, err := b64(j.X)
		if err != nil || len(x) != ed25519.PublicKeySize {
			return verifyKey{}, errors.New("bad Ed25519 key")
		}
		return verifyKey{alg: j.Alg, public: ed25519.PublicKey(x)}, nil
	}
	return verifyKey{}, fmt.Errorf("unsupported key %s/%s", j.Kty, j.Alg)
}
