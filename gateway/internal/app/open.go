package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/authgate/authgate/authsvc"
	"github.com/authgate/authgate/gateway/internal/config"
	"github.com/authgate/authgate/gateway/internal/embedded"
)

// App is an opened gateway: stores connected, the account core built and initialised.
type App struct {
	*Prepared
	Accounts *authsvc.Service
	Keys     *authsvc.Keys // published at /.well-known/jwks.json
	// Assertions signs the routes' identity assertions; nil without an assertion key
	// (production, no route sends assertions).
	Assertions *authsvc.Assertions
	stores     *stores
}

// Open loads (in development: generates once) the keys, builds the assertion signer,
// connects or embeds the stores and builds the account core; it reads and writes no data.
// Close releases everything. Errors: keys that cannot be written, routes that send
// assertions without an assertion key, stores that cannot be started or reached.
func (p *Prepared) Open(ctx context.Context) (*App, error) {
	cfg := p.Config
	devDir := ""
	if !cfg.Production() {
		devDir = filepath.Join(cfg.DataDir, "keys")
	}
	keys, err := authsvc.LoadKeys(keyConfig(cfg), devDir)
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	ac := accountConfig(cfg, keys, p.Log)
	if ac.Email, err = emailConfig(cfg, p.Log); err != nil {
		return nil, err
	}
	assertions, err := authsvc.NewAssertions(keys, authsvc.AssertionConfig{TTL: cfg.Tokens.AssertionTTL, Issuer: cfg.Tokens.Issuer})
	switch {
	case errors.Is(err, authsvc.ErrNoAssertionKey) && !cfg.UsesAssertions():
		assertions = nil
	case err != nil:
		return nil, fmt.Errorf("keys: %w", err)
	}
	st, err := openStores(ctx, cfg, p.Log)
	if err != nil {
		return nil, err
	}
	a := &App{Prepared: p, Keys: keys, Assertions: assertions, stores: st}
	a.Accounts, err = authsvc.New(ac, st.db, st.rdb)
	if err != nil {
		st.close(p.Log)
		return nil, err
	}
	return a, nil
}

// Bootstrap creates the configured admin account if it does not exist.
func (a *App) Bootstrap(ctx context.Context) error {
	b := a.Config.Bootstrap
	if b.AdminEmail == "" {
		return nil
	}
	id, err := a.Accounts.EnsureAdmin(ctx, authsvc.NewUser{Name: b.AdminName, Email: b.AdminEmail, Password: b.AdminPassword})
	if err != nil {
		return fmt.Errorf("bootstrap admin: %w", err)
	}
	if id != "" {
		a.Log.Info("bootstrap admin created", "user_id", id)
	}
	return nil
}

// Close disconnects the stores and stops the embedded ones.
func (a *App) Close() { a.stores.close(a.Log) }

func accountConfig(cfg *config.Config, keys *authsvc.Keys, log *slog.Logger) authsvc.Config {
	t := cfg.Tokens
	return authsvc.Config{
		AccessTTL: t.AccessTTL, RefreshTTL: t.RefreshTTL, RefreshGrace: t.RefreshGrace,
		IdleTTL: cfg.Sessions.IdleTTL, MaxTTL: cfg.Sessions.MaxTTL, MaxSessions: cfg.Sessions.MaxPerUser,
		SessionCacheTTL: cfg.Sessions.CacheTTL,
		Leeway:          t.Leeway, Issuer: t.Issuer, Audience: t.Audience,
		Keys:                keys,
		PasswordMaxLength:   cfg.Passwords.MaxLength,
		MaxConcurrentHashes: cfg.Passwords.HashConcurrency(),
		HashWait:            cfg.Passwords.MaxWait,
		RedisPrefix:         cfg.Redis.KeyPrefix,
		RedisTimeout:        cfg.Redis.Timeout,
		MongoTimeout:        cfg.MongoDB.Timeout,
		Audit:               authsvc.AuditConfig{Retention: cfg.Audit.Retention, CleanupInterval: cfg.Audit.CleanupInterval},
		Regulation:          regulationConfig(cfg.Regulation),
		Logger:              log,
	}
}

func regulationConfig(r config.Regulation) authsvc.RegulationConfig {
	lock := func(l config.Lockout) authsvc.Lockout { return authsvc.Lockout(l) }
	limit := func(l config.RateLimit) authsvc.RateLimit { return authsvc.RateLimit(l) }
	return authsvc.RegulationConfig{
		Account: lock(r.Account), IP: lock(r.IP),
		Register: limit(r.Register), Forgot: limit(r.ForgotPassword),
		ForgotEmail: limit(r.ForgotPasswordEmail), Verify: limit(r.VerifyEmail),
	}
}

// stores are the connected MongoDB database and Redis client, and whatever embedded
// servers back them.
type stores struct {
	db    *mongo.Database
	mc    *mongo.Client
	rdb   redis.UniversalClient
	mongo *embedded.Mongo
	redis *embedded.Redis
}

func openStores(ctx context.Context, cfg *config.Config, log *slog.Logger) (*stores, error) {
	st := &stores{}
	mongoURI, redisURL := cfg.MongoDB.URI, cfg.Redis.URL
	if mongoURI == "" {
		m, err := embedded.StartMongo(ctx, filepath.Join(cfg.DataDir, "mongodb"), cfg.Embedded.MongoDBListen, log)
		if err != nil {
			return nil, err
		}
		st.mongo, mongoURI = m, m.URI()
		log.Warn("using embedded FerretDB (SQLite): single-node, for development only; set mongodb.uri for production",
			"uri", mongoURI, "dir", filepath.Join(cfg.DataDir, "mongodb"))
	}
	if redisURL == "" {
		r, err := embedded.StartRedis(cfg.Embedded.RedisListen, filepath.Join(cfg.DataDir, "redis-snapshot.json"))
		if err != nil {
			st.close(log)
			return nil, err
		}
		st.redis, redisURL = r, r.URL()
		log.Warn("using embedded Redis-protocol server (miniredis): single-node, for development only; set redis.url for production",
			"url", redisURL)
	}
	mc, err := mongo.Connect(options.Client().ApplyURI(mongoURI).
		SetServerSelectionTimeout(cfg.MongoDB.Timeout).SetConnectTimeout(cfg.MongoDB.Timeout))
	if err != nil {
		st.close(log)
		return nil, fmt.Errorf("mongodb: %w", err)
	}
	st.mc, st.db = mc, mc.Database(cfg.MongoDB.Database)
	if st.rdb, err = newRedisClient(cfg.Redis.Mode, redisURL, cfg.Redis.Timeout); err != nil {
		st.close(log)
		return nil, err
	}
	return st, nil
}

// newRedisClient reads url as mode says (one server, a Cluster, or Sentinels) and
// applies the per-call timeout; the client honours context deadlines, so a hung Redis
// cannot hold a request past its deadline. Errors: a URL the mode cannot read.
func newRedisClient(mode, url string, timeout time.Duration) (redis.UniversalClient, error) {
	switch mode {
	case config.RedisCluster:
		o, err := redis.ParseClusterURL(url)
		if err != nil {
			return nil, fmt.Errorf("redis.url (cluster): %w", err)
		}
		o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.ContextTimeoutEnabled = timeout, timeout, timeout, true
		return redis.NewClusterClient(o), nil
	case config.RedisSentinel:
		o, err := redis.ParseFailoverURL(url)
		if err != nil {
			return nil, fmt.Errorf("redis.url (sentinel): %w", err)
		}
		o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.ContextTimeoutEnabled = timeout, timeout, timeout, true
		return redis.NewFailoverClient(o), nil
	default:
		o, err := redis.ParseURL(url)
		if err != nil {
			return nil, fmt.Errorf("redis.url: %w", err)
		}
		o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.ContextTimeoutEnabled = timeout, timeout, timeout, true
		return redis.NewClient(o), nil
	}
}

func (st *stores) close(log *slog.Logger) {
	if st.rdb != nil {
		_ = st.rdb.Close()
	}
	if st.mc != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = st.mc.Disconnect(ctx)
		cancel()
	}
	if st.redis != nil {
		if err := st.redis.Stop(); err != nil {
			log.Warn("embedded redis snapshot not saved", "error", err)
		}
	}
	if st.mongo != nil {
		st.mongo.Stop()
	}
}
