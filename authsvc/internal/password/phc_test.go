package password

import (
	"context"
	"errors"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// Hashes made by bcryptjs, the library of the Node.js seed (generated once offline with
// bcryptjs 2.x: hashSync(password, cost)).
const (
	seedPassword = "correct horse battery staple"
	seedHash     = "$2a$12$1Pv7hmmOPS2PFO0WAwAzSuMYBKhenfnExuRfe9Kr2SJKOyn9rucl2"
	// An 86-byte password: bcryptjs hashed only its first 72 bytes.
	longPasswordHash = "$2a$04$tHMH3enTbKwLOjVgOP8tC.FO0c8DjK9EUbONCJq3QxWUn1rr2xZHi"
)

func longPassword() string { return "Pässwörd 🔑 " + strings.Repeat("x", 70) }

func TestBcrypt(t *testing.T) {
	generated, err := bcrypt.GenerateFromPassword([]byte("hunter2"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(generated), "$2a$04$") {
		t.Fatalf("unexpected bcrypt prefix in %q", generated)
	}
	variant := func(prefix string) string { return prefix + string(generated[4:]) }
	tests := []struct {
		name, encoded, password string
		ok                      bool
	}{
		{"$2a$ at MinCost", string(generated), "hunter2", true},
		{"$2a$ wrong password", string(generated), "hunter3", false},
		{"$2b$ variant", variant("$2b$"), "hunter2", true},
		{"$2y$ variant", variant("$2y$"), "hunter2", true},
		{"$2y$ wrong password", variant("$2y$"), "Hunter2", false},
		// Cost 12 takes seconds under -race: one call only; mismatches use cheaper vectors.
		{"seed vector $2a$12$", seedHash, seedPassword, true},
		{"bcryptjs, wrong password", longPasswordHash, seedPassword, false},
		{"bcryptjs, 86-byte password", longPasswordHash, longPassword(), true},
		{"bcryptjs, same first 72 bytes", longPasswordHash, longPassword() + "tail", true},
		{"bcryptjs, only 60 bytes", longPasswordHash, longPassword()[:60], false},
	}
	h := NewHasher(small(), 2, 0, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.encoded == seedHash && testing.Short() {
				t.Skip("cost 12 takes seconds under -race")
			}
			ok, rehash, err := h.Verify(context.Background(), tt.encoded, tt.password)
			// A bcrypt match always asks for an upgrade to argon2id (P1).
			if ok != tt.ok || rehash != tt.ok || err != nil {
				t.Fatalf("Verify = %v, %v, %v; want %v, %v, nil", ok, rehash, err, tt.ok, tt.ok)
			}
		})
	}
}

func TestVerifyMalformed(t *testing.T) {
	valid := phc{params: small(), salt: []byte("0123456789abcdef"), key: make([]byte, 32)}.String()
	h := NewHasher(small(), 1, 0, nil)
	if _, _, err := h.Verify(context.Background(), valid, "pw"); err != nil {
		t.Fatalf("control hash %q rejected: %v", valid, err)
	}
	fields := strings.Split(valid, "$") // "", argon2id, v=19, params, salt, key
	with := func(i int, v string) string {
		f := append([]string(nil), fields...)
		f[i] = v
		return strings.Join(f, "$")
	}
	salt, key := fields[4], fields[5]
	cases := map[string]string{
		"empty":                 "",
		"plain text":            "hunter2",
		"argon2i":               with(1, "argon2i"),
		"argon2d":               with(1, "argon2d"),
		"version 16":            with(2, "v=16"),
		"version missing":       strings.Join([]string{"", "argon2id", fields[3], salt, key}, "$"),
		"extra field":           valid + "$AAAA",
		"trailing dollar":       valid + "$",
		"leading junk":          "x" + valid,
		"two params":            with(3, "m=64,t=1"),
		"four params":           with(3, "m=64,t=1,p=1,k=2"),
		"params reordered":      with(3, "t=1,m=64,p=1"),
		"m zero":                with(3, "m=0,t=1,p=1"),
		"t zero":                with(3, "m=64,t=0,p=1"),
		"p zero":                with(3, "m=64,t=1,p=0"),
		"p 256":                 with(3, "m=64,t=1,p=256"),
		"m not a number":        with(3, "m=abc,t=1,p=1"),
		"m with sign":           with(3, "m=+64,t=1,p=1"),
		"m negative":            with(3, "m=-64,t=1,p=1"),
		"m leading zero":        with(3, "m=064,t=1,p=1"),
		"m overflows uint32":    with(3, "m=4294967296,t=1,p=1"),
		"m above 1 GiB":         with(3, "m=1048577,t=1,p=1"),
		"t above limit":         with(3, "m=64,t=65,p=1"),
		"space in params":       with(3, "m=64, t=1,p=1"),
		"salt padded":           with(4, salt+"=="),
		"salt too short":        with(4, "MDEyMzQ1Njc"),
		"salt bad character":    with(4, "*"+salt[1:]),
		"salt with newline":     with(4, salt[:10]+"\n"+salt[10:]),
		"salt non-canonical":    with(4, salt[:len(salt)-1]+"h"),
		"salt empty":            with(4, ""),
		"key too short":         with(5, key[:20]),
		"key too long":          with(5, strings.Repeat("A", 1368)),
		"key url alphabet":      with(5, "-"+key[1:]),
		"bcrypt too short":      "$2a$12$short",
		"bcrypt cost 3":         "$2a$03$" + seedHash[7:],
		"bcrypt cost above 16":  "$2a$17$" + seedHash[7:],
		"bcrypt cost 31":        "$2a$31$" + seedHash[7:],
		"bcrypt bad salt":       "$2a$04$!" + seedHash[8:],
		"bcrypt one char long":  seedHash + "A",
		"bcrypt unknown minor":  "$2x$12$" + seedHash[7:],
		"bcrypt without minor":  "$2$12$" + seedHash[7:],
		"bcrypt cost not digit": "$2a$1x$" + seedHash[7:],
	}
	for name, encoded := range cases {
		t.Run(name, func(t *testing.T) {
			ok, rehash, err := h.Verify(context.Background(), encoded, "pw")
			if ok || rehash || !errors.Is(err, ErrMalformedHash) {
				t.Fatalf("Verify(%q) = %v, %v, %v; want ErrMalformedHash", encoded, ok, rehash, err)
			}
		})
	}
}

func TestPHCStringRoundTrip(t *testing.T) {
	want := phc{
		params: Params{Memory: 19456, Time: 2, Threads: 4, SaltLen: 17, KeyLen: 33},
		salt:   []byte("seventeen bytes!!"),
		key:    []byte("a key of thirty-three bytes......"),
	}
	s := want.String()
	if s != "$argon2id$v=19$m=19456,t=2,p=4$c2V2ZW50ZWVuIGJ5dGVzISE$YSBrZXkgb2YgdGhpcnR5LXRocmVlIGJ5dGVzLi4uLi4u" {
		t.Fatalf("String = %q", s)
	}
	got, err := parsePHC(s, maxMemoryKiB, maxTime)
	if err != nil || got.params != want.params || string(got.salt) != string(want.salt) || string(got.key) != string(want.key) {
		t.Fatalf("parsePHC = %+v, %v; want %+v", got, err, want)
	}
}

// FuzzVerifyMalformed: Verify never panics on any stored string, and answers only with a
// match, a mismatch, ErrMalformedHash or ErrTooLong. The Hasher's limits are lowered so
// that a fuzzed "valid" hash stays cheap.
func FuzzVerifyMalformed(f *testing.F) {
	h := NewHasher(small(), 2, 64, nil)
	h.maxMemory, h.maxTime, h.maxBcryptCost = 256, 2, 4
	valid, err := h.Hash(context.Background(), "pw")
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		valid, "", "$", "$$$$$", "$argon2id$v=19$m=64,t=1,p=1$$", "$argon2id$v=19$m=64,t=1,p=255$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA",
		"$argon2id$v=19$m=0,t=0,p=0$AAAA$AAAA", strings.Replace(valid, "p=1", "p=0", 1),
		longPasswordHash, seedHash, "$2a$04$", "$2y$04$" + longPasswordHash[7:], "$2b$99$" + longPasswordHash[7:],
	} {
		f.Add(s, "pw")
	}
	f.Add(valid, strings.Repeat("p", 65))
	f.Fuzz(func(t *testing.T, encoded, password string) {
		ok, rehash, err := h.Verify(context.Background(), encoded, password)
		switch {
		case err != nil && (ok || rehash):
			t.Fatalf("error %v with ok=%v rehash=%v", err, ok, rehash)
		case err != nil && !errors.Is(err, ErrMalformedHash) && !errors.Is(err, ErrTooLong):
			t.Fatalf("unexpected error %v", err)
		case errors.Is(err, ErrTooLong) != (len(password) > 64):
			t.Fatalf("ErrTooLong = %v for %d bytes", err, len(password))
		case rehash && !ok:
			t.Fatal("rehash without a match")
		}
	})
}
