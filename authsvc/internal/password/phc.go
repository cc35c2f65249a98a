package password

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// phc is a decoded argon2id PHC string. params.SaltLen and params.KeyLen are the lengths of
// salt and key.
type phc struct {
	params Params
	salt   []byte
	key    []byte
}

// b64 is the PHC string's base64: standard alphabet, no padding, canonical only.
func b64() *base64.Encoding { return base64.RawStdEncoding.Strict() }

// String encodes v as $argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<key>.
func (v phc) String() string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, v.params.Memory, v.params.Time, v.params.Threads,
		b64().EncodeToString(v.salt), b64().EncodeToString(v.key))
}

// parsePHC decodes an argon2id PHC string in exactly the form String writes, with
// 1 ≤ t ≤ maxT, 1 ≤ m ≤ maxMem, 1 ≤ p ≤ 255 and salt and key of minLen..maxLen bytes.
// Anything else wraps ErrMalformedHash.
func parsePHC(s string, maxMem, maxT uint32) (phc, error) {
	fields := strings.Split(s, "$")
	if len(fields) != 6 || fields[0] != "" || fields[1] != "argon2id" {
		return phc{}, fmt.Errorf("%w: not an argon2id PHC string", ErrMalformedHash)
	}
	if fields[2] != "v="+strconv.Itoa(argon2.Version) {
		return phc{}, fmt.Errorf("%w: unsupported argon2 version", ErrMalformedHash)
	}
	var v phc
	kv := strings.Split(fields[3], ",")
	if len(kv) != 3 {
		return phc{}, fmt.Errorf("%w: want m, t and p", ErrMalformedHash)
	}
	m, err1 := param(kv[0], "m", maxMem)
	t, err2 := param(kv[1], "t", maxT)
	p, err3 := param(kv[2], "p", 255)
	if err := errors.Join(err1, err2, err3); err != nil {
		return phc{}, err
	}
	v.params = Params{Memory: m, Time: t, Threads: uint8(p)} // #nosec G115 -- p ≤ 255 checked by param
	var err error
	if v.salt, err = decodeField(fields[4], "salt"); err != nil {
		return phc{}, err
	}
	if v.key, err = decodeField(fields[5], "key"); err != nil {
		return phc{}, err
	}
	v.params.SaltLen = uint32(len(v.salt)) // #nosec G115 -- ≤ maxLen
	v.params.KeyLen = uint32(len(v.key))   // #nosec G115 -- ≤ maxLen
	return v, nil
}

// param parses "name=N" with N a canonical decimal (no sign, no leading zero) in 1..limit.
func param(s, name string, limit uint32) (uint32, error) {
	digits, ok := strings.CutPrefix(s, name+"=")
	if !ok || digits == "" || len(digits) > 10 || digits[0] == '0' ||
		strings.TrimLeft(digits, "0123456789") != "" {
		return 0, fmt.Errorf("%w: bad %s parameter", ErrMalformedHash, name)
	}
	n, err := strconv.ParseUint(digits, 10, 32)
	if err != nil || n < 1 || n > uint64(limit) {
		return 0, fmt.Errorf("%w: %s parameter out of range", ErrMalformedHash, name)
	}
	return uint32(n), nil
}

// decodeField decodes a salt or key field of minLen..maxLen bytes.
func decodeField(s, name string) ([]byte, error) {
	b, err := b64().DecodeString(s)
	if err != nil || strings.ContainsAny(s, "\r\n") {
		return nil, fmt.Errorf("%w: %s is not unpadded base64", ErrMalformedHash, name)
	}
	if len(b) < minLen || len(b) > maxLen {
		return nil, fmt.Errorf("%w: %s length out of range", ErrMalformedHash, name)
	}
	return b, nil
}

// bcryptMaxBytes is the longest input bcrypt uses; bcryptjs (the seed) ignores the rest.
const bcryptMaxBytes = 72

// isBcrypt reports whether s claims to be a bcrypt hash of a supported variant.
func isBcrypt(s string) bool {
	return strings.HasPrefix(s, "$2a$") || strings.HasPrefix(s, "$2b$") || strings.HasPrefix(s, "$2y$")
}

// verifyBcrypt checks a legacy bcrypt hash; a match always asks for a rehash to argon2id.
func (h *Hasher) verifyBcrypt(ctx context.Context, encoded, password string) (ok, rehash bool, err error) {
	cost, err := bcrypt.Cost([]byte(encoded))
	if err != nil || cost > h.maxBcryptCost || len(encoded) != 60 {
		return false, false, fmt.Errorf("%w: bad bcrypt hash", ErrMalformedHash)
	}
	release, err := h.acquire(ctx)
	if err != nil {
		return false, false, err
	}
	defer release()
	pw := []byte(password)
	if len(pw) > bcryptMaxBytes {
		pw = pw[:bcryptMaxBytes]
	}
	switch err := bcrypt.CompareHashAndPassword([]byte(encoded), pw); {
	case err == nil:
		return true, true, nil
	case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
		return false, false, nil
	default:
		return false, false, fmt.Errorf("%w: %w", ErrMalformedHash, err)
	}
}
