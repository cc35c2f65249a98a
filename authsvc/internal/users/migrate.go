package users

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// MetaCollection holds the gateway's own bookkeeping about the users collection: one
// document, _id "users", recording whether seed (bcrypt) hashes may remain and how far an
// interrupted migration got. It lets start-up decide the failed-login padding with one
// find by _id instead of scanning the users (a start on millions of users cannot time out).
const MetaCollection = "authgate_meta"

const metaID = "users"

// Meta is the bookkeeping document.
type Meta struct {
	// Legacy is true while seed-era data may remain: bcrypt hashes, or emails as typed.
	// Only a completed migration clears it.
	Legacy bool `bson:"legacy"`
	// BcryptCost is the highest bcrypt cost the last migration saw (0: none left).
	BcryptCost int `bson:"bcryptCost"`
	// ResumeAfter is the last _id an unfinished migration has done; nil when none runs.
	ResumeAfter *bson.ObjectID `bson:"resumeAfter,omitempty"`
	// Progress of the migration under way or last finished.
	Scanned    int64     `bson:"scanned"`
	Normalised int64     `bson:"normalised"`
	Bcrypt     int64     `bson:"bcrypt"`
	Conflicts  []string  `bson:"conflicts"`
	MigratedAt time.Time `bson:"migratedAt,omitempty"`
}

// LoadMeta returns the bookkeeping document. For a collection that has never been seen
// it records one: Legacy false when the users collection is empty (a new install: nothing
// is from the seed), true otherwise (a seed database that needs `gateway migrate`). Both
// checks are single-document reads. Errors: ErrUnavailable.
func (s *Store) LoadMeta(ctx context.Context) (Meta, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var m Meta
	err := s.meta.FindOne(ctx, bson.D{{Key: "_id", Value: metaID}}).Decode(&m)
	if err == nil {
		return m, nil
	}
	if !errors.Is(err, mongo.ErrNoDocuments) {
		return Meta{}, unavailable("read meta", err)
	}
	err = s.coll.FindOne(ctx, bson.D{}, options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Err()
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		m = Meta{Legacy: false}
	case err != nil:
		return Meta{}, unavailable("probe users", err)
	default:
		m = Meta{Legacy: true, BcryptCost: 12} // the seed hashed with cost 12
	}
	if err := s.saveMeta(ctx, m); err != nil {
		return Meta{}, err
	}
	return m, nil
}

func (s *Store) saveMeta(ctx context.Context, m Meta) error {
	doc, err := bson.Marshal(m)
	if err != nil {
		return fmt.Errorf("users: encode meta: %w", err)
	}
	var d bson.D
	if err := bson.Unmarshal(doc, &d); err != nil {
		return fmt.Errorf("users: encode meta: %w", err)
	}
	_, err = s.meta.ReplaceOne(ctx, bson.D{{Key: "_id", Value: metaID}}, append(bson.D{{Key: "_id", Value: metaID}}, d...),
		options.Replace().SetUpsert(true))
	if err != nil {
		return unavailable("write meta", err)
	}
	return nil
}

// MigrationReport says what Migrate did, over every run of one migration.
type MigrationReport struct {
	Resumed    bool     // an interrupted migration was continued
	Scanned    int64    // users looked at
	Normalised int64    // emails lower-cased and trimmed
	Conflicts  []string // ids whose normalised email belongs to another account (left as typed)
	Bcrypt     int64    // users still on a seed bcrypt hash (upgraded at their next login)
	BcryptCost int      // the highest bcrypt cost among them
}

// Migrate brings a seed database up to date in batches of batch users, in _id order:
// emails normalised (a case-only duplicate of another account is left alone and
// reported) and remaining bcrypt hashes counted. Progress is saved after every batch, so
// an interrupted run resumes where it stopped. When done, the bookkeeping says whether
// bcrypt hashes remain (failed logins stay padded while they do). Errors: ErrUnavailable.
func (s *Store) Migrate(ctx context.Context, batch int) (MigrationReport, error) {
	if batch <= 0 {
		batch = 500
	}
	m, err := s.LoadMeta(ctx)
	if err != nil {
		return MigrationReport{}, err
	}
	rep := MigrationReport{Resumed: m.ResumeAfter != nil}
	if !rep.Resumed {
		m = Meta{Legacy: true, Conflicts: []string{}}
	}
	for {
		docs, err := s.batch(ctx, m.ResumeAfter, batch)
		if err != nil {
			return rep, err
		}
		if len(docs) == 0 {
			break
		}
		for _, d := range docs {
			m.Scanned++
			if cost, ok := bcryptCost(d.Password); ok {
				m.Bcrypt++
				m.BcryptCost = max(m.BcryptCost, cost)
			}
			email := NormalizeEmail(d.Email)
			if email == d.Email {
				continue
			}
			switch err := s.normalise(ctx, d.ID, email); {
			case errors.Is(err, ErrDuplicateEmail):
				m.Conflicts = append(m.Conflicts, d.ID.Hex())
			case err != nil:
				return rep, err
			default:
				m.Normalised++
			}
		}
		last := docs[len(docs)-1].ID
		m.ResumeAfter = &last
		if err := s.saveMeta(ctx, m); err != nil {
			return rep, err
		}
		if s.afterBatch != nil {
			s.afterBatch()
		}
	}
	m.ResumeAfter = nil
	m.Legacy = m.Bcrypt > 0
	if m.Bcrypt == 0 {
		m.BcryptCost = 0
	}
	m.MigratedAt = time.Now().UTC().Truncate(time.Millisecond)
	if err := s.saveMeta(ctx, m); err != nil {
		return rep, err
	}
	rep.Scanned, rep.Normalised, rep.Conflicts, rep.Bcrypt, rep.BcryptCost = m.Scanned, m.Normalised, m.Conflicts, m.Bcrypt, m.BcryptCost
	return rep, nil
}

type migrationDoc struct {
	ID       bson.ObjectID `bson:"_id"`
	Email    string        `bson:"email"`
	Password string        `bson:"password"`
}

// batch returns up to n users after the _id after (from the start when nil).
func (s *Store) batch(ctx context.Context, after *bson.ObjectID, n int) ([]migrationDoc, error) {
	ctx, cancel := context.WithTimeout(ctx, 4*s.timeout)
	defer cancel()
	filter := bson.D{}
	if after != nil {
		filter = bson.D{{Key: "_id", Value: bson.D{{Key: "$gt", Value: *after}}}}
	}
	cur, err := s.coll.Find(ctx, filter, options.Find().
		SetSort(bson.D{{Key: "_id", Value: 1}}).SetLimit(int64(n)).
		SetProjection(bson.D{{Key: "email", Value: 1}, {Key: "password", Value: 1}}))
	if err != nil {
		return nil, unavailable("read users", err)
	}
	var docs []migrationDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, unavailable("read users", err)
	}
	return docs, nil
}

// normalise sets user id's email. Errors: ErrDuplicateEmail, ErrUnavailable.
func (s *Store) normalise(ctx context.Context, id bson.ObjectID, email string) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	// Look first: FerretDB reports a unique violation on update as an internal error,
	// not E11000, so the duplicate is detected before writing.
	n, err := s.coll.CountDocuments(ctx, bson.D{{Key: "email", Value: email}})
	if err != nil {
		return unavailable("check normalised email", err)
	}
	if n > 0 {
		return ErrDuplicateEmail
	}
	_, err = s.coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "email", Value: email}}}})
	switch {
	case mongo.IsDuplicateKeyError(err): // registered meanwhile
		return ErrDuplicateEmail
	case err != nil:
		return unavailable("normalise email", err)
	}
	return nil
}

// bcryptCost returns the cost of a bcrypt hash ($2a$12$…).
func bcryptCost(hash string) (int, bool) {
	if len(hash) < 7 || !strings.HasPrefix(hash, "$2") || hash[3] != '$' || hash[6] != '$' ||
		!strings.ContainsRune("aby", rune(hash[2])) {
		return 0, false
	}
	cost, err := strconv.Atoi(hash[4:6])
	return cost, err == nil
}
