package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/authgate/authgate/authsvc"
	"github.com/authgate/authgate/gateway/internal/config"
	"github.com/authgate/authgate/gateway/internal/embedded"
	"github.com/authgate/authgate/gateway/internal/policy"
	"github.com/authgate/authgate/gateway/internal/proxy"
	"github.com/authgate/authgate/gateway/internal/server"
)

// run loads the configuration, connects (or embeds) the stores, serves until ctx ends and
// then drains. It logs "listening" with the bound address once it accepts connections.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := config.Load(config.Options{
		Args: args, Getenv: getenv,
		DefaultFile: "configs/gateway.yaml", DotEnvFile: ".env",
	})
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(stdout, &slog.HandlerOptions{Level: slog.LevelInfo}))

	st, err := openStores(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer st.close(log)

	accounts, err := authsvc.New(authConfig(cfg, log), st.db, st.rdb)
	if err != nil {
		return err
	}
	if err := accounts.Init(ctx); err != nil {
		return fmt.Errorf("mongodb: %w", err)
	}
	if b := cfg.Bootstrap; b.AdminEmail != "" {
		id, err := accounts.EnsureAdmin(ctx, b.AdminName, b.AdminEmail, b.AdminPassword)
		if err != nil {
			return fmt.Errorf("bootstrap admin: %w", err)
		}
		if id != "" {
			log.Info("bootstrap admin created", "user_id", id)
		}
	}

	routes, err := policy.NewTable(rules(cfg.Routes))
	if err != nil {
		return err
	}
	transport := proxy.NewTransport(cfg.Proxy.DialTimeout, cfg.Proxy.ResponseHeaderTimeout)
	defer transport.CloseIdleConnections()
	srv, err := server.New(server.Deps{
		Accounts:       accounts,
		Routes:         routes,
		Logger:         log,
		CORSOrigins:    cfg.CORS.Origins,
		BodyLimit:      cfg.Server.BodyLimit,
		TrustedProxies: cfg.TrustedProxies,
		Proxy: proxy.Options{
			Transport:   transport,
			Aliases:     cfg.Proxy.IdentityHeaderAliases,
			CookieNames: []string{authsvc.AccessCookie, authsvc.RefreshCookie, authsvc.LoggedInCookie},
		},
		Checks: []server.Check{
			{Name: "redis", Run: accounts.PingRedis},
			{Name: "mongodb", Run: accounts.PingMongo},
			{Name: "keys", Run: accounts.CheckKeys},
		},
	})
	if err != nil {
		return err
	}
	return serve(ctx, cfg, srv, log)
}

// serve listens on cfg.Listen and shuts down gracefully when ctx ends (SECURITY.md R4):
// /readyz answers 503 for the drain delay, the listener closes, in-flight requests
// (proxied ones too) get the shutdown timeout to finish; past it their contexts are
// cancelled and connections closed. serve returns only when no handler is running, so
// the stores can be closed after it.
func serve(ctx context.Context, cfg *config.Config, srv *server.Server, log *slog.Logger) error {
	baseCtx, cancelRequests := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelRequests()
	var inflight sync.WaitGroup
	hs := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			inflight.Add(1)
			defer inflight.Done()
			srv.ServeHTTP(w, r)
		}),
		BaseContext:       func(net.Listener) context.Context { return baseCtx },
		ReadHeaderTimeout: cfg.Server.ReadHeaderTimeout,
		ReadTimeout:       cfg.Server.ReadTimeout,
		WriteTimeout:      cfg.Server.WriteTimeout,
		IdleTimeout:       cfg.Server.IdleTimeout,
		MaxHeaderBytes:    cfg.Server.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	log.Info("listening", "addr", ln.Addr().String(), "mode", cfg.Mode)
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down", "drain_delay", cfg.Server.DrainDelay.String())
	srv.Drain()
	time.Sleep(cfg.Server.DrainDelay)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.Server.ShutdownTimeout)
	defer cancel()
	shutdownErr := hs.Shutdown(sctx)
	if shutdownErr != nil {
		log.Warn("shutdown timeout passed; cancelling the requests still running", "error", shutdownErr)
		cancelRequests()
		_ = hs.Close()
	}
	inflight.Wait()
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	if shutdownErr != nil {
		return fmt.Errorf("shutdown: %w", shutdownErr)
	}
	return nil
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
// applies the per-call timeout. Errors: a URL the mode cannot read.
func newRedisClient(mode, url string, timeout time.Duration) (redis.UniversalClient, error) {
	switch mode {
	case config.RedisCluster:
		o, err := redis.ParseClusterURL(url)
		if err != nil {
			return nil, fmt.Errorf("redis.url (cluster): %w", err)
		}
		o.DialTimeout, o.ReadTimeout, o.WriteTimeout = timeout, timeout, timeout
		o.ContextTimeoutEnabled = true
		return redis.NewClusterClient(o), nil
	case config.RedisSentinel:
		o, err := redis.ParseFailoverURL(url)
		if err != nil {
			return nil, fmt.Errorf("redis.url (sentinel): %w", err)
		}
		o.DialTimeout, o.ReadTimeout, o.WriteTimeout = timeout, timeout, timeout
		o.ContextTimeoutEnabled = true
		return redis.NewFailoverClient(o), nil
	default:
		o, err := redis.ParseURL(url)
		if err != nil {
			return nil, fmt.Errorf("redis.url: %w", err)
		}
		o.DialTimeout, o.ReadTimeout, o.WriteTimeout = timeout, timeout, timeout
		o.ContextTimeoutEnabled = true // a hung Redis must not hold a request past its deadline
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

func authConfig(cfg *config.Config, log *slog.Logger) authsvc.Config {
	t := cfg.Tokens
	c := authsvc.Config{
		AccessTTL: t.AccessTTL, RefreshTTL: t.RefreshTTL, RefreshGrace: t.RefreshGrace,
		IdleTTL: cfg.Sessions.IdleTTL, MaxTTL: cfg.Sessions.MaxTTL, Leeway: t.Leeway,
		Issuer: t.Issuer, Audience: t.Audience,
		AccessKeys:          authsvc.Keys{Private: t.AccessPrivateKey, Public: t.AccessPublicKey, Previous: t.AccessPreviousPublicKeys},
		RefreshKeys:         authsvc.Keys{Private: t.RefreshPrivateKey, Public: t.RefreshPublicKey, Previous: t.RefreshPreviousPublicKeys},
		SecureCookies:       cfg.Cookies.Secure || cfg.Production(),
		RefreshCookiePath:   cfg.Cookies.RefreshPath,
		PasswordMaxLength:   cfg.Passwords.MaxLength,
		MaxConcurrentHashes: cfg.Passwords.HashConcurrency(),
		RedisPrefix:         cfg.Redis.KeyPrefix,
		RedisTimeout:        cfg.Redis.Timeout,
		MongoTimeout:        cfg.MongoDB.Timeout,
		Logger:              log,
	}
	if !cfg.Production() {
		c.KeyDir = filepath.Join(cfg.DataDir, "keys")
	}
	return c
}

// rules turns configured routes into policy rules.
func rules(routes []config.Route) []policy.Rule {
	out := make([]policy.Rule, 0, len(routes))
	for _, r := range routes {
		access := policy.Authenticated
		switch r.Policy {
		case config.PolicyPublic:
			access = policy.Public
		case config.PolicyRoles:
			access = policy.Roles
		}
		out = append(out, policy.Rule{
			Path: r.Path, Exact: r.Match == config.MatchExact, Methods: r.Methods,
			Upstream: r.Upstream, Access: access, Roles: r.Roles,
			PassAuthorization: r.PassAuthorization, PassCookies: r.PassCookies,
		})
	}
	return out
}
