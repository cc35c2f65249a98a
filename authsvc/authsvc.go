// Package authsvc is the account core the gateway runs in-process: users in MongoDB,
// passwords, JWT access and refresh tokens (RS256, ES256 or EdDSA) and sessions in Redis.
// It has no HTTP in it: the JSON API, the sign-in page, forward auth and the CLI are thin
// callers of Register, Login, Refresh, Logout, Authenticate and the session methods, and
// each maps the sentinel errors of errors.go to its own answers.
package authsvc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/authgate/authgate/authsvc/internal/audit"
	"github.com/authgate/authgate/authsvc/internal/password"
	"github.com/authgate/authgate/authsvc/internal/regulation"
	"github.com/authgate/authgate/authsvc/internal/sessions"
	"github.com/authgate/authgate/authsvc/internal/tokens"
	"github.com/authgate/authgate/authsvc/internal/users"
)

// Config configures the account core. Every value is required: the gateway's
// configuration package is the one source of defaults. Only Clock and Logger may be nil,
// and Email may be left zero (no mail is sent).
type Config struct {
	AccessTTL    time.Duration // access token lifetime
	RefreshTTL   time.Duration // refresh token lifetime
	RefreshGrace time.Duration // a just-rotated refresh token still gets an access token this long
	IdleTTL      time.Duration // sessions slide by this much at every refresh
	MaxTTL       time.Duration // and never outlive this
	MaxSessions  int           // sessions per user; the least recently used go first
	// SessionCacheTTL is how long a replica may serve a session it read from Redis
	// without reading it again (0: never); revocations reach every replica at once
	// through Redis pub/sub (see Run), so this bounds only what no message announces.
	SessionCacheTTL time.Duration
	Leeway          time.Duration // clock skew allowed on exp/nbf/iat, 0..60s
	Issuer          string
	Audience        string

	Keys *Keys // from LoadKeys

	PasswordMaxLength   int // characters
	MaxConcurrentHashes int // argon2id computations at once
	// HashWait is how long a caller waits for a hashing slot before ErrUnavailable;
	// 0 means password.DefaultMaxWait.
	HashWait       time.Duration
	HashMemoryKiB  uint32 // argon2id memory; 0 means the OWASP 19 MiB (tests may lower it)
	HashIterations uint32 // argon2id passes; 0 means 2

	RedisPrefix  string        // prefix of every key
	RedisTimeout time.Duration // per Redis call
	MongoTimeout time.Duration // per MongoDB call

	// Email is verification and password-reset mail; its zero value sends none.
	Email EmailConfig
	// Audit bounds the audit log (audit.go).
	Audit AuditConfig

	// Regulation is brute-force regulation; its zero value regulates nothing.
	Regulation RegulationConfig

	Clock  func() time.Time // nil means time.Now
	Logger *slog.Logger     // nil discards
}

// check reports missing or out-of-range values, all at once.
func (c *Config) check() error {
	var errs []error
	positive := []struct {
		name string
		d    time.Duration
	}{
		{"AccessTTL", c.AccessTTL}, {"RefreshTTL", c.RefreshTTL}, {"RefreshGrace", c.RefreshGrace},
		{"IdleTTL", c.IdleTTL}, {"MaxTTL", c.MaxTTL}, {"RedisTimeout", c.RedisTimeout}, {"MongoTimeout", c.MongoTimeout},
	}
	for _, p := range positive {
		if p.d <= 0 {
			errs = append(errs, fmt.Errorf("authsvc: %s must be > 0", p.name))
		}
	}
	if c.SessionCacheTTL < 0 {
		errs = append(errs, errors.New("authsvc: SessionCacheTTL must be >= 0"))
	}
	if c.Leeway < 0 || c.Leeway > tokens.MaxLeeway {
		errs = append(errs, fmt.Errorf("authsvc: Leeway must be between 0 and %s", tokens.MaxLeeway))
	}
	if c.Issuer == "" || c.Audience == "" {
		errs = append(errs, errors.New("authsvc: Issuer and Audience are required"))
	}
	if c.Keys == nil {
		errs = append(errs, errors.New("authsvc: Keys are required"))
	}
	if c.PasswordMaxLength < MinPasswordLength || c.MaxConcurrentHashes <= 0 || c.MaxSessions <= 0 {
		errs = append(errs, errors.New("authsvc: PasswordMaxLength, MaxConcurrentHashes and MaxSessions are required"))
	}
	errs = append(errs, c.Email.check()...)
	errs = append(errs, c.Audit.check()...)
	errs = append(errs, c.Regulation.check()...)
	return errors.Join(errs...)
}

// Identity is who an authenticated request belongs to, as the session records it: the
// role, email and name come from the session, so no request needs MongoDB.
type Identity struct {
	UserID    string
	Role      string
	SessionID string
	Email     string
	Name      string
}

// Credentials are what a user signs in with.
type Credentials struct {
	Email, Password string
}

// Client describes where a request comes from: IP is the client address as the
// gateway's trusted proxies report it (the regulation counts by it), both are stored
// with a session.
type Client struct {
	IP, UserAgent string
}

// Grant is the outcome of a login or a refresh: a session's tokens.
type Grant struct {
	Identity       Identity
	AccessToken    string
	AccessExpires  time.Time
	RefreshToken   string // "" after a grace replay: the client keeps its current one
	RefreshExpires time.Time
}

// User is an account as callers see it: never the password hash.
type User struct {
	ID, Name, Email, Role, Photo, Provider string
	Verified                               bool
	Disabled                               bool // refused at login and refresh (admin.go)
	CreatedAt, UpdatedAt                   time.Time
}

// Session is one login of a user, as listed to them.
type Session struct {
	ID                             string
	IP, UserAgent                  string
	CreatedAt, LastSeen, ExpiresAt time.Time
}

// Service is the account core. It is safe for concurrent use.
type Service struct {
	cfg      Config
	rules    Rules
	log      *slog.Logger
	users    *users.Store
	sessions *sessions.Store
	cache    *sessions.Cache // the hot path's session reads
	access   *tokens.Codec
	verified *tokens.Cache // access tokens already verified (hot path)
	refresh  *tokens.Codec
	// verifiedRefresh caches refresh tokens verified as proof (forward auth); Refresh
	// itself parses every time.
	verifiedRefresh *tokens.Cache
	hasher          *password.Hasher
	// failFloor is the least time a failed login takes (0: no padding needed).
	failFloor time.Duration
	// forgot queues forgot-password requests for the background workers (email.go).
	forgot chan forgotJob
	// audit records security events and admin actions (audit.go); auditStore reads them.
	audit      *audit.Recorder
	auditStore *audit.Store
	// reg holds the failure counters and bans (regulation.go).
	reg *regulation.Store
}

// New builds the core on db (users) and rdb (sessions). It touches neither: Init
// prepares the database. Errors: a Config value missing or out of range.
func New(cfg Config, db *mongo.Database, rdb redis.UniversalClient) (*Service, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	codec := func(typ tokens.Type, ttl time.Duration, keys *tokens.KeySet) (*tokens.Codec, error) {
		return tokens.New(tokens.Config{
			Type: typ, Issuer: cfg.Issuer, Audience: cfg.Audience, TTL: ttl, Leeway: cfg.Leeway,
			Keys: keys, Clock: cfg.Clock,
		})
	}
	access, err := codec(tokens.Access, cfg.AccessTTL, cfg.Keys.access)
	if err != nil {
		return nil, err
	}
	refresh, err := codec(tokens.Refresh, cfg.RefreshTTL, cfg.Keys.refresh)
	if err != nil {
		return nil, err
	}
	store, err := sessions.New(rdb, sessions.Config{
		Prefix: cfg.RedisPrefix, IdleTTL: cfg.IdleTTL, MaxTTL: cfg.MaxTTL, Grace: cfg.RefreshGrace,
		Timeout: cfg.RedisTimeout, MaxPerUser: cfg.MaxSessions, Clock: cfg.Clock,
	})
	if err != nil {
		return nil, err
	}
	params := password.DefaultParams()
	if cfg.HashMemoryKiB > 0 {
		params.Memory = cfg.HashMemoryKiB
	}
	if cfg.HashIterations > 0 {
		params.Time = cfg.HashIterations
	}
	hasher := password.NewHasher(params, cfg.MaxConcurrentHashes, 1024, nil)
	if cfg.HashWait > 0 {
		hasher.SetMaxWait(cfg.HashWait)
	}
	auditStore := audit.NewStore(db, cfg.MongoTimeout, cfg.Audit.Retention, cfg.Logger)
	return &Service{
		cfg:      cfg,
		rules:    Rules{PasswordMaxLength: cfg.PasswordMaxLength},
		log:      cfg.Logger,
		users:    users.New(db, cfg.MongoTimeout),
		sessions: store,
		cache:    sessions.NewCache(store, cfg.SessionCacheTTL, 0, cfg.Logger),
		access:   access,
		verified: tokens.NewCache(access, 0),
		refresh:  refresh,

		verifiedRefresh: tokens.NewCache(refresh, 0),
		hasher:          hasher,
		forgot:          make(chan forgotJob, forgotQueueSize),
		auditStore:      auditStore,
		audit: audit.NewRecorder(auditStore, audit.RecorderConfig{
			Queue: auditQueue, Timeout: cfg.MongoTimeout, Clock: cfg.Clock, Logger: cfg.Logger,
		}),
		reg: regulation.New(rdb, cfg.RedisPrefix, cfg.RedisTimeout),
	}, nil
}

// ErrMigrationNeeded: the users collection holds the seed backend's data and has not
// been migrated (emails as typed would let ALICE@x register beside Alice@x).
var ErrMigrationNeeded = errors.New("the users collection comes from the seed backend and has not been migrated: " +
	"run `gateway migrate` (or start with `gateway serve --migrate`)")

// Init prepares MongoDB for serving without scanning the users: the unique email index
// and the failed-login time floor, read from the bookkeeping Migrate keeps. While bcrypt
// hashes may remain, every failed login is padded to the time one bcrypt check takes, so
// an unknown email does not stand out against a seed account (SECURITY.md P3).
// Errors: ErrMigrationNeeded, errors wrapping ErrUnavailable, or an index that
// contradicts ours.
func (s *Service) Init(ctx context.Context) error {
	if err := s.ensureIndexes(ctx); err != nil {
		return err
	}
	meta, err := s.users.LoadMeta(ctx)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if !meta.Legacy {
		return nil
	}
	if meta.ResumeAfter != nil || meta.MigratedAt.IsZero() {
		return ErrMigrationNeeded
	}
	floor, err := s.hasher.BcryptTime(ctx, meta.BcryptCost)
	if err != nil {
		return hashError(err)
	}
	s.failFloor = floor * 5 / 4
	s.log.InfoContext(ctx, "seed bcrypt hashes may remain: failed logins are padded", "floor_ms", s.failFloor.Milliseconds())
	return nil
}

func (s *Service) ensureIndexes(ctx context.Context) error {
	if err := s.users.EnsureIndexes(ctx); err != nil {
		if errors.Is(err, users.ErrUnavailable) {
			return fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		return err
	}
	if err := s.users.EnsureCodeIndexes(ctx); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if err := s.auditStore.EnsureIndexes(ctx); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return nil
}

// MigrationReport says what Migrate did.
type MigrationReport = users.MigrationReport

// Migrate brings a seed database up to date (emails normalised, bcrypt hashes counted)
// in batches, resumably, and records the outcome so that the next start pads failed
// logins only while bcrypt hashes remain. Errors wrap ErrUnavailable.
func (s *Service) Migrate(ctx context.Context) (MigrationReport, error) {
	if err := s.ensureIndexes(ctx); err != nil {
		return MigrationReport{}, err
	}
	rep, err := s.users.Migrate(ctx, 500)
	if err != nil {
		return rep, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return rep, nil
}

// Run keeps the subscription to the revocation channel until ctx ends: the session
// cache serves nothing while it is down, and OnRevoke subscribers hear every
// revocation. It also runs the forgot-password workers (email.go), which send nothing
// until it runs, and the audit log's writer and cleanup (audit.go): audit events are
// stored only while it runs, and those still queued when ctx ends are written before
// it returns. Run it in its own goroutine while serving, and wait for it before
// closing the stores.
func (s *Service) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for range forgotWorkers {
		wg.Go(func() { s.runForgot(ctx) })
	}
	wg.Go(func() { s.runAudit(ctx) })
	s.cache.Run(ctx)
	wg.Wait()
}

// OnRevoke registers f, called on every replica when a session ends or changes
// (sessionID "*": every session of the user). Call it before Run.
func (s *Service) OnRevoke(f func(userID, sessionID string)) { s.cache.OnRevoke(f) }

// Ready reports whether Redis and MongoDB answer, as two checks for readiness.
func (s *Service) Ready() []Check {
	return []Check{
		{Name: "redis", Run: s.sessions.Ping},
		{Name: "mongodb", Run: s.users.Ping},
	}
}

// Check is one named dependency check.
type Check struct {
	Name string
	Run  func(ctx context.Context) error
}
