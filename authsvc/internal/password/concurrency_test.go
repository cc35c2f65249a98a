package password

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// gatedKDF replaces argon2 with a function that counts how many derivations run at once
// and waits for a token on release before returning.
type gatedKDF struct {
	release chan struct{}
	entered chan struct{} // one value per derivation started (buffered)
	active  atomic.Int32
	peak    atomic.Int32
	calls   atomic.Int32
}

func newGatedKDF() *gatedKDF {
	return &gatedKDF{release: make(chan struct{}), entered: make(chan struct{}, 64)}
}

func (g *gatedKDF) derive(_, _ []byte, _, _ uint32, _ uint8, keyLen uint32) []byte {
	n := g.active.Add(1)
	for {
		p := g.peak.Load()
		if n <= p || g.peak.CompareAndSwap(p, n) {
			break
		}
	}
	g.calls.Add(1)
	g.entered <- struct{}{}
	<-g.release
	g.active.Add(-1)
	return make([]byte, keyLen)
}

// TestBusy: with one slot held by a slow hash, a second call whose context is cancelled
// or times out gets ErrBusy (and the context's error); once the slot frees, calls succeed.
func TestBusy(t *testing.T) {
	h := NewHasher(small(), 1, 0, nil)
	g := newGatedKDF()
	h.derive = g.derive
	stored := phc{params: small(), salt: make([]byte, 16), key: make([]byte, 32)}.String()

	holder := make(chan error, 1)
	go func() { _, err := h.Hash(context.Background(), "slow"); holder <- err }()
	<-g.entered // the slot is now held inside the KDF

	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	calls := map[string]func(ctx context.Context) error{
		"Hash":        func(ctx context.Context) error { _, err := h.Hash(ctx, "pw"); return err },
		"Verify":      func(ctx context.Context) error { _, _, err := h.Verify(ctx, stored, "pw"); return err },
		"VerifyDummy": func(ctx context.Context) error { return h.VerifyDummy(ctx, "pw") },
	}
	for name, call := range calls {
		t.Run(name+"/cancelled", func(t *testing.T) {
			if err := call(cancelled); !errors.Is(err, ErrBusy) || !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want ErrBusy wrapping context.Canceled", err)
			}
		})
		t.Run(name+"/deadline", func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
			defer cancel()
			if err := call(ctx); !errors.Is(err, ErrBusy) || !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("err = %v, want ErrBusy wrapping context.DeadlineExceeded", err)
			}
		})
	}
	if n := g.calls.Load(); n != 1 {
		t.Fatalf("KDF ran %d times; rejected calls must not hash", n)
	}
	g.release <- struct{}{}
	if err := <-holder; err != nil {
		t.Fatalf("slow hash: %v", err)
	}
	close(g.release) // from now on derivations do not wait
	for name, call := range calls {
		// A select between a free slot and a done context picks at random: repeat so a
		// missing up-front ctx check cannot pass by luck (2^-32).
		for range 32 {
			if err := call(cancelled); !errors.Is(err, ErrBusy) {
				t.Fatalf("%s: a cancelled context got a free slot: %v", name, err)
			}
		}
	}
	if err := calls["Verify"](context.Background()); err != nil {
		t.Fatalf("after the slot was freed: %v", err)
	}
}

// TestConcurrencyBound starts many Hash, Verify and VerifyDummy calls against a Hasher
// with 3 slots and checks, at every step, that at most 3 derivations run at once.
// synctest makes "everyone else is blocked" observable without sleeps.
func TestConcurrencyBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const slots, callers = 3, 12
		h := NewHasher(small(), slots, 0, nil)
		g := newGatedKDF()
		h.derive = g.derive
		stored := phc{params: small(), salt: make([]byte, 16), key: make([]byte, 32)}.String()
		ctx := context.Background()

		// Make the lazy dummy hash first: its sync.Once would otherwise block callers
		// in a way synctest cannot see through.
		go func() { _ = h.VerifyDummy(ctx, "prime") }()
		g.release <- struct{}{} // dummy creation
		g.release <- struct{}{} // dummy verification
		synctest.Wait()
		g.calls.Store(0)

		var wg sync.WaitGroup
		errs := make(chan error, callers)
		for i := range callers {
			wg.Go(func() {
				var err error
				switch i % 3 {
				case 0:
					_, err = h.Hash(ctx, "pw")
				case 1:
					_, _, err = h.Verify(ctx, stored, "pw")
				default:
					err = h.VerifyDummy(ctx, "pw")
				}
				errs <- err
			})
		}
		for done := 0; done < callers; done++ {
			synctest.Wait()
			want := int32(min(slots, callers-done))
			if got := g.active.Load(); got != want {
				t.Fatalf("after %d finished: %d derivations running, want %d", done, got, want)
			}
			g.release <- struct{}{}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if peak, calls := g.peak.Load(), g.calls.Load(); peak != slots || calls != callers {
			t.Fatalf("peak %d, calls %d; want %d, %d", peak, calls, slots, callers)
		}
	})
}

// TestMaxWait: a caller without a deadline of its own waits at most maxWait for a slot
// and then gets ErrBusy (so a login burst answers 503 instead of queueing forever).
func TestMaxWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := NewHasher(small(), 1, 0, nil)
		if h.maxWait != DefaultMaxWait {
			t.Fatalf("default max wait %v", h.maxWait)
		}
		h.SetMaxWait(time.Second)
		g := newGatedKDF()
		h.derive = g.derive
		holder := make(chan error, 1)
		go func() { _, err := h.Hash(context.Background(), "slow"); holder <- err }()
		<-g.entered

		start := time.Now()
		_, err := h.Hash(context.Background(), "waiting")
		if !errors.Is(err, ErrBusy) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want ErrBusy after the max wait", err)
		}
		if waited := time.Since(start); waited != time.Second {
			t.Fatalf("waited %v, want exactly the max wait (fake clock)", waited)
		}
		g.release <- struct{}{}
		if err := <-holder; err != nil {
			t.Fatal(err)
		}
	})
}
