package audit

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// sink is a Sink for the writer's own logic: it records batches, and while blocked it
// holds every write until released.
type sink struct {
	mu      sync.Mutex
	got     []Event
	block   chan struct{} // nil: never blocks
	started chan struct{} // receives once per write
	fail    error
}

func (s *sink) Insert(ctx context.Context, events []Event) error {
	if s.started != nil {
		select {
		case s.started <- struct{}{}:
		default:
		}
	}
	if s.block != nil {
		select {
		case <-s.block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	s.got = append(s.got, events...)
	return nil
}

func (s *sink) events() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Event(nil), s.got...)
}

// TestRecorderBoundedAndFlushed: Record never blocks; with the store stuck, the queue
// holds Queue events, the rest are dropped and counted; at shutdown whatever is queued
// is written, in order, and later events are dropped.
func TestRecorderBoundedAndFlushed(t *testing.T) {
	s := &sink{block: make(chan struct{}), started: make(chan struct{}, 1)}
	r := NewRecorder(s, RecorderConfig{Queue: 4, Batch: 2, Timeout: 5 * time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()

	r.Record(context.Background(), Event{Type: "t", Details: map[string]any{"n": 0}})
	<-s.started // the writer holds event 0 in a stuck write
	start := time.Now()
	for i := 1; i <= 10; i++ {
		r.Record(context.Background(), Event{Type: "t", Details: map[string]any{"n": i}})
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Fatalf("Record blocked for %v with the store stuck", d)
	}
	if got := r.Dropped(); got != 6 { // 1 in the write, 4 queued, 6 dropped
		t.Fatalf("dropped %d, want 6", got)
	}
	cancel()       // shutdown while the write is stuck…
	close(s.block) // …and the store comes back: the queue is flushed
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	got := s.events()
	if len(got) != 5 {
		t.Fatalf("flushed %d events, want 5: %v", len(got), got)
	}
	for i, e := range got {
		if e.Details["n"] != i || e.Time.IsZero() {
			t.Fatalf("event %d = %+v: out of order or without time", i, e)
		}
	}
	r.Record(context.Background(), Event{Type: "late"})
	if r.Dropped() != 7 || len(s.events()) != 5 {
		t.Fatalf("an event after shutdown: dropped %d, stored %d", r.Dropped(), len(s.events()))
	}
}

// TestRecorderWriteFailure: a failed write drops its batch (counted) and the writer
// goes on; the request's context fills in the client and actor.
func TestRecorderWriteFailure(t *testing.T) {
	s := &sink{fail: errors.New("mongodb down")}
	r := NewRecorder(s, RecorderConfig{Queue: 8, Timeout: time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	rctx := WithRequest(WithRequest(context.Background(), Request{IP: "192.0.2.1", UserAgent: "ua"}), Request{ActorID: "a1"})
	for range 3 {
		r.Record(rctx, Event{Type: "t"})
	}
	deadline := time.Now().Add(5 * time.Second)
	for r.Dropped() != 3 {
		if time.Now().After(deadline) {
			t.Fatalf("dropped %d, want 3", r.Dropped())
		}
		time.Sleep(5 * time.Millisecond)
	}
	s.mu.Lock()
	s.fail = nil
	s.mu.Unlock()
	r.Record(rctx, Event{Type: "ok", ActorID: "explicit"})
	cancel()
	<-done
	got := s.events()
	if len(got) != 1 || got[0].Type != "ok" || got[0].ActorID != "explicit" || got[0].IP != "192.0.2.1" || got[0].UserAgent != "ua" {
		t.Fatalf("stored %+v", got)
	}
}

// TestRecorderValidUTF8: invalid UTF-8 a client sent (User-Agent, an email as typed)
// reaches the store as U+FFFD, so a server that refuses such strings cannot refuse the
// batch; the caller's Details map is left as it was.
func TestRecorderValidUTF8(t *testing.T) {
	s := &sink{}
	r := NewRecorder(s, RecorderConfig{Queue: 4, Batch: 4, Timeout: 5 * time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	details := map[string]any{"email": "a\xffb@x.io", "n": 1}
	r.Record(WithRequest(context.Background(), Request{UserAgent: "curl\xc3", IP: "192.0.2.1"}), Event{Type: "login.failure", Details: details})
	cancel()
	<-done
	got := s.events()
	if len(got) != 1 || got[0].UserAgent != "curl\uFFFD" || got[0].Details["email"] != "a\uFFFDb@x.io" || got[0].Details["n"] != 1 {
		t.Fatalf("stored %+v", got)
	}
	if details["email"] != "a\xffb@x.io" {
		t.Error("the caller's Details were changed")
	}
}
