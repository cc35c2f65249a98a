// Package users keeps accounts in MongoDB: one document per user in the "users"
// collection, with a unique index on the normalised email.
package users

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Collection is the name of the MongoDB collection holding users; upstream-demo reads it too.
const Collection = "users"

var (
	// ErrNotFound: no user with that id or email.
	ErrNotFound = errors.New("users: not found")
	// ErrDuplicateEmail: another account already uses that (normalised) email.
	ErrDuplicateEmail = errors.New("users: email already exists")
	// ErrIndexConflict: the users collection has an index that contradicts ours.
	ErrIndexConflict = errors.New("users: conflicting index")
	// ErrUnavailable: MongoDB did not answer in time or failed; wraps the driver error.
	ErrUnavailable = errors.New("users: store unavailable")
)

// User is one account. Password holds the PHC (argon2id) or bcrypt hash and is never
// rendered to clients.
type User struct {
	ID        bson.ObjectID `bson:"_id"`
	Name      string        `bson:"name"`
	Email     string        `bson:"email"`
	Password  string        `bson:"password"`
	Role      string        `bson:"role"`
	Photo     string        `bson:"photo"`
	Verified  bool          `bson:"verified"`
	Provider  string        `bson:"provider"`
	CreatedAt time.Time     `bson:"createdAt"`
	UpdatedAt time.Time     `bson:"updatedAt"`

	// Single-use codes (codes.go): only their sha256, each with its expiry; absent when
	// none is outstanding. The reset fields keep the seed's names.
	VerificationCode      string    `bson:"verificationCode,omitempty"`
	VerificationExpiresAt time.Time `bson:"verificationExpiresAt,omitempty"`
	PasswordResetToken    string    `bson:"passwordResetToken,omitempty"`
	PasswordResetAt       time.Time `bson:"passwordResetAt,omitempty"` // when the reset token expires

	// Disabled accounts cannot sign in or refresh (admin.go); seed documents have no
	// such field and decode as enabled.
	Disabled bool `bson:"disabled,omitempty"`
}

// NormalizeEmail returns CanonicalEmail(email), so that ALICE@x and alice@x are one
// account; an email CanonicalEmail refuses is only trimmed and lower-cased (the form
// accounts were stored with before it existed), so that it still finds such an
// account and never matches a canonical one. Callers that accept new input check
// CanonicalEmail first.
func NormalizeEmail(email string) string {
	if c, err := CanonicalEmail(email); err == nil {
		return c
	}
	return strings.ToLower(strings.TrimSpace(email))
}

// Store reads and writes users.
type Store struct {
	coll    *mongo.Collection
	meta    *mongo.Collection
	timeout time.Duration
	// afterBatch, when set (tests), runs after Migrate saves each batch.
	afterBatch func()
}

// New returns a Store on db's users collection; every call gets timeout (> 0) as deadline.
func New(db *mongo.Database, timeout time.Duration) *Store {
	return &Store{coll: db.Collection(Collection), meta: db.Collection(MetaCollection), timeout: timeout}
}

// EnsureIndexes makes sure email is unique. An existing unique index on {email: 1}
// under another name (the seed's "email_1") is kept. Errors: ErrIndexConflict when email
// has a non-unique index, ErrUnavailable.
func (s *Store) EnsureIndexes(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	specs, err := s.coll.Indexes().ListSpecifications(ctx)
	if err != nil {
		return unavailable("list indexes", err)
	}
	for _, spec := range specs {
		var keys bson.D
		if err := bson.Unmarshal(spec.KeysDocument, &keys); err != nil || len(keys) != 1 || keys[0].Key != "email" {
			continue
		}
		if spec.Unique != nil && *spec.Unique {
			return nil
		}
		return fmt.Errorf("%w: index %q on users.email is not unique; drop it and restart", ErrIndexConflict, spec.Name)
	}
	_, err = s.coll.Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys:    bson.D{{Key: "email", Value: 1}},
		Options: options.Index().SetUnique(true).SetName("email_unique"),
	})
	if err != nil {
		return unavailable("create email index", err)
	}
	return nil
}

// Create inserts u, normalising its email and filling ID and timestamps when zero.
// Errors: ErrDuplicateEmail, ErrUnavailable.
func (s *Store) Create(ctx context.Context, u *User) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	u.Email = NormalizeEmail(u.Email)
	if u.ID.IsZero() {
		u.ID = bson.NewObjectID()
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	if u.CreatedAt.IsZero() {
		u.CreatedAt = now
	}
	u.UpdatedAt = u.CreatedAt
	if _, err := s.coll.InsertOne(ctx, u); err != nil {
		if mongo.IsDuplicateKeyError(err) {
			return ErrDuplicateEmail
		}
		return unavailable("insert user", err)
	}
	return nil
}

// ByEmail finds a user by (normalised) email. Errors: ErrNotFound, ErrUnavailable.
func (s *Store) ByEmail(ctx context.Context, email string) (User, error) {
	return s.findOne(ctx, bson.D{{Key: "email", Value: NormalizeEmail(email)}})
}

// parseID reads a user id in its one canonical form, 24 lower-case hex digits (what
// ObjectID.Hex writes and what session keys and audit events carry). Upper-case hex is
// refused although bson would read it: an id that named the document but not its
// sessions would let an admin change reach MongoDB and miss Redis.
func parseID(id string) (bson.ObjectID, error) {
	oid, err := bson.ObjectIDFromHex(id)
	if err != nil {
		return bson.ObjectID{}, err
	}
	if oid.Hex() != id {
		return bson.ObjectID{}, errors.New("users: not a canonical id")
	}
	return oid, nil
}

// ValidID reports whether id is a user id in its canonical form (parseID).
func ValidID(id string) bool {
	_, err := parseID(id)
	return err == nil
}

// ByID finds a user by hex object id; a malformed or upper-case id is ErrNotFound.
// Errors: ErrNotFound, ErrUnavailable.
func (s *Store) ByID(ctx context.Context, id string) (User, error) {
	oid, err := parseID(id)
	if err != nil {
		return User{}, ErrNotFound
	}
	return s.findOne(ctx, bson.D{{Key: "_id", Value: oid}})
}

func (s *Store) findOne(ctx context.Context, filter bson.D) (User, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var u User
	err := s.coll.FindOne(ctx, filter).Decode(&u)
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		return User{}, ErrNotFound
	case err != nil:
		return User{}, unavailable("find user", err)
	}
	return u, nil
}

// SetPasswordHash replaces the stored hash of user id (bcrypt → argon2id upgrade).
// Errors: ErrNotFound, ErrUnavailable.
func (s *Store) SetPasswordHash(ctx context.Context, id bson.ObjectID, hash string) error {
	return s.set(ctx, "update password", id, bson.E{Key: "password", Value: hash})
}

// SetRole changes the role of user id. Errors: ErrNotFound, ErrUnavailable.
func (s *Store) SetRole(ctx context.Context, id, role string) error {
	oid, err := parseID(id)
	if err != nil {
		return ErrNotFound
	}
	return s.set(ctx, "update role", oid, bson.E{Key: "role", Value: role})
}

// set sets fields of user id and its updatedAt. Errors: ErrNotFound, ErrUnavailable.
func (s *Store) set(ctx context.Context, op string, id bson.ObjectID, fields ...bson.E) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	update := append(bson.D(fields), bson.E{Key: "updatedAt", Value: time.Now().UTC().Truncate(time.Millisecond)})
	res, err := s.coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}}, bson.D{{Key: "$set", Value: update}})
	if err != nil {
		return unavailable(op, err)
	}
	if res.MatchedCount == 0 {
		return ErrNotFound
	}
	return nil
}

// Ping checks that MongoDB answers. Errors wrap ErrUnavailable.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if err := s.coll.Database().Client().Ping(ctx, nil); err != nil {
		return unavailable("ping", err)
	}
	return nil
}

func unavailable(op string, err error) error {
	return fmt.Errorf("users: %s: %w", op, errors.Join(ErrUnavailable, err))
}
