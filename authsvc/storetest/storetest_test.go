package storetest_test

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/authgate/authgate/authsvc/storetest"
)

func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }

func TestRedisURLIsStable(t *testing.T) {
	first := storetest.RedisURL(t)
	if first == "" {
		t.Fatal("RedisURL returned an empty URL")
	}
	if again := storetest.RedisURL(t); again != first {
		t.Fatalf("RedisURL changed within one binary: %q then %q", first, again)
	}
}

func TestRedisPrefixIsolation(t *testing.T) {
	ctx := t.Context()
	// observer outlives the subtests, so it can see what their cleanups left behind.
	observer, other := storetest.Redis(t)
	if err := observer.Set(ctx, other+"keep", "x", time.Minute).Err(); err != nil {
		t.Fatalf("set: %v", err)
	}

	tests := []struct {
		name string
		keys []string
	}{
		{name: "one key", keys: []string{"a"}},
		{name: "keys of every type", keys: []string{"str", "hash", "zset"}},
		{name: "more keys than one SCAN batch", keys: numbered(1200)},
	}
	for _, tc := range tests {
		var prefix string
		t.Run(tc.name, func(t *testing.T) {
			rdb, p := storetest.Redis(t)
			prefix = p
			if !strings.HasPrefix(p, "t:") || !strings.HasSuffix(p, ":") || p == other {
				t.Fatalf("prefix %q: want a unique t:<random>: prefix (other %q)", p, other)
			}
			if err := rdb.Ping(ctx).Err(); err != nil {
				t.Fatalf("ping: %v", err)
			}
			if err := writeKeys(ctx, rdb, p, tc.keys); err != nil {
				t.Fatalf("write keys: %v", err)
			}
			if n := countKeys(ctx, t, rdb, p); n != len(tc.keys) {
				t.Fatalf("%d keys under %q, want %d", n, p, len(tc.keys))
			}
		})
		if n := countKeys(ctx, t, observer, prefix); n != 0 {
			t.Errorf("%s: %d keys under %q survived cleanup", tc.name, n, prefix)
		}
		if n := countKeys(ctx, t, observer, other); n != 1 {
			t.Errorf("%s: cleanup touched another test's prefix: %d keys under %q, want 1", tc.name, n, other)
		}
	}
}

func TestMongo(t *testing.T) {
	ctx := t.Context()
	db := storetest.MongoDatabase(t)
	if !strings.HasPrefix(db.Name(), "t_") {
		t.Fatalf("database name %q: want t_<random>", db.Name())
	}
	if other := storetest.MongoDatabase(t); other.Name() == db.Name() {
		t.Fatalf("two tests share database %q", db.Name())
	}
	users := db.Collection("users")
	_, err := users.Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys:    bson.D{{Key: "email", Value: 1}},
		Options: options.Index().SetUnique(true),
	})
	if err != nil {
		t.Fatalf("create unique index: %v", err)
	}

	tests := []struct {
		name    string
		email   string
		wantDup bool
	}{
		{name: "first insert", email: "a@example.com"},
		{name: "second email", email: "b@example.com"},
		{name: "duplicate email", email: "a@example.com", wantDup: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := users.InsertOne(ctx, bson.D{{Key: "email", Value: tc.email}})
			if got := mongo.IsDuplicateKeyError(err); got != tc.wantDup {
				t.Fatalf("insert %s: err %v, duplicate %v, want duplicate %v", tc.email, err, got, tc.wantDup)
			}
			if !tc.wantDup && err != nil {
				t.Fatalf("insert %s: %v", tc.email, err)
			}
		})
	}

	var got struct {
		Email string `bson:"email"`
	}
	err = users.FindOne(ctx, bson.D{{Key: "email", Value: "b@example.com"}}).Decode(&got)
	if err != nil || got.Email != "b@example.com" {
		t.Fatalf("find b@example.com: %+v, %v", got, err)
	}
	err = users.FindOne(ctx, bson.D{{Key: "email", Value: "nobody@example.com"}}).Err()
	if !errors.Is(err, mongo.ErrNoDocuments) {
		t.Fatalf("find a missing document: %v, want mongo.ErrNoDocuments", err)
	}
}

func numbered(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = "k" + strconv.Itoa(i)
	}
	return keys
}

// writeKeys writes each key under prefix; the type of the value rotates between
// string, hash and sorted set so that cleanup is shown to delete every type.
func writeKeys(ctx context.Context, rdb redis.UniversalClient, prefix string, keys []string) error {
	_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			switch i % 3 {
			case 0:
				p.Set(ctx, prefix+k, "v", 0)
			case 1:
				p.HSet(ctx, prefix+k, "f", "v")
			default:
				p.ZAdd(ctx, prefix+k, redis.Z{Score: 1, Member: "m"})
			}
		}
		return nil
	})
	return err
}

func countKeys(ctx context.Context, t *testing.T, rdb redis.UniversalClient, prefix string) int {
	t.Helper()
	n := 0
	it := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	for it.Next(ctx) {
		n++
	}
	if err := it.Err(); err != nil {
		t.Fatalf("scan %s*: %v", prefix, err)
	}
	return n
}
