package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// run parses flags (with environment defaults), connects to MongoDB and serves until ctx
// ends. It logs "listening" with the bound address.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("upstream-demo", flag.ContinueOnError)
	fs.SetOutput(stdout)
	listen := fs.String("listen", envOr(getenv, "UPSTREAM_LISTEN", ":8081"), "listen address (env UPSTREAM_LISTEN)")
	uri := fs.String("mongodb-uri", envOr(getenv, "MONGODB_URI", "mongodb://127.0.0.1:27018/"), "MongoDB URI (env MONGODB_URI)")
	dbName := fs.String("mongodb-database", envOr(getenv, "MONGODB_DATABASE", "authgate"), "database (env MONGODB_DATABASE)")
	jwksURL := fs.String("jwks-url", getenv("UPSTREAM_JWKS_URL"),
		"the gateway's /.well-known/jwks.json; set, every request needs a valid X-Auth-Assertion (env UPSTREAM_JWKS_URL)")
	audience := fs.String("audience", getenv("UPSTREAM_AUDIENCE"),
		"the aud assertions must carry: the route's name, or its upstream URL (env UPSTREAM_AUDIENCE)")
	issuer := fs.String("issuer", envOr(getenv, "UPSTREAM_ISSUER", "authgate"), "the iss assertions must carry: the gateway's tokens.issuer (env UPSTREAM_ISSUER)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(stdout, nil))
	var assertions *verifier
	if *jwksURL != "" || *audience != "" {
		v, err := newVerifier(*jwksURL, *issuer, *audience, log)
		if err != nil {
			return err
		}
		assertions = v
	}

	client, err := mongo.Connect(options.Client().ApplyURI(*uri).
		SetServerSelectionTimeout(5 * time.Second).SetTimeout(5 * time.Second))
	if err != nil {
		return fmt.Errorf("mongodb: %w", err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = client.Disconnect(dctx)
	}()
	app := &app{users: client.Database(*dbName).Collection("users"), log: log, assertions: assertions}

	hs := &http.Server{
		Handler:           app.routes(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	log.Info("listening", "addr", ln.Addr().String(), "assertions", assertions != nil)
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		_ = hs.Close() // requests still running past the timeout are cut
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}

type app struct {
	users *mongo.Collection
	log   *slog.Logger
	// assertions checks X-Auth-Assertion; nil trusts X-User-Id/X-User-Role as they come.
	assertions *verifier
}

func (a *app) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /api/users", a.identify(a.listUsers))
	mux.Handle("GET /api/users/me", a.identify(a.me))
	mux.Handle("GET /api/whoami", a.identify(whoami))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"status": "success"})
	})
	mux.Handle("/", a.identify(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, fail("Route "+r.RequestURI+" not found"))
	}))
	return mux
}

// user is the stored document without the hash (the projection never loads it).
type user struct {
	ID        bson.ObjectID `bson:"_id"`
	Name      string        `bson:"name"`
	Email     string        `bson:"email"`
	Role      string        `bson:"role"`
	Photo     string        `bson:"photo"`
	Verified  bool          `bson:"verified"`
	Provider  string        `bson:"provider"`
	CreatedAt time.Time     `bson:"createdAt"`
	UpdatedAt time.Time     `bson:"updatedAt"`
}

func (u user) render() map[string]any {
	const iso = "2006-01-02T15:04:05.000Z07:00"
	id := u.ID.Hex()
	return map[string]any{
		"_id": id, "id": id, "name": u.Name, "email": u.Email, "role": u.Role,
		"photo": u.Photo, "verified": u.Verified, "provider": u.Provider,
		"createdAt": u.CreatedAt.UTC().Format(iso), "updatedAt": u.UpdatedAt.UTC().Format(iso),
	}
}

func noHash() bson.D { return bson.D{{Key: "password", Value: 0}} }

// me answers the caller's own user; the id comes only from the gateway (callerOf).
func (a *app) me(w http.ResponseWriter, r *http.Request) {
	id, err := bson.ObjectIDFromHex(callerOf(r).id)
	if err != nil {
		writeJSON(w, http.StatusUnauthorized, fail("You are not logged in"))
		return
	}
	var u user
	err = a.users.FindOne(r.Context(), bson.D{{Key: "_id", Value: id}},
		options.FindOne().SetProjection(noHash())).Decode(&u)
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		writeJSON(w, http.StatusUnauthorized, fail("User session has expired"))
		return
	case err != nil:
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "success", "data": map[string]any{"user": u.render()}})
}

// whoami echoes the caller (the identity headers, or the verified assertion) without
// touching MongoDB: the benchmark suite's upstream (bench/), so that only the proxy path
// is measured.
func whoami(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r)
	writeJSON(w, http.StatusOK, map[string]any{"status": "success", "data": map[string]any{
		"id": c.id, "role": c.role,
	}})
}

// listUsers answers every user, newest first, to admins only (the gateway enforces the
// same rule; this is defence in depth).
func (a *app) listUsers(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r)
	if c.id == "" {
		writeJSON(w, http.StatusUnauthorized, fail("You are not logged in"))
		return
	}
	if c.role != "admin" {
		writeJSON(w, http.StatusForbidden, fail("You are not allowed to perform this action"))
		return
	}
	cur, err := a.users.Find(r.Context(), bson.D{},
		options.Find().SetProjection(noHash()).SetSort(bson.D{{Key: "createdAt", Value: -1}}).SetLimit(1000))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var list []user
	if err := cur.All(r.Context(), &list); err != nil {
		a.fail(w, r, err)
		return
	}
	out := make([]map[string]any, 0, len(list))
	for _, u := range list {
		out = append(out, u.render())
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"status": "success", "result": len(out), "data": map[string]any{"users": out},
	})
}

// fail answers a MongoDB failure: 503, retry later; details only in the log.
func (a *app) fail(w http.ResponseWriter, r *http.Request, err error) {
	a.log.WarnContext(r.Context(), "mongodb", "error", err, "request_id", r.Header.Get("X-Request-Id"))
	writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "error", "message": "Service temporarily unavailable, please retry"})
}

func fail(msg string) map[string]any { return map[string]any{"status": "fail", "message": msg} }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
