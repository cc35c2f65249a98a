package app

import (
	"bufio"
	"io"
	"sync"
	"time"
)

// logFlushDelay bounds how long a log line may wait in memory.
const logFlushDelay = 50 * time.Millisecond

// bufferedLogs batches log lines into few writes: an access-log line per request would
// otherwise cost a system call per request on the hot path. A line waits at most
// logFlushDelay (a timer armed by the first line into an empty buffer, no goroutine of
// its own), and Flush writes everything (the commands call it before they return).
// slog handlers write one whole line per Write, so lines never interleave.
type bufferedLogs struct {
	mu    sync.Mutex
	w     *bufio.Writer
	timer *time.Timer
}

func newBufferedLogs(w io.Writer) *bufferedLogs {
	return &bufferedLogs{w: bufio.NewWriterSize(w, 64<<10)}
}

func (b *bufferedLogs) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.w.Buffered() == 0 {
		if b.timer == nil {
			b.timer = time.AfterFunc(logFlushDelay, func() { _ = b.Flush() })
		} else {
			b.timer.Reset(logFlushDelay)
		}
	}
	return b.w.Write(p)
}

// Flush writes out every buffered line.
func (b *bufferedLogs) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.w.Flush()
}
