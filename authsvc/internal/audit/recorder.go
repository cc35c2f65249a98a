package audit

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// Sink stores batches of events (the MongoDB Store; tests use their own).
type Sink interface {
	// Insert stores events, in order, giving up when ctx ends.
	Insert(ctx context.Context, events []Event) error
}

// RecorderConfig configures a Recorder. Queue and Timeout are required.
type RecorderConfig struct {
	Queue   int           // events waiting to be written at most; more are dropped
	Batch   int           // events per write at most (0: 100)
	Timeout time.Duration // per write, and for the final flush
	Clock   func() time.Time
	Logger  *slog.Logger
}

// Recorder logs events and hands them to a Sink in the background. It is safe for
// concurrent use; Record never blocks.
type Recorder struct {
	cfg     RecorderConfig
	sink    Sink
	log     *slog.Logger
	queue   chan Event
	dropped atomic.Uint64
	// lastDropLog is when a drop was last logged (unix ns): drops are logged at most
	// once per dropLogEvery, with the running total.
	lastDropLog atomic.Int64
	mu          sync.RWMutex // held for reading by Record's send, for writing by Run's close
	closed      bool
}

// dropLogEvery bounds how often drops are logged.
const dropLogEvery = 10 * time.Second

// NewRecorder returns a recorder writing to sink once Run runs.
func NewRecorder(sink Sink, cfg RecorderConfig) *Recorder {
	if cfg.Batch <= 0 {
		cfg.Batch = 100
	}
	if cfg.Queue <= 0 {
		cfg.Queue = 1
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Recorder{cfg: cfg, sink: sink, log: cfg.Logger, queue: make(chan Event, cfg.Queue)}
}

// Record logs e as one structured line ("audit") and queues it for the store. Fields
// left empty are filled from the clock and from the request ctx describes
// (WithRequest). When the queue is full, or the recorder has stopped, the event is
// dropped and counted (Dropped); the log line is written either way.
func (r *Recorder) Record(ctx context.Context, e Event) {
	if e.Time.IsZero() {
		e.Time = r.cfg.Clock()
	}
	e.Time = e.Time.UTC().Truncate(time.Millisecond)
	req := RequestOf(ctx)
	if e.ActorID == "" {
		e.ActorID = req.ActorID
	}
	if e.IP == "" {
		e.IP = req.IP
	}
	if e.UserAgent == "" {
		e.UserAgent = req.UserAgent
	}
	e = validUTF8(e)
	r.logEvent(ctx, e)
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.closed {
		r.drop(ctx, 1, "audit recorder stopped")
		return
	}
	select {
	case r.queue <- e:
	default:
		r.drop(ctx, 1, "audit queue full")
	}
}

// validUTF8 replaces invalid UTF-8 in e's strings (a client's User-Agent, an email as
// typed) with U+FFFD: a server that refuses such a string would otherwise refuse the
// whole batch the event is written in.
func validUTF8(e Event) Event {
	fix := func(s string) string {
		if utf8.ValidString(s) {
			return s
		}
		return strings.ToValidUTF8(s, "\uFFFD")
	}
	e.Type, e.ActorID, e.UserID, e.SessionID, e.IP, e.UserAgent =
		fix(e.Type), fix(e.ActorID), fix(e.UserID), fix(e.SessionID), fix(e.IP), fix(e.UserAgent)
	for _, v := range e.Details {
		if str, ok := v.(string); ok && !utf8.ValidString(str) {
			d := make(map[string]any, len(e.Details)) // the caller's map is not ours to change
			for k, v := range e.Details {
				if str, ok := v.(string); ok {
					v = fix(str)
				}
				d[k] = v
			}
			e.Details = d
			break
		}
	}
	return e
}

func (r *Recorder) logEvent(ctx context.Context, e Event) {
	attrs := []slog.Attr{slog.String("type", e.Type)}
	for _, kv := range [...]struct{ k, v string }{
		{"actor_id", e.ActorID}, {"user_id", e.UserID}, {"session_id", e.SessionID}, {"ip", e.IP}, {"user_agent", e.UserAgent},
	} {
		if kv.v != "" {
			attrs = append(attrs, slog.String(kv.k, kv.v))
		}
	}
	if len(e.Details) > 0 {
		attrs = append(attrs, slog.Any("details", e.Details))
	}
	r.log.LogAttrs(ctx, slog.LevelInfo, "audit", attrs...)
}

// drop counts n lost events and logs the running total, at most once per dropLogEvery.
func (r *Recorder) drop(ctx context.Context, n uint64, why string) {
	total := r.dropped.Add(n)
	now := time.Now().UnixNano()
	last := r.lastDropLog.Load()
	if now-last < int64(dropLogEvery) && last != 0 {
		return
	}
	if r.lastDropLog.CompareAndSwap(last, now) {
		r.log.WarnContext(ctx, "audit events dropped", "reason", why, "dropped", n, "dropped_total", total)
	}
}

// Dropped reports how many events were lost so far (queue full, write failed, or
// recorded after the recorder stopped).
func (r *Recorder) Dropped() uint64 { return r.dropped.Load() }

// Run writes queued events in batches until ctx ends, then writes what is still queued
// (within the Timeout) and returns; events recorded after that are dropped. A write
// that fails drops its batch (counted and logged): the store's outage must not grow
// the queue without bound or stall the writer.
func (r *Recorder) Run(ctx context.Context) {
	batch := make([]Event, 0, r.cfg.Batch)
	for {
		select {
		case <-ctx.Done():
			r.mu.Lock()
			r.closed = true
			r.mu.Unlock()
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.Timeout)
			defer cancel()
			for {
				batch = r.fill(batch[:0])
				if len(batch) == 0 {
					return
				}
				r.write(fctx, batch)
			}
		case e := <-r.queue:
			batch = r.fill(append(batch[:0], e))
			wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.Timeout)
			r.write(wctx, batch)
			cancel()
		}
	}
}

// fill appends queued events to batch without waiting, up to the batch size.
func (r *Recorder) fill(batch []Event) []Event {
	for len(batch) < r.cfg.Batch {
		select {
		case e := <-r.queue:
			batch = append(batch, e)
		default:
			return batch
		}
	}
	return batch
}

func (r *Recorder) write(ctx context.Context, batch []Event) {
	if err := r.sink.Insert(ctx, batch); err != nil {
		r.log.WarnContext(ctx, "audit events not written", "events", len(batch), "error", err)
		r.drop(ctx, uint64(len(batch)), "write failed")
	}
}
