package users_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/authgate/authgate/authsvc/internal/users"
	"github.com/authgate/authgate/authsvc/storetest"
)

func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }

// TestStore runs against the real MongoDB (or embedded FerretDB): unique normalised
// email, lookups, hash update, driver errors translated to the package's sentinels.
func TestStore(t *testing.T) {
	ctx := context.Background()
	st := users.New(storetest.MongoDatabase(t), 5*time.Second)
	if err := st.EnsureIndexes(ctx); err != nil {
		t.Fatal(err)
	}
	u := users.User{Name: "Alice", Email: "  Alice@Example.COM ", Password: "$argon2id$x", Role: "user"}
	if err := st.Create(ctx, &u); err != nil {
		t.Fatal(err)
	}
	if u.ID.IsZero() || u.Email != "alice@example.com" || u.CreatedAt.IsZero() || !u.UpdatedAt.Equal(u.CreatedAt) {
		t.Fatalf("created %+v", u)
	}
	dup := users.User{Name: "Other", Email: "ALICE@example.com"}
	if err := st.Create(ctx, &dup); !errors.Is(err, users.ErrDuplicateEmail) {
		t.Fatalf("duplicate: %v, want ErrDuplicateEmail", err)
	}
	got, err := st.ByEmail(ctx, "alice@EXAMPLE.com ")
	if err != nil || got.ID != u.ID || got.Password != "$argon2id$x" {
		t.Fatalf("ByEmail: %+v %v", got, err)
	}
	if got, err := st.ByID(ctx, u.ID.Hex()); err != nil || got.Email != u.Email {
		t.Fatalf("ByID: %+v %v", got, err)
	}
	// Upper case names the document for bson but not its sessions (keys hold the lower-
	// case form): only the canonical form is an id.
	for _, id := range []string{"nothex", bson.NewObjectID().Hex(), "", strings.ToUpper(u.ID.Hex())} {
		if _, err := st.ByID(ctx, id); !errors.Is(err, users.ErrNotFound) {
			t.Errorf("ByID(%q): %v, want ErrNotFound", id, err)
		}
	}
	if _, err := st.ByEmail(ctx, "nobody@example.com"); !errors.Is(err, users.ErrNotFound) {
		t.Errorf("ByEmail unknown: %v", err)
	}
	if err := st.SetPasswordHash(ctx, u.ID, "$argon2id$y"); err != nil {
		t.Fatal(err)
	}
	if got, _ := st.ByID(ctx, u.ID.Hex()); got.Password != "$argon2id$y" || got.UpdatedAt.Before(got.CreatedAt) {
		t.Fatalf("after SetPasswordHash: %+v", got)
	}
	if err := st.SetPasswordHash(ctx, bson.NewObjectID(), "h"); !errors.Is(err, users.ErrNotFound) {
		t.Errorf("SetPasswordHash unknown: %v", err)
	}
}

// TestUnavailable: a MongoDB that does not answer is ErrUnavailable, never ErrNotFound.
func TestUnavailable(t *testing.T) {
	client, err := mongo.Connect(options.Client().ApplyURI("mongodb://127.0.0.1:1/").
		SetServerSelectionTimeout(200 * time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = client.Disconnect(context.Background()) }()
	st := users.New(client.Database("x"), time.Second)
	if _, err := st.ByEmail(context.Background(), "a@b.co"); !errors.Is(err, users.ErrUnavailable) {
		t.Fatalf("ByEmail: %v, want ErrUnavailable", err)
	}
	u := users.User{Email: "a@b.co"}
	if err := st.Create(context.Background(), &u); !errors.Is(err, users.ErrUnavailable) {
		t.Fatalf("Create: %v, want ErrUnavailable", err)
	}
	if err := st.Ping(context.Background()); !errors.Is(err, users.ErrUnavailable) {
		t.Fatalf("Ping: %v", err)
	}
}

// TestCodeIndexesTwice: the code indexes are created once and a second start (they
// exist) is fine, on MongoDB and FerretDB alike.
func TestCodeIndexesTwice(t *testing.T) {
	ctx := context.Background()
	st := users.New(storetest.MongoDatabase(t), 5*time.Second)
	for range 2 {
		if err := st.EnsureIndexes(ctx); err != nil {
			t.Fatal(err)
		}
		if err := st.EnsureCodeIndexes(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSeedNullCodeFields: the seed stored verificationCode, passwordResetToken and
// passwordResetAt as null when none was outstanding; such documents still decode.
func TestSeedNullCodeFields(t *testing.T) {
	ctx := context.Background()
	db := storetest.MongoDatabase(t)
	_, err := db.Collection(users.Collection).InsertOne(ctx, bson.M{"email": "seed@example.com", "name": "Seed", "verified": true,
		"verificationCode": nil, "passwordResetToken": nil, "passwordResetAt": nil})
	if err != nil {
		t.Fatal(err)
	}
	u, err := users.New(db, 5*time.Second).ByEmail(ctx, "seed@example.com")
	if err != nil || !u.Verified || u.VerificationCode != "" || u.PasswordResetToken != "" || !u.PasswordResetAt.IsZero() {
		t.Fatalf("seed document: %+v, %v", u, err)
	}
}
