package storetest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"
)

// MongoURI returns MONGODB_URI when it is set. Otherwise it starts, once per test
// binary, an embedded FerretDB v1 in this process (SQLite handler, files in a temporary
// directory, listening on a free loopback port, logging only warnings and errors) and
// returns its URI. The first call logs which server the tests use. It fails the test
// when FerretDB cannot be started. FerretDB is stopped by [Main], so the package's
// TestMain must call it.
func MongoURI(tb testing.TB) string {
	tb.Helper()
	r := &servers
	r.mongoOnce.Do(func() { r.mongoURI, r.mongoDesc, r.mongoErr = r.startMongo() })
	if r.mongoErr != nil {
		tb.Fatalf("storetest: mongodb: %v", r.mongoErr)
	}
	r.mongoLogged.Do(func() { tb.Logf("storetest: mongodb: %s", r.mongoDesc) })
	return r.mongoURI
}

// MongoDatabase returns a connected database with a name unique to this test
// ("t_<random>"). At cleanup the database is dropped and the client disconnected
// (which also lets the embedded FerretDB stop at the end of the binary). It fails the
// test when the server does not answer a ping.
func MongoDatabase(tb testing.TB) *mongo.Database {
	tb.Helper()
	uri := MongoURI(tb)
	client, err := mongo.Connect(options.Client().ApplyURI(uri).
		SetAppName("authgate-storetest").
		SetServerSelectionTimeout(10 * time.Second))
	if err != nil {
		tb.Fatalf("storetest: connect %s: %v", redact(uri), err)
	}
	db := client.Database("t_" + strings.ToLower(rand.Text()))

	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
		defer cancel()
		if err := db.Drop(ctx); err != nil {
			tb.Errorf("storetest: drop database %s: %v", db.Name(), err)
		}
		if err := client.Disconnect(ctx); err != nil {
			tb.Errorf("storetest: disconnect: %v", err)
		}
	})

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := client.Ping(ctx, readpref.Primary()); err != nil {
		tb.Fatalf("storetest: mongodb ping %s: %v", redact(uri), err)
	}
	return db
}

// startMongo picks the MongoDB server for this binary; it returns its URI and a line
// describing it.
func (r *registry) startMongo() (string, string, error) {
	if u := os.Getenv(envMongoDBURI); u != "" {
		return u, "using MONGODB_URI " + redact(u), nil
	}
	f, err := startFerret()
	if err != nil {
		return "", "", err
	}
	if err := r.track(func(r *registry) { r.ferret = f; r.dirs = append(r.dirs, f.dir) }); err != nil {
		return "", "", errors.Join(err, f.stop(stopTimeout), os.RemoveAll(f.dir))
	}
	return f.uri, "started embedded FerretDB (sqlite in " + f.dir + ") at " + f.uri, nil
}

// ferretServer is an embedded FerretDB running in this process.
type ferretServer struct {
	uri    string
	dir    string
	cancel context.CancelFunc
	done   chan struct{} // closed when Run has returned
}

// startFerret starts FerretDB and waits until its port accepts connections.
func startFerret() (*ferretServer, error) {
	dir, err := os.MkdirTemp("", "storetest-ferretdb-")
	if err != nil {
		return nil, fmt.Errorf("ferretdb temp dir: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	fdb, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: "127.0.0.1:0"},
		Handler:   "sqlite",
		SQLiteURL: "file:" + dir + "/",
		Logger:    logger,
	})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("start ferretdb: %w", err), os.RemoveAll(dir))
	}

	ctx, cancel := context.WithCancel(context.Background())
	f := &ferretServer{dir: dir, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(f.done)
		_ = fdb.Run(ctx) // always nil; it returns when ctx is cancelled
	}()

	// MongoDBURI needs the listener that Run serves; it is only dialled after that.
	f.uri = fdb.MongoDBURI()
	host, err := hostOf(f.uri)
	if err == nil {
		err = waitUntil(startTimeout, func(ctx context.Context) (bool, error) {
			select {
			case <-f.done:
				return false, errors.New("ferretdb stopped while starting")
			default:
			}
			var d net.Dialer
			conn, err := d.DialContext(ctx, "tcp", host)
			if err != nil {
				return false, nil // not listening yet: poll again
			}
			return true, conn.Close()
		})
	}
	if err != nil {
		return nil, errors.Join(fmt.Errorf("start ferretdb: %w", err), f.stop(stopTimeout), os.RemoveAll(dir))
	}
	return f, nil
}

// stop cancels Run and waits for it to return. Run waits for open client connections,
// so every client must have disconnected (MongoDatabase does at cleanup).
func (f *ferretServer) stop(timeout time.Duration) error {
	f.cancel()
	select {
	case <-f.done:
		return nil
	case <-time.After(timeout):
		return fmt.Errorf("ferretdb did not stop within %s: a mongo client was not disconnected", timeout)
	}
}

// hostOf returns the host:port of a mongodb:// URI.
func hostOf(uri string) (string, error) {
	u, err := url.Parse(uri)
	if err != nil {
		return "", fmt.Errorf("ferretdb uri %q: %w", uri, err)
	}
	return u.Host, nil
}
