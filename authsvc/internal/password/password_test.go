package password

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"
)

// small are cheap parameters so the suite stays fast under -race.
func small() Params { return Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32} }

func TestHashVerifyRoundTrip(t *testing.T) {
	phcRE := regexp.MustCompile(`^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$([A-Za-z0-9+/]{22})\$([A-Za-z0-9+/]{43})$`)
	h := NewHasher(small(), 0, 0, nil)
	ctx := context.Background()
	for _, pw := range []string{"correct horse battery staple", "", "pässwörd 🔑", "\x00nul\x00", strings.Repeat("x", 1024)} {
		t.Run(pw[:min(len(pw), 12)], func(t *testing.T) {
			encoded, err := h.Hash(ctx, pw)
			if err != nil {
				t.Fatal(err)
			}
			m := phcRE.FindStringSubmatch(encoded)
			if m == nil || m[1] != "64" || m[2] != "1" || m[3] != "1" {
				t.Fatalf("hash %q is not the expected PHC string", encoded)
			}
			ok, rehash, err := h.Verify(ctx, encoded, pw)
			if !ok || rehash || err != nil {
				t.Fatalf("Verify(right) = %v, %v, %v; want true, false, nil", ok, rehash, err)
			}
			for _, wrong := range []string{pw[:len(pw)/2] + "!", "x" + pw[min(len(pw), 1):], "Correct horse battery staple"} {
				if wrong == pw {
					continue
				}
				ok, rehash, err = h.Verify(ctx, encoded, wrong)
				if ok || rehash || err != nil {
					t.Fatalf("Verify(%q) = %v, %v, %v; want false, false, nil", wrong, ok, rehash, err)
				}
			}
			again, err := h.Hash(ctx, pw)
			if err != nil || again == encoded {
				t.Fatalf("second hash %q equals the first (salt reused?) err=%v", again, err)
			}
		})
	}
}

func TestDefaultParamsPHCString(t *testing.T) {
	if got, want := DefaultParams(), (Params{Memory: 19456, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}); got != want {
		t.Fatalf("DefaultParams = %+v, want %+v", got, want)
	}
	salt := []byte("0123456789abcdef")
	h := NewHasher(DefaultParams(), 1, 0, bytes.NewReader(salt))
	encoded, err := h.Hash(context.Background(), "hunter2")
	if err != nil {
		t.Fatal(err)
	}
	const prefix = "$argon2id$v=19$m=19456,t=2,p=1$MDEyMzQ1Njc4OWFiY2RlZg$"
	if !strings.HasPrefix(encoded, prefix) {
		t.Fatalf("hash %q lacks prefix %q", encoded, prefix)
	}
	// Independent check of the key: argon2id of the password with the injected salt.
	want := base64.RawStdEncoding.EncodeToString(argon2.IDKey([]byte("hunter2"), salt, 2, 19456, 1, 32))
	if got := strings.TrimPrefix(encoded, prefix); got != want {
		t.Fatalf("key = %s, want %s", got, want)
	}
}

// TestKnownVectors verifies hashes made by another implementation (hash-wasm, which is
// also what a Node service would produce), so the PHC parsing matches the ecosystem's.
func TestKnownVectors(t *testing.T) {
	tests := []struct {
		name, encoded, password string
		params                  Params
	}{
		{"OWASP parameters", "$argon2id$v=19$m=19456,t=2,p=1$YXV0aGdhdGUta2F0LXNhbHQ$U3X2bddiWUR4quPP3Y1MYx+YLwwY9006/Nb215qHq4s",
			"correct horse battery staple", DefaultParams()},
		{"two lanes, 16-byte key", "$argon2id$v=19$m=64,t=1,p=2$YXV0aGdhdGUta2F0LXNhbHQ$uibojns6pEo/9Siy2iXnfQ",
			"pässword", Params{Memory: 64, Time: 1, Threads: 2, KeyLen: 16}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := NewHasher(tt.params, 1, 0, nil)
			ok, rehash, err := h.Verify(context.Background(), tt.encoded, tt.password)
			if !ok || rehash || err != nil {
				t.Fatalf("Verify = %v, %v, %v; want true, false, nil", ok, rehash, err)
			}
			if ok, _, _ := h.Verify(context.Background(), tt.encoded, tt.password+" "); ok {
				t.Fatal("a wrong password verified")
			}
		})
	}
}

func TestRehashOnWeakerParams(t *testing.T) {
	current := Params{Memory: 128, Time: 2, Threads: 1, SaltLen: 24, KeyLen: 32}
	tests := []struct {
		name   string
		stored Params
		rehash bool
	}{
		{"same parameters", current, false},
		{"less memory", Params{Memory: 64, Time: 2, Threads: 1, SaltLen: 24, KeyLen: 32}, true},
		{"fewer passes", Params{Memory: 128, Time: 1, Threads: 1, SaltLen: 24, KeyLen: 32}, true},
		{"shorter salt", Params{Memory: 128, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}, true},
		{"shorter key", Params{Memory: 128, Time: 2, Threads: 1, SaltLen: 24, KeyLen: 16}, true},
		{"stronger parameters", Params{Memory: 256, Time: 3, Threads: 1, SaltLen: 32, KeyLen: 64}, false},
	}
	ctx := context.Background()
	h := NewHasher(current, 0, 0, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			encoded, err := NewHasher(tt.stored, 0, 0, nil).Hash(ctx, "pw")
			if err != nil {
				t.Fatal(err)
			}
			ok, rehash, err := h.Verify(ctx, encoded, "pw")
			if !ok || rehash != tt.rehash || err != nil {
				t.Fatalf("Verify = %v, %v, %v; want true, %v, nil", ok, rehash, err, tt.rehash)
			}
			ok, rehash, err = h.Verify(ctx, encoded, "wrong")
			if ok || rehash || err != nil {
				t.Fatalf("Verify(wrong) = %v, %v, %v; want false, false, nil", ok, rehash, err)
			}
		})
	}
}

// failReader fails the test if anything reads it: proof that no work was started.
type failReader struct{ t *testing.T }

func (r failReader) Read([]byte) (int, error) {
	r.t.Error("random source read")
	return 0, errors.New("unexpected read")
}

func TestTooLongBeforeAnyWork(t *testing.T) {
	h := NewHasher(small(), 1, 16, failReader{t})
	calls := 0
	h.derive = func([]byte, []byte, uint32, uint32, uint8, uint32) []byte { calls++; return nil }
	stored := phc{params: small(), salt: make([]byte, 16), key: make([]byte, 32)}.String()
	cancelled, cancel := context.WithCancel(context.Background())
	cancel() // the length check comes first, even before the context
	long := strings.Repeat("a", 17)
	if _, err := h.Hash(cancelled, long); !errors.Is(err, ErrTooLong) {
		t.Errorf("Hash: %v, want ErrTooLong", err)
	}
	if ok, _, err := h.Verify(cancelled, stored, long); ok || !errors.Is(err, ErrTooLong) {
		t.Errorf("Verify: %v, %v, want ErrTooLong", ok, err)
	}
	if ok, _, err := h.Verify(cancelled, "$2a$04$abcdefghijklmnopqrstuuMT2x3nKjxFpGHoMpuLCl0rCTQGbbKS2", long); ok || !errors.Is(err, ErrTooLong) {
		t.Errorf("Verify bcrypt: %v, %v, want ErrTooLong", ok, err)
	}
	if err := h.VerifyDummy(cancelled, long); !errors.Is(err, ErrTooLong) {
		t.Errorf("VerifyDummy: %v, want ErrTooLong", err)
	}
	if calls != 0 {
		t.Errorf("argon2 ran %d times for an over-long password", calls)
	}
	// Exactly at the cap is allowed.
	ok, _, err := h.Verify(context.Background(), stored, strings.Repeat("a", 16))
	if err != nil || ok || calls != 1 {
		t.Errorf("16-byte password: %v, %v, %d calls; want a normal mismatch", ok, err, calls)
	}
}

func TestNewHasherDefaults(t *testing.T) {
	if got := NewHasher(Params{}, 0, 0, nil).Params(); got != DefaultParams() {
		t.Errorf("zero Params became %+v, want DefaultParams", got)
	}
	h := NewHasher(Params{SaltLen: 4, KeyLen: 8}, 0, 0, nil)
	if want := (Params{Memory: 19456, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 16}); h.Params() != want {
		t.Errorf("Params = %+v, want %+v (zero fields default, short salt/key raised to 16)", h.Params(), want)
	}
	if got, want := cap(h.sem), 2*runtime.GOMAXPROCS(0); got != want {
		t.Errorf("concurrency = %d, want %d", got, want)
	}
	if h.maxBytes != 1024 {
		t.Errorf("maxBytes = %d, want 1024", h.maxBytes)
	}
	if got := NewHasher(small(), 3, 7, nil); cap(got.sem) != 3 || got.maxBytes != 7 || got.Params() != small() {
		t.Errorf("explicit settings not kept: %d %d %+v", cap(got.sem), got.maxBytes, got.Params())
	}
}

func TestSaltReaderError(t *testing.T) {
	h := NewHasher(small(), 1, 0, bytes.NewReader(make([]byte, 15)))
	if s, err := h.Hash(context.Background(), "pw"); err == nil || s != "" {
		t.Fatalf("Hash = %q, %v; want the reader's error", s, err)
	}
	// The slot was given back.
	if n := len(h.sem); n != 0 {
		t.Fatalf("%d slots still held", n)
	}
}
