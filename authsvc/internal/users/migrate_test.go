package users_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/authgate/authgate/authsvc/internal/users"
	"github.com/authgate/authgate/authsvc/storetest"
)

// seed writes users the way the seed backend did: emails as typed, bcrypt hashes.
func seed(t *testing.T, db *mongo.Database, docs ...bson.M) []bson.ObjectID {
	t.Helper()
	var ids []bson.ObjectID
	for _, d := range docs {
		id := bson.NewObjectID()
		d["_id"] = id
		if _, err := db.Collection(users.Collection).InsertOne(t.Context(), d); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

// TestLoadMeta: a new install is recorded as having nothing from the seed; a users
// collection found without bookkeeping is a seed database (padding stays on until a
// migration says otherwise). Either way start-up reads at most two documents.
func TestLoadMeta(t *testing.T) {
	ctx := t.Context()
	fresh := users.New(storetest.MongoDatabase(t), 5*time.Second)
	m, err := fresh.LoadMeta(ctx)
	if err != nil || m.Legacy {
		t.Fatalf("fresh database: %+v, %v; want not legacy", m, err)
	}
	db := storetest.MongoDatabase(t)
	seed(t, db, bson.M{"email": "A@x.io", "password": "$2a$12$abcdefghijklmnopqrstuuvwxyzabcdefghijklmnopqrstuvwxyz1"})
	seeded := users.New(db, 5*time.Second)
	m, err = seeded.LoadMeta(ctx)
	if err != nil || !m.Legacy || m.BcryptCost != 12 {
		t.Fatalf("seed database: %+v, %v; want legacy, cost 12", m, err)
	}
	// The decision is recorded: it does not change because users come and go.
	if _, err := db.Collection(users.Collection).DeleteMany(ctx, bson.D{}); err != nil {
		t.Fatal(err)
	}
	if m, _ := seeded.LoadMeta(ctx); !m.Legacy {
		t.Fatal("bookkeeping not kept")
	}
}

// TestMigrate: emails are normalised in batches (a case-only duplicate is left alone and
// reported), bcrypt hashes are counted, and the result clears or keeps the legacy flag.
// An interrupted run resumes after the last batch it saved.
func TestMigrate(t *testing.T) {
	ctx := t.Context()
	db := storetest.MongoDatabase(t)
	st := users.New(db, 5*time.Second)
	if err := st.EnsureIndexes(ctx); err != nil {
		t.Fatal(err)
	}
	const bcrypt12 = "$2a$12$abcdefghijklmnopqrstuuvwxyzabcdefghijklmnopqrstuvwxyz1"
	ids := seed(t, db,
		bson.M{"email": "Legacy@Example.com", "password": bcrypt12},
		bson.M{"email": "Dup@Example.com", "password": "$argon2id$x"},
		bson.M{"email": "dup@example.com", "password": "$argon2id$x"},
		bson.M{"email": " spaced@example.com ", "password": "$2b$10$abcdefghijklmnopqrstuuvwxyzabcdefghijklmnopqrstuvwxyz1"},
		bson.M{"email": "plain@example.com", "password": "$argon2id$x"},
	)
	// A run cut short after the first batch of two (its context ends mid-way).
	cctx, cancel := context.WithCancel(ctx)
	interrupted := &cancelAfter{Store: st, n: 1, cancel: cancel}
	if _, err := interrupted.migrate(cctx); err == nil {
		t.Fatal("interrupted migration reported success")
	}
	m, err := st.LoadMeta(ctx)
	if err != nil || m.ResumeAfter == nil || *m.ResumeAfter != ids[1] || !m.Legacy {
		t.Fatalf("after interruption: %+v, %v; want resume after %s", m, err, ids[1].Hex())
	}

	rep, err := st.Migrate(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Resumed || rep.Scanned != 5 || rep.Normalised != 2 || rep.Bcrypt != 2 || rep.BcryptCost != 12 ||
		!slices.Equal(rep.Conflicts, []string{ids[1].Hex()}) {
		t.Fatalf("report %+v", rep)
	}
	for _, email := range []string{"legacy@example.com", "spaced@example.com", "Dup@Example.com", "dup@example.com"} {
		if _, err := st.ByEmail(ctx, email); errors.Is(err, users.ErrNotFound) && email != "Dup@Example.com" {
			t.Errorf("%s not found after migration", email)
		}
	}
	if n, _ := db.Collection(users.Collection).CountDocuments(ctx, bson.M{"email": "Dup@Example.com"}); n != 1 {
		t.Errorf("the case-only duplicate was changed")
	}
	if m, _ := st.LoadMeta(ctx); !m.Legacy || m.ResumeAfter != nil || m.MigratedAt.IsZero() {
		t.Fatalf("bcrypt remains: meta %+v, want legacy, finished", m)
	}

	// Once no bcrypt hash is left, a new migration clears the flag.
	if _, err := db.Collection(users.Collection).UpdateMany(ctx, bson.M{"password": bson.M{"$regex": `^\$2`}},
		bson.M{"$set": bson.M{"password": "$argon2id$x"}}); err != nil {
		t.Fatal(err)
	}
	rep, err = st.Migrate(ctx, 100)
	if err != nil || rep.Resumed || rep.Bcrypt != 0 || rep.Normalised != 0 || rep.Scanned != 5 {
		t.Fatalf("second migration %+v, %v", rep, err)
	}
	if m, _ := st.LoadMeta(ctx); m.Legacy {
		t.Fatalf("no bcrypt left: meta %+v still legacy", m)
	}
}

// cancelAfter runs Migrate with batch size 2 and cancels its context once n batches
// were saved, as a process killed between batches would stop.
type cancelAfter struct {
	*users.Store
	n      int
	cancel context.CancelFunc
}

func (c *cancelAfter) migrate(ctx context.Context) (users.MigrationReport, error) {
	users.AfterBatch(c.Store, func() {
		c.n--
		if c.n == 0 {
			c.cancel()
		}
	})
	defer users.AfterBatch(c.Store, nil)
	return c.Migrate(ctx, 2)
}

func TestSetRole(t *testing.T) {
	ctx := t.Context()
	st := users.New(storetest.MongoDatabase(t), 5*time.Second)
	u := users.User{Name: "A", Email: "a@x.io", Role: "user"}
	if err := st.Create(ctx, &u); err != nil {
		t.Fatal(err)
	}
	if err := st.SetRole(ctx, u.ID.Hex(), "admin"); err != nil {
		t.Fatal(err)
	}
	if got, _ := st.ByID(ctx, u.ID.Hex()); got.Role != "admin" {
		t.Fatalf("role %q", got.Role)
	}
	for _, id := range []string{"x", bson.NewObjectID().Hex()} {
		if err := st.SetRole(ctx, id, "admin"); !errors.Is(err, users.ErrNotFound) {
			t.Errorf("SetRole(%q) = %v, want ErrNotFound", id, err)
		}
	}
}
