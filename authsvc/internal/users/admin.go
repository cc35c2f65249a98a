package users

import (
	"context"
	"regexp"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Administration: listing, disabling and deleting accounts, and counting the enabled
// admins the core keeps at least one of. Everything here works on FerretDB v1 (SQLite)
// as on MongoDB: plain find/count/update/delete, no transactions, no findAndModify.

// List returns the users whose email or name contains q (case-insensitive, literally:
// regular-expression metacharacters in q match themselves), oldest first, skipping skip
// and returning at most limit, and how many match in all. q "" matches everyone.
// Errors: ErrUnavailable.
func (s *Store) List(ctx context.Context, q string, skip, limit int) ([]User, int64, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	filter := bson.D{}
	if q != "" {
		re := bson.Regex{Pattern: regexp.QuoteMeta(q), Options: "i"}
		filter = bson.D{{Key: "$or", Value: bson.A{
			bson.D{{Key: "email", Value: re}}, bson.D{{Key: "name", Value: re}},
		}}}
	}
	total, err := s.coll.CountDocuments(ctx, filter)
	if err != nil {
		return nil, 0, unavailable("count users", err)
	}
	cur, err := s.coll.Find(ctx, filter, options.Find().
		SetSort(bson.D{{Key: "_id", Value: 1}}).SetSkip(int64(skip)).SetLimit(int64(limit)))
	if err != nil {
		return nil, 0, unavailable("list users", err)
	}
	out := []User{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, 0, unavailable("list users", err)
	}
	return out, total, nil
}

// CountAdmins returns how many enabled accounts have role admin (a document without
// "disabled" is enabled). Errors: ErrUnavailable.
func (s *Store) CountAdmins(ctx context.Context, admin string) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	n, err := s.coll.CountDocuments(ctx, bson.D{{Key: "role", Value: admin}, {Key: "disabled", Value: bson.D{{Key: "$ne", Value: true}}}})
	if err != nil {
		return 0, unavailable("count admins", err)
	}
	return n, nil
}

// Changes are the fields an administrator may change; nil leaves a field as it is.
type Changes struct {
	Role     *string
	Disabled *bool
}

func (c Changes) set() []bson.E {
	var out []bson.E
	if c.Role != nil {
		out = append(out, bson.E{Key: "role", Value: *c.Role})
	}
	if c.Disabled != nil {
		out = append(out, bson.E{Key: "disabled", Value: *c.Disabled})
	}
	return out
}

// Update applies c to user id in one update (updatedAt too). Errors: ErrNotFound,
// ErrUnavailable.
func (s *Store) Update(ctx context.Context, id string, c Changes) error {
	return s.UpdateIf(ctx, id, Changes{}, c)
}

// UpdateIf applies c to user id only while its fields still hold the values in current
// (a rollback must not undo a change made since). Errors: ErrNotFound (no such user, or
// a field of current no longer holds), ErrUnavailable.
func (s *Store) UpdateIf(ctx context.Context, id string, current, c Changes) error {
	oid, err := parseID(id)
	if err != nil {
		return ErrNotFound
	}
	filter := bson.D{{Key: "_id", Value: oid}}
	if current.Role != nil {
		filter = append(filter, bson.E{Key: "role", Value: *current.Role})
	}
	if current.Disabled != nil {
		if *current.Disabled {
			filter = append(filter, bson.E{Key: "disabled", Value: true})
		} else {
			filter = append(filter, bson.E{Key: "disabled", Value: bson.D{{Key: "$ne", Value: true}}})
		}
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	update := append(bson.D(c.set()), bson.E{Key: "updatedAt", Value: dbTime(time.Now())})
	res, err := s.coll.UpdateOne(ctx, filter, bson.D{{Key: "$set", Value: update}})
	if err != nil {
		return unavailable("update user", err)
	}
	if res.MatchedCount == 0 {
		return ErrNotFound
	}
	return nil
}

// Delete removes user id. Errors: ErrNotFound, ErrUnavailable.
func (s *Store) Delete(ctx context.Context, id string) error {
	oid, err := parseID(id)
	if err != nil {
		return ErrNotFound
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	res, err := s.coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: oid}})
	if err != nil {
		return unavailable("delete user", err)
	}
	if res.DeletedCount == 0 {
		return ErrNotFound
	}
	return nil
}

// SetPassword replaces user id's password hash (an operator's reset).
// Errors: ErrNotFound, ErrUnavailable.
func (s *Store) SetPassword(ctx context.Context, id, hash string) error {
	oid, err := parseID(id)
	if err != nil {
		return ErrNotFound
	}
	return s.SetPasswordHash(ctx, oid, hash)
}
