package password

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"
)

// TestDummyMadeOnce: concurrent first calls of VerifyDummy share one dummy hash, and each
// call runs the KDF with the Hasher's own parameters.
func TestDummyMadeOnce(t *testing.T) {
	p := Params{Memory: 96, Time: 3, Threads: 2, SaltLen: 20, KeyLen: 24}
	h := NewHasher(p, 4, 0, nil)
	var mu sync.Mutex
	salts := map[string]int{}
	h.derive = func(pw, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte {
		if time != p.Time || memory != p.Memory || threads != p.Threads || keyLen != p.KeyLen || len(salt) != int(p.SaltLen) {
			t.Errorf("KDF called with t=%d m=%d p=%d len=%d salt=%d; want %+v", time, memory, threads, keyLen, len(salt), p)
		}
		mu.Lock()
		salts[string(salt)]++
		mu.Unlock()
		return make([]byte, keyLen)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if err := h.VerifyDummy(context.Background(), "pw"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if len(salts) != 1 {
		t.Fatalf("%d different dummy salts; want one dummy hash", len(salts))
	}
	for _, n := range salts {
		if n != 9 { // one derivation to make the dummy, one per call
			t.Fatalf("%d derivations; want 9", n)
		}
	}
}

// TestVerifyDummyTiming: an unknown user (VerifyDummy) costs about what a wrong password
// for a known user (Verify) costs (P3). Calls alternate and the medians are compared
// with a generous factor; no absolute time is asserted.
func TestVerifyDummyTiming(t *testing.T) {
	h := NewHasher(Params{Memory: 2048, Time: 1, Threads: 1}, 1, 0, nil)
	ctx := context.Background()
	stored, err := h.Hash(ctx, "the real password")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.VerifyDummy(ctx, "warm-up"); err != nil { // makes the dummy hash
		t.Fatal(err)
	}
	timeVerify := func() time.Duration {
		start := time.Now()
		if ok, _, err := h.Verify(ctx, stored, "a wrong password"); ok || err != nil {
			t.Fatalf("Verify = %v, %v", ok, err)
		}
		return time.Since(start)
	}
	timeDummy := func() time.Duration {
		start := time.Now()
		if err := h.VerifyDummy(ctx, "a wrong password"); err != nil {
			t.Fatal(err)
		}
		return time.Since(start)
	}
	const rounds = 15
	var verify, dummy []time.Duration
	for i := range rounds {
		// Alternate which goes first so GC and warm-up costs do not favour one side.
		if i%2 == 0 {
			verify = append(verify, timeVerify())
			dummy = append(dummy, timeDummy())
		} else {
			dummy = append(dummy, timeDummy())
			verify = append(verify, timeVerify())
		}
	}
	slices.Sort(verify)
	slices.Sort(dummy)
	ratio := float64(dummy[rounds/2]) / float64(verify[rounds/2])
	t.Logf("median Verify %v, VerifyDummy %v, ratio %.2f", verify[rounds/2], dummy[rounds/2], ratio)
	if ratio < 0.5 || ratio > 2.0 {
		t.Fatalf("VerifyDummy/Verify time ratio %.2f outside 0.5..2.0", ratio)
	}
}
