// Package embedded runs the development stand-ins for MongoDB (FerretDB with SQLite files)
// and Redis (miniredis) inside the gateway process, so `make run` needs only Go. Both are
// single-node; the caller warns about it.
package embedded

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/FerretDB/FerretDB/ferretdb"
)

// Mongo is a running embedded FerretDB.
type Mongo struct {
	uri    string
	cancel context.CancelFunc
	done   chan struct{}
}

// StartMongo starts FerretDB on listen (host:port on loopback) with its SQLite files in
// dir; it accepts connections when StartMongo returns (ferretdb.New binds the listener).
// Errors: the directory cannot be created, the address is taken.
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
		return nil, fmt.Errorf("embedded mongodb on %s: %w", listen, err)
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	m := &Mongo{uri: f.MongoDBURI(), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(m.done)
		_ = f.Run(runCtx) // always nil; returns when runCtx ends
	}()
	return m, nil
}

// URI is the mongodb:// address clients (the gateway, upstream-demo) connect to.
func (m *Mongo) URI() string { return m.uri }

// Stop shuts FerretDB down; clients should disconnect first, or Stop waits for them
// (FerretDB cuts remaining connections 3 s after the stop).
func (m *Mongo) Stop() {
	m.cancel()
	<-m.done
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
