package users

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Single-use codes (email verification, password reset) live on the user document as
// the sha256 of the code with an expiry. Using one is a single UpdateOne whose filter
// holds the hash and "expires > now" and whose update removes both: once it has matched,
// every later use matches nothing, and an expired code is never matched again. No TTL
// index, transaction or findAndModify is involved. On MongoDB the update is atomic, so
// of two concurrent uses one matches; FerretDB v1 applies concurrent updates of one
// document without re-checking the filter, which is why the core also claims a reset
// token in Redis before using it (sessions.Store.Claim).

// EnsureCodeIndexes makes lookups by code hash use an index (plain, non-unique: most
// users have no code outstanding). One index per call: FerretDB v1 panics on a
// createIndexes of several indexes that already exist. Errors: ErrUnavailable.
func (s *Store) EnsureCodeIndexes(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	for _, field := range []string{"verificationCode", "passwordResetToken"} {
		_, err := s.coll.Indexes().CreateOne(ctx, mongo.IndexModel{
			Keys: bson.D{{Key: field, Value: 1}}, Options: options.Index().SetName(field + "_1"),
		})
		if err != nil {
			return unavailable("create code index", err)
		}
	}
	return nil
}

// ConsumeVerification marks verified the user whose verification code hashes to hash,
// if it has not expired at now, and removes the code. Errors: ErrNotFound (no such
// code, expired, or already used), ErrUnavailable.
func (s *Store) ConsumeVerification(ctx context.Context, hash string, now time.Time) error {
	return s.consume(ctx, "verify email",
		bson.D{{Key: "verificationCode", Value: hash}, {Key: "verificationExpiresAt", Value: bson.D{{Key: "$gt", Value: dbTime(now)}}}},
		bson.D{{Key: "verified", Value: true}}, "verificationCode", "verificationExpiresAt")
}

// SetResetToken records a password-reset token (its hash) for user id, replacing any
// earlier one. Errors: ErrNotFound, ErrUnavailable.
func (s *Store) SetResetToken(ctx context.Context, id bson.ObjectID, hash string, expires time.Time) error {
	return s.set(ctx, "set reset token", id,
		bson.E{Key: "passwordResetToken", Value: hash}, bson.E{Key: "passwordResetAt", Value: dbTime(expires)})
}

// ClearResetToken removes user id's reset token if it is still hash (a newer one is
// kept). Errors: ErrUnavailable.
func (s *Store) ClearResetToken(ctx context.Context, id bson.ObjectID, hash string) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	_, err := s.coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "passwordResetToken", Value: hash}},
		bson.D{{Key: "$unset", Value: bson.D{{Key: "passwordResetToken", Value: ""}, {Key: "passwordResetAt", Value: ""}}}})
	if err != nil {
		return unavailable("clear reset token", err)
	}
	return nil
}

// ByResetToken finds the user whose reset token hashes to hash and has not expired at
// now. Errors: ErrNotFound, ErrUnavailable.
func (s *Store) ByResetToken(ctx context.Context, hash string, now time.Time) (User, error) {
	return s.findOne(ctx, resetFilter(hash, now))
}

// ResetPassword consumes user id's reset token hash (unexpired at now): the password
// hash becomes passwordHash, the email counts as verified (the reset link proved the
// mailbox) and every outstanding code is removed. Errors: ErrNotFound (the token was
// used, replaced or expired meanwhile), ErrUnavailable.
func (s *Store) ResetPassword(ctx context.Context, id bson.ObjectID, hash string, now time.Time, passwordHash string) error {
	filter := append(bson.D{{Key: "_id", Value: id}}, resetFilter(hash, now)...)
	return s.consume(ctx, "reset password", filter,
		bson.D{{Key: "password", Value: passwordHash}, {Key: "verified", Value: true}},
		"passwordResetToken", "passwordResetAt", "verificationCode", "verificationExpiresAt")
}

// DeleteUnverified removes user id if it is still unverified (a registration whose
// verification mail could not be sent). Errors: ErrNotFound, ErrUnavailable.
func (s *Store) DeleteUnverified(ctx context.Context, id bson.ObjectID) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	res, err := s.coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "verified", Value: false}})
	if err != nil {
		return unavailable("delete unverified user", err)
	}
	if res.DeletedCount == 0 {
		return ErrNotFound
	}
	return nil
}

func resetFilter(hash string, now time.Time) bson.D {
	return bson.D{{Key: "passwordResetToken", Value: hash}, {Key: "passwordResetAt", Value: bson.D{{Key: "$gt", Value: dbTime(now)}}}}
}

// consume sets fields and unsets the named ones on the one document filter matches;
// nothing matched is ErrNotFound. Errors: ErrNotFound, ErrUnavailable.
func (s *Store) consume(ctx context.Context, op string, filter, set bson.D, unset ...string) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	rm := make(bson.D, 0, len(unset))
	for _, f := range unset {
		rm = append(rm, bson.E{Key: f, Value: ""})
	}
	set = append(set, bson.E{Key: "updatedAt", Value: dbTime(time.Now())})
	res, err := s.coll.UpdateOne(ctx, filter, bson.D{{Key: "$set", Value: set}, {Key: "$unset", Value: rm}})
	if err != nil {
		return unavailable(op, err)
	}
	if res.MatchedCount == 0 {
		return ErrNotFound
	}
	return nil
}

// dbTime is t as MongoDB stores it: UTC, milliseconds.
func dbTime(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }
