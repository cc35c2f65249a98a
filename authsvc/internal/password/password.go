// Package password hashes passwords with argon2id and verifies argon2id and legacy bcrypt
// hashes (SECURITY.md P1–P3). Hashing is bounded: a cap on password bytes and a semaphore
// on concurrent hashes, so a burst of logins cannot exhaust memory.
package password

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"time"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Sentinel errors; test with errors.Is.
var (
	// ErrBusy: the context ended (or had already ended) before a hashing slot was free.
	// The error also wraps the context's error.
	ErrBusy = errors.New("password: too many concurrent hashes")
	// ErrTooLong: the password has more bytes than the Hasher's cap.
	ErrTooLong = errors.New("password: too long")
	// ErrMalformedHash: the stored hash is neither a well-formed argon2id PHC string within
	// the Hasher's limits nor a well-formed bcrypt hash.
	ErrMalformedHash = errors.New("password: malformed hash")
)

// Params are argon2id parameters.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8  // lanes (p)
	SaltLen uint32 // bytes
	KeyLen  uint32 // bytes
}

// DefaultParams returns the OWASP recommendation: m=19 MiB, t=2, p=1, 16-byte salt, 32-byte key.
func DefaultParams() Params {
	return Params{Memory: 19 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}
}

const (
	defaultMaxBytes = 1024
	// minLen is the smallest salt and key length accepted, for new hashes and stored ones.
	minLen = 16
	// Limits on stored hashes, so a corrupt or planted hash cannot pin a slot for minutes
	// or allocate gigabytes. The Hasher's own parameters are always allowed.
	maxMemoryKiB  = 1 << 20 // 1 GiB
	maxTime       = 64
	maxLen        = 1024 // salt and key bytes
	maxBcryptCost = 16
)

// kdf is the argon2id key derivation; a field so tests can observe concurrency.
type kdf func(password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte

// Hasher hashes and verifies passwords. It is safe for concurrent use.
type Hasher struct {
	params        Params
	maxBytes      int
	rand          io.Reader
	sem           chan struct{}
	derive        kdf
	maxMemory     uint32
	maxTime       uint32
	maxBcryptCost int
	dummy         func() (phc, error)
	maxWait       time.Duration
}

// DefaultMaxWait is how long a caller waits for a hashing slot before ErrBusy: a burst
// of logins is answered 503 (retry) instead of queueing without bound.
const DefaultMaxWait = 2 * time.Second

// SetMaxWait changes how long a caller waits for a slot (≤ 0: until its context ends).
// Call it before the Hasher is used.
func (h *Hasher) SetMaxWait(d time.Duration) { h.maxWait = d }

// NewHasher returns a Hasher for p. Zero fields of p take DefaultParams' values and a
// SaltLen or KeyLen below 16 is raised to 16. maxConcurrent ≤ 0 means
// 2*runtime.GOMAXPROCS(0) hashes at once; maxBytes ≤ 0 means 1024 bytes per password;
// rand nil means crypto/rand.Reader (salts).
func NewHasher(p Params, maxConcurrent, maxBytes int, rand io.Reader) *Hasher {
	def := DefaultParams()
	if p.Memory == 0 {
		p.Memory = def.Memory
	}
	if p.Time == 0 {
		p.Time = def.Time
	}
	if p.Threads == 0 {
		p.Threads = def.Threads
	}
	if p.SaltLen == 0 {
		p.SaltLen = def.SaltLen
	}
	if p.KeyLen == 0 {
		p.KeyLen = def.KeyLen
	}
	p.SaltLen = max(p.SaltLen, minLen)
	p.KeyLen = max(p.KeyLen, minLen)
	if maxConcurrent <= 0 {
		maxConcurrent = 2 * runtime.GOMAXPROCS(0)
	}
	if maxBytes <= 0 {
		maxBytes = defaultMaxBytes
	}
	if rand == nil {
		rand = cryptoRand()
	}
	h := &Hasher{
		maxWait:       DefaultMaxWait,
		params:        p,
		maxBytes:      maxBytes,
		rand:          rand,
		sem:           make(chan struct{}, maxConcurrent),
		derive:        argon2.IDKey,
		maxMemory:     max(maxMemoryKiB, p.Memory),
		maxTime:       max(maxTime, p.Time),
		maxBcryptCost: maxBcryptCost,
	}
	h.dummy = sync.OnceValues(h.makeDummy)
	return h
}

// Hash returns an argon2id PHC string for password with a fresh salt:
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<key> (unpadded standard base64).
// It returns ErrTooLong before doing any work, ErrBusy if ctx ends before a slot is free,
// or the salt reader's error, wrapped.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	if len(password) > h.maxBytes {
		return "", ErrTooLong
	}
	release, err := h.acquire(ctx)
	if err != nil {
		return "", err
	}
	defer release()
	v, err := h.hash(password)
	if err != nil {
		return "", err
	}
	return v.String(), nil
}

// hash derives a new PHC value without taking a slot (the caller holds one).
func (h *Hasher) hash(password string) (phc, error) {
	salt := make([]byte, h.params.SaltLen)
	if _, err := io.ReadFull(h.rand, salt); err != nil {
		return phc{}, fmt.Errorf("password: read salt: %w", err)
	}
	p := h.params
	return phc{
		params: p,
		salt:   salt,
		key:    h.derive([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen),
	}, nil
}

// Verify checks password against encoded, an argon2id PHC string or a bcrypt hash ($2a$,
// $2b$, $2y$; passwords are cut to bcrypt's 72 bytes as the seed's bcryptjs did). ok is
// true on a match, compared in constant time; rehash is true when ok and encoded is bcrypt
// or argon2id with memory, time, salt or key length below h's parameters. A mismatch is
// ok=false with a nil error. Errors: ErrTooLong (checked before any work), ErrBusy,
// ErrMalformedHash.
func (h *Hasher) Verify(ctx context.Context, encoded, password string) (ok, rehash bool, err error) {
	if len(password) > h.maxBytes {
		return false, false, ErrTooLong
	}
	if isBcrypt(encoded) {
		return h.verifyBcrypt(ctx, encoded, password)
	}
	stored, err := parsePHC(encoded, h.maxMemory, h.maxTime)
	if err != nil {
		return false, false, err
	}
	release, err := h.acquire(ctx)
	if err != nil {
		return false, false, err
	}
	defer release()
	if !h.matches(stored, password) {
		return false, false, nil
	}
	return true, weaker(stored.params, h.params), nil
}

// matches runs the KDF with stored's parameters and compares in constant time.
func (h *Hasher) matches(stored phc, password string) bool {
	p := stored.params
	key := h.derive([]byte(password), stored.salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	return subtle.ConstantTimeCompare(key, stored.key) == 1
}

// VerifyDummy does the work of a failed Verify against an argon2id hash made with h's
// parameters, so an unknown user costs the same time as a wrong password (P3). The dummy
// hash is computed once, on the first call (which therefore costs one extra derivation),
// safely for concurrent callers. Errors: ErrTooLong (checked before any work), ErrBusy, or
// the random reader's error from making the dummy hash, wrapped (and kept for later calls).
func (h *Hasher) VerifyDummy(ctx context.Context, password string) error {
	if len(password) > h.maxBytes {
		return ErrTooLong
	}
	release, err := h.acquire(ctx)
	if err != nil {
		return err
	}
	defer release()
	stored, err := h.dummy()
	if err != nil {
		return err
	}
	// The result is irrelevant; the call's cost is the point.
	_ = h.matches(stored, password)
	return nil
}

// makeDummy hashes a random password with h's parameters; its caller holds a slot.
func (h *Hasher) makeDummy() (phc, error) {
	secret := make([]byte, 32)
	if _, err := io.ReadFull(h.rand, secret); err != nil {
		return phc{}, fmt.Errorf("password: read dummy secret: %w", err)
	}
	return h.hash(string(secret))
}

// acquire waits for a hashing slot until ctx ends or maxWait passes. An already ended
// ctx never gets one.
func (h *Hasher) acquire(ctx context.Context) (release func(), err error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBusy, err)
	}
	select {
	case h.sem <- struct{}{}:
		return func() { <-h.sem }, nil
	default:
	}
	if h.maxWait > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, h.maxWait)
		defer cancel()
	}
	select {
	case h.sem <- struct{}{}:
		return func() { <-h.sem }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %w", ErrBusy, ctx.Err())
	}
}

// weaker reports whether stored parameters are below the current ones.
func weaker(stored, current Params) bool {
	return stored.Memory < current.Memory || stored.Time < current.Time ||
		stored.SaltLen < current.SaltLen || stored.KeyLen < current.KeyLen
}

// cryptoRand returns the system's secure random source.
func cryptoRand() io.Reader { return rand.Reader }

// BcryptTime returns how long verifying one bcrypt hash of the given cost takes here,
// measured on a freshly made hash (costs outside 4..16 are read as the seed's 12). It
// holds a hashing slot while it measures. Errors: ErrBusy.
func (h *Hasher) BcryptTime(ctx context.Context, cost int) (time.Duration, error) {
	if cost < bcrypt.MinCost || cost > maxBcryptCost {
		cost = 12
	}
	release, err := h.acquire(ctx)
	if err != nil {
		return 0, err
	}
	defer release()
	probe := []byte(rand.Text())
	hash, err := bcrypt.GenerateFromPassword(probe, cost)
	if err != nil {
		return 0, fmt.Errorf("password: bcrypt probe: %w", err)
	}
	start := time.Now()
	_ = bcrypt.CompareHashAndPassword(hash, probe)
	return time.Since(start), nil
}
