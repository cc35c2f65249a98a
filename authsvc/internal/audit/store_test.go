package audit

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/authgate/authgate/authsvc/storetest"
)

func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }

// TestStoreRetention on the test server (FerretDB unless MONGODB_URI says otherwise):
// pages newest first with filters, expired events are never read and the cleanup
// deletes them, with or without a TTL index.
func TestStoreRetention(t *testing.T) {
	for _, tc := range []struct {
		name string
		ttl  func(real func(context.Context) error) func(context.Context) error
	}{
		// FerretDB answers (NotImplemented) Index option "expireAfterSeconds" is not
		// implemented yet; a MongoDB behind MONGODB_URI creates the index.
		{"as the test server answers", func(real func(context.Context) error) func(context.Context) error { return real }},
		{"TTL index accepted", func(func(context.Context) error) func(context.Context) error {
			return func(context.Context) error { return nil }
		}},
		{"TTL index refused", func(func(context.Context) error) func(context.Context) error {
			return func(context.Context) error { return errors.New("(CommandNotFound) no TTL indexes here") }
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			var logs bytes.Buffer
			db := storetest.MongoDatabase(t)
			st := NewStore(db, 5*time.Second, time.Hour, slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
			create := tc.ttl(st.createTTL)
			var ttlErr error
			st.createTTL = func(ctx context.Context) error { ttlErr = create(ctx); return ttlErr }
			for range 2 { // a restart, or a second replica, finds the indexes made
				if err := st.EnsureIndexes(ctx); err != nil {
					t.Fatalf("EnsureIndexes = %v", err)
				}
			}
			t.Logf("TTL index: %v", ttlErr)
			if (ttlErr != nil) != strings.Contains(logs.String(), `"level":"DEBUG","msg":"audit: no TTL index`) {
				t.Fatalf("TTL index error %v, log %q", ttlErr, logs.String())
			}
			now := time.Now().UTC().Truncate(time.Millisecond)
			var events []Event
			for i := range 5 {
				typ, user := "a.one", "u1"
				if i%2 == 1 {
					typ, user = "b.two", "u2"
				}
				events = append(events, Event{Time: now.Add(time.Duration(i) * time.Second), Type: typ, UserID: user,
					ActorID: "admin", Details: map[string]any{"i": i}})
			}
			old := Event{Time: now.Add(-2 * time.Hour), Type: "a.one", UserID: "u1"} // expired an hour ago
			if err := st.Insert(ctx, append([]Event{old}, events...)); err != nil {
				t.Fatal(err)
			}
			p, err := st.Find(ctx, Query{Page: 1, Limit: 2}, now)
			if err != nil || p.Total != 5 || len(p.Events) != 2 || p.Events[0].Details["i"] != int32(4) || p.Events[1].Details["i"] != int32(3) {
				t.Fatalf("page 1 = %+v, %v", p, err)
			}
			p, err = st.Find(ctx, Query{Page: 3, Limit: 2}, now)
			if err != nil || len(p.Events) != 1 || p.Events[0].Details["i"] != int32(0) || !p.Events[0].Time.Equal(now) {
				t.Fatalf("page 3 = %+v, %v", p, err)
			}
			p, err = st.Find(ctx, Query{Page: 1, Limit: 10, Type: "b.two"}, now)
			if err != nil || p.Total != 2 || p.Events[0].Type != "b.two" {
				t.Fatalf("type filter = %+v, %v", p, err)
			}
			p, err = st.Find(ctx, Query{Page: 1, Limit: 10, UserID: "u1"}, now)
			if err != nil || p.Total != 3 {
				t.Fatalf("user filter = %+v, %v", p, err)
			}
			p, err = st.Find(ctx, Query{Page: 1, Limit: 10, UserID: "admin"}, now) // as the actor
			if err != nil || p.Total != 5 {
				t.Fatalf("actor filter = %+v, %v", p, err)
			}
			n, err := st.DeleteExpired(ctx, now)
			if err != nil || n != 1 {
				t.Fatalf("DeleteExpired = %d, %v", n, err)
			}
			if c, _ := db.Collection(Collection).CountDocuments(ctx, bson.D{}); c != 5 {
				t.Fatalf("%d documents left, want 5", c)
			}
			// An hour and a bit later every event has expired: none is read, all are deleted.
			later := now.Add(time.Hour + 10*time.Second)
			if p, err := st.Find(ctx, Query{Page: 1, Limit: 10}, later); err != nil || p.Total != 0 || len(p.Events) != 0 {
				t.Fatalf("after expiry = %+v, %v", p, err)
			}
			if n, err := st.DeleteExpired(ctx, later); err != nil || n != 5 {
				t.Fatalf("DeleteExpired later = %d, %v", n, err)
			}
		})
	}
}
