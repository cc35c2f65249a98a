package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Collection is the MongoDB collection holding audit events.
const Collection = "audit_events"

// ErrUnavailable: MongoDB did not answer in time or failed; wraps the driver error.
var ErrUnavailable = errors.New("audit: store unavailable")

// doc is an event as stored.
type doc struct {
	ID        bson.ObjectID  `bson:"_id"`
	Time      time.Time      `bson:"time"`
	Type      string         `bson:"type"`
	ActorID   string         `bson:"actorId,omitempty"`
	UserID    string         `bson:"userId,omitempty"`
	SessionID string         `bson:"sessionId,omitempty"`
	IP        string         `bson:"ip,omitempty"`
	UserAgent string         `bson:"userAgent,omitempty"`
	Details   map[string]any `bson:"details,omitempty"`
	ExpiresAt time.Time      `bson:"expiresAt"`
}

// Store keeps events in MongoDB for Retention after their time.
type Store struct {
	coll      *mongo.Collection
	timeout   time.Duration
	retention time.Duration
	log       *slog.Logger
	// createTTL creates the TTL index on expiresAt; tests replace it to play a server
	// without TTL indexes that says so.
	createTTL func(ctx context.Context) error
}

// NewStore returns a Store on db's audit_events collection; every call gets timeout as
// its deadline, and events expire retention after their time.
func NewStore(db *mongo.Database, timeout, retention time.Duration, log *slog.Logger) *Store {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	st := &Store{coll: db.Collection(Collection), timeout: timeout, retention: retention, log: log}
	st.createTTL = func(ctx context.Context) error {
		_, err := st.coll.Indexes().CreateOne(ctx, mongo.IndexModel{
			Keys:    bson.D{{Key: "expiresAt", Value: 1}},
			Options: options.Index().SetName("expiresAt_ttl").SetExpireAfterSeconds(0),
		})
		return err
	}
	return st
}

// EnsureIndexes creates the indexes reads use (time, type and user, each newest first)
// and, where the server supports it, a TTL index on expiresAt. A TTL index the server
// refuses is logged once at debug and left out: the cleanup (DeleteExpired) and the
// reads' own expiry filter bound the retention without it. Errors: ErrUnavailable (the
// read indexes could not be created).
func (st *Store) EnsureIndexes(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, st.timeout)
	defer cancel()
	specs, err := st.coll.Indexes().ListSpecifications(ctx)
	if err != nil {
		return unavailable("list indexes", err)
	}
	have := map[string]bool{}
	for _, s := range specs {
		have[s.Name] = true
	}
	// One at a time, and only those missing: FerretDB v1 fails a createIndexes of
	// several indexes that exist already.
	for _, m := range []struct {
		name string
		keys bson.D
	}{
		{"time", bson.D{{Key: "time", Value: -1}}},
		{"type_time", bson.D{{Key: "type", Value: 1}, {Key: "time", Value: -1}}},
		{"user_time", bson.D{{Key: "userId", Value: 1}, {Key: "time", Value: -1}}},
	} {
		if have[m.name] {
			continue
		}
		if _, err := st.coll.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: m.keys, Options: options.Index().SetName(m.name)}); err != nil {
			return unavailable("create index "+m.name, err)
		}
	}
	if have["expiresAt_ttl"] {
		return nil
	}
	if err := st.createTTL(ctx); err != nil {
		st.log.DebugContext(ctx, "audit: no TTL index (the server refused it); expired events are deleted by the periodic cleanup",
			"error", err)
	}
	return nil
}

// Insert stores events in order (one insertMany). Errors: ErrUnavailable.
func (st *Store) Insert(ctx context.Context, events []Event) error {
	if len(events) == 0 {
		return nil
	}
	docs := make([]any, 0, len(events))
	for _, e := range events {
		docs = append(docs, doc{
			ID: bson.NewObjectID(), Time: e.Time, Type: e.Type, ActorID: e.ActorID, UserID: e.UserID,
			SessionID: e.SessionID, IP: e.IP, UserAgent: e.UserAgent, Details: e.Details,
			ExpiresAt: e.Time.Add(st.retention).UTC().Truncate(time.Millisecond),
		})
	}
	ctx, cancel := context.WithTimeout(ctx, st.timeout)
	defer cancel()
	if _, err := st.coll.InsertMany(ctx, docs, options.InsertMany().SetOrdered(true)); err != nil {
		return unavailable("insert", err)
	}
	return nil
}

// Find returns the page of q among the events not expired at now, newest first, and
// how many there are. q's Page and Limit must be positive. Errors: ErrUnavailable.
func (st *Store) Find(ctx context.Context, q Query, now time.Time) (Page, error) {
	filter := bson.D{{Key: "expiresAt", Value: bson.D{{Key: "$gt", Value: now.UTC()}}}}
	if q.Type != "" {
		filter = append(filter, bson.E{Key: "type", Value: q.Type})
	}
	if q.UserID != "" {
		filter = append(filter, bson.E{Key: "$or", Value: bson.A{
			bson.D{{Key: "userId", Value: q.UserID}}, bson.D{{Key: "actorId", Value: q.UserID}},
		}})
	}
	ctx, cancel := context.WithTimeout(ctx, st.timeout)
	defer cancel()
	total, err := st.coll.CountDocuments(ctx, filter)
	if err != nil {
		return Page{}, unavailable("count", err)
	}
	opts := options.Find().SetSort(bson.D{{Key: "time", Value: -1}, {Key: "_id", Value: -1}}).
		SetSkip(int64(q.Page-1) * int64(q.Limit)).SetLimit(int64(q.Limit))
	cur, err := st.coll.Find(ctx, filter, opts)
	if err != nil {
		return Page{}, unavailable("find", err)
	}
	var docs []doc
	if err := cur.All(ctx, &docs); err != nil {
		return Page{}, unavailable("read", err)
	}
	p := Page{Events: make([]Event, 0, len(docs)), Page: q.Page, Limit: q.Limit, Total: total}
	for _, d := range docs {
		p.Events = append(p.Events, Event{
			ID: d.ID.Hex(), Time: d.Time.UTC(), Type: d.Type, ActorID: d.ActorID, UserID: d.UserID,
			SessionID: d.SessionID, IP: d.IP, UserAgent: d.UserAgent, Details: d.Details,
		})
	}
	return p, nil
}

// DeleteExpired deletes the events expired at now and returns how many.
// Errors: ErrUnavailable.
func (st *Store) DeleteExpired(ctx context.Context, now time.Time) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, st.timeout)
	defer cancel()
	res, err := st.coll.DeleteMany(ctx, bson.D{{Key: "expiresAt", Value: bson.D{{Key: "$lte", Value: now.UTC()}}}})
	if err != nil {
		return 0, unavailable("delete expired", err)
	}
	return res.DeletedCount, nil
}

func unavailable(op string, err error) error {
	return fmt.Errorf("audit: %s: %w", op, errors.Join(ErrUnavailable, err))
}
