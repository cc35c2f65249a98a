package users_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/authgate/authgate/authsvc/internal/users"
	"github.com/authgate/authgate/authsvc/storetest"
)

// TestAdminStore: a seed document (no "disabled") decodes as enabled and counts as an
// admin; List searches literally and case-insensitively with a total; UpdateIf changes
// nothing once a field no longer holds the expected value.
func TestAdminStore(t *testing.T) {
	ctx := context.Background()
	db := storetest.MongoDatabase(t)
	st := users.New(db, 5*time.Second)
	seed := bson.NewObjectID()
	if _, err := db.Collection(users.Collection).InsertOne(ctx, bson.D{
		{Key: "_id", Value: seed}, {Key: "name", Value: "Seed [admin]"}, {Key: "email", Value: "seed@example.com"},
		{Key: "password", Value: "$2a$12$x"}, {Key: "role", Value: "admin"}, {Key: "photo", Value: "default.png"},
		{Key: "verified", Value: true}, {Key: "provider", Value: "local"},
	}); err != nil {
		t.Fatal(err)
	}
	u, err := st.ByID(ctx, seed.Hex())
	if err != nil || u.Disabled {
		t.Fatalf("seed document: %+v %v", u, err)
	}
	if n, err := st.CountAdmins(ctx, "admin"); err != nil || n != 1 {
		t.Fatalf("CountAdmins: %d %v", n, err)
	}
	other := users.User{Name: "Bob", Email: "bob@example.com", Role: "user"}
	if err := st.Create(ctx, &other); err != nil {
		t.Fatal(err)
	}
	for q, want := range map[string]int64{"": 2, "[ADMIN]": 1, "[": 1, "seed|bob": 0, ".*": 0, "EXAMPLE.COM": 2, "b": 1} {
		list, total, err := st.List(ctx, q, 0, 10)
		if err != nil || total != want || int64(len(list)) != want {
			t.Errorf("List(%q): %d users, total %d, %v; want %d", q, len(list), total, err, want)
		}
	}
	if list, total, _ := st.List(ctx, "", 1, 10); total != 2 || len(list) != 1 || list[0].ID != other.ID {
		t.Fatalf("skip 1: %+v %d", list, total)
	}
	yes, no, user := true, false, "user"
	if err := st.Update(ctx, seed.Hex(), users.Changes{Disabled: &yes}); err != nil {
		t.Fatal(err)
	}
	if n, _ := st.CountAdmins(ctx, "admin"); n != 0 {
		t.Fatalf("a disabled admin counted: %d", n)
	}
	if err := st.UpdateIf(ctx, seed.Hex(), users.Changes{Disabled: &no}, users.Changes{Role: &user}); !errors.Is(err, users.ErrNotFound) {
		t.Fatalf("UpdateIf with a stale expectation: %v", err)
	}
	if err := st.UpdateIf(ctx, seed.Hex(), users.Changes{Disabled: &yes}, users.Changes{Disabled: &no}); err != nil {
		t.Fatal(err)
	}
	if u, _ := st.ByID(ctx, seed.Hex()); u.Disabled || u.Role != "admin" {
		t.Fatalf("after UpdateIf: %+v", u)
	}
	if err := st.Delete(ctx, seed.Hex()); err != nil {
		t.Fatal(err)
	}
	if err := st.Delete(ctx, seed.Hex()); !errors.Is(err, users.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
}
