// Package embedded runs the development stand-ins for MongoDB (FerretDB with SQLite files)
// and Redis (miniredis) inside the gateway process, so `make run` needs only Go. Both are
// single-node; the caller warns about it.
package embedded

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

// Mongo is a running embedded FerretDB.
type Mongo struct {
	uri    string
	cancel context.CancelFunc
	done   chan struct{}
}

// StartMongo starts FerretDB on listen (host:port on loopback) with its SQLite files in
// dir, and returns once it accepts connections. Errors: the address is taken, the
// directory cannot be created, or it does not come up within 10 s.
func StartMongo(ctx context.Context, dir, listen string, log *slog.Logger) (*Mongo, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("embedded mongodb: %w", err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("embedded mongodb: %w", err)
	}
	// FerretDB logs every connection at INFO and unsupported commands (endSessions) at WARN; keep only its errors.
	quiet := slog.New(&levelFilter{Handler: log.Handler(), min: slog.LevelError})
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: listen},
		Logger:    quiet,
		Handler:   "sqlite",
		SQLiteURL: "file:" + abs + "/",
	})
	if err != nil {
		return nil, fmt.Errorf("embedded mongodb: %w", err)
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	m := &Mongo{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(m.done)
		_ = f.Run(runCtx) // always nil; it returns when runCtx ends
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case <-m.done:
			cancel()
			return nil, fmt.Errorf("embedded mongodb: listener on %s stopped (address in use?)", listen)
		default:
		}
		m.uri = f.MongoDBURI()
		conn, err := net.DialTimeout("tcp", hostOf(m.uri), 200*time.Millisecond)
		if err == nil {
			_ = conn.Close()
			return m, nil
		}
		if time.Now().After(deadline) {
			m.Stop()
			return nil, errors.New("embedded mongodb: not listening after 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// URI is the mongodb:// address clients (the gateway, upstream-demo) connect to.
func (m *Mongo) URI() string { return m.uri }

// Stop shuts FerretDB down; clients should disconnect first, or Stop waits for them
// (FerretDB drains connections for a few seconds).
func (m *Mongo) Stop() {
	m.cancel()
	<-m.done
}

func hostOf(uri string) string {
	const scheme = "mongodb://"
	h := uri[len(scheme):]
	for i := 0; i < len(h); i++ {
		if h[i] == '/' {
			return h[:i]
		}
	}
	return h
}

// levelFilter drops records below min.
type levelFilter struct {
	slog.Handler
	min slog.Level
}

func (l *levelFilter) Enabled(ctx context.Context, lv slog.Level) bool {
	return lv >= l.min && l.Handler.Enabled(ctx, lv)
}

func (l *levelFilter) WithAttrs(a []slog.Attr) slog.Handler {
	return &levelFilter{Handler: l.Handler.WithAttrs(a), min: l.min}
}

func (l *levelFilter) WithGroup(n string) slog.Handler {
	return &levelFilter{Handler: l.Handler.WithGroup(n), min: l.min}
}
