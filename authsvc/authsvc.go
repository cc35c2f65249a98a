// Package authsvc is the account service the gateway mounts in-process: users in
// MongoDB, passwords, RS256 (or ES256/EdDSA) JWTs, sessions in Redis, the /api/auth
// handlers and Authenticate for the proxy's hot path.
//
// Handlers return errors (the sentinels in errors.go or *ValidationError); the gateway
// maps them to responses in one place.
package authsvc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/authgate/authgate/authsvc/internal/password"
	"github.com/authgate/authgate/authsvc/internal/sessions"
	"github.com/authgate/authgate/authsvc/internal/tokens"
	"github.com/authgate/authgate/authsvc/internal/users"
)

// Cookie names of the seed contract.
const (
	AccessCookie   = "access_token"
	RefreshCookie  = "refresh_token"
	LoggedInCookie = "logged_in"
)

// Keys are one token kind's keys, each as PEM, base64-encoded PEM or a file path.
type Keys struct {
	Private  string   // signing key
	Public   string   // optional; must match Private when set
	Previous []string // verify-only public keys (rotation)
}

// Config configures the account service. Zero durations take the seed's defaults.
type Config struct {
	AccessTTL    time.Duration // default 15m
	RefreshTTL   time.Duration // default 59m
	RefreshGrace time.Duration // default 10s
	IdleTTL      time.Duration // default 60m
	MaxTTL       time.Duration // default 168h
	Leeway       time.Duration // clock skew allowed on exp/nbf/iat; 0 = none (the gateway's default is 30s)
	Issuer       string        // default "authgate"
	Audience     string        // default "authgate"

	AccessKeys  Keys
	RefreshKeys Keys
	// KeyDir, when set and a kind has no private key configured, is where development keys
	// are generated once and then reused, so restarts keep users logged in.
	KeyDir string

	SecureCookies     bool   // Secure on every cookie (production)
	RefreshCookiePath string // default "/"

	PasswordMaxLength   int    // characters; default 64
	MaxConcurrentHashes int    // default 2×GOMAXPROCS
	HashMemoryKiB       uint32 // argon2id memory; default 19456 (tests may lower it)
	HashIterations      uint32 // argon2id time; default 2

	RedisPrefix  string        // default "authgate:"
	RedisTimeout time.Duration // per call; default 1s
	MongoTimeout time.Duration // per call; default 5s

	Clock  func() time.Time // default time.Now
	Logger *slog.Logger     // default discards
}

func (c *Config) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.AccessTTL, 15*time.Minute)
	def(&c.RefreshTTL, 59*time.Minute)
	def(&c.RefreshGrace, 10*time.Second)
	def(&c.IdleTTL, 60*time.Minute)
	def(&c.MaxTTL, 7*24*time.Hour)
	def(&c.RedisTimeout, time.Second)
	def(&c.MongoTimeout, 5*time.Second)
	if c.Leeway < 0 {
		c.Leeway = 0
	}
	if c.Issuer == "" {
		c.Issuer = "authgate"
	}
	if c.Audience == "" {
		c.Audience = "authgate"
	}
	if c.RefreshCookiePath == "" {
		c.RefreshCookiePath = "/"
	}
	if c.PasswordMaxLength <= 0 {
		c.PasswordMaxLength = 64
	}
	if c.RedisPrefix == "" {
		c.RedisPrefix = "authgate:"
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Identity is who an authenticated request belongs to.
type Identity struct {
	UserID    string
	Role      string
	SessionID string
}

// Service is the account service.
type Service struct {
	cfg      Config
	log      *slog.Logger
	users    *users.Store
	sessions *sessions.Store
	access   *tokens.Codec
	verified *tokens.Cache // access tokens already verified (hot path)
	refresh  *tokens.Codec
	hasher   *password.Hasher
	// failFloor is the least time a failed login takes (0: no padding needed).
	failFloor time.Duration
}

// New builds the service on db (users) and rdb (sessions). It fails when keys cannot be
// loaded or generated.
func New(cfg Config, db *mongo.Database, rdb redis.UniversalClient) (*Service, error) {
	cfg.setDefaults()
	access, err := newCodec(cfg, tokens.Access, cfg.AccessKeys)
	if err != nil {
		return nil, fmt.Errorf("access token keys: %w", err)
	}
	refresh, err := newCodec(cfg, tokens.Refresh, cfg.RefreshKeys)
	if err != nil {
		return nil, fmt.Errorf("refresh token keys: %w", err)
	}
	params := password.DefaultParams()
	if cfg.HashMemoryKiB > 0 {
		params.Memory = cfg.HashMemoryKiB
	}
	if cfg.HashIterations > 0 {
		params.Time = cfg.HashIterations
	}
	return &Service{
		cfg:   cfg,
		log:   cfg.Logger,
		users: users.New(db, cfg.MongoTimeout),
		sessions: sessions.New(rdb, sessions.Config{
			Prefix:  cfg.RedisPrefix,
			IdleTTL: cfg.IdleTTL,
			MaxTTL:  cfg.MaxTTL,
			Grace:   cfg.RefreshGrace,
			Timeout: cfg.RedisTimeout,
			Clock:   cfg.Clock,
		}),
		access:   access,
		verified: tokens.NewCache(access, 0),
		refresh:  refresh,
		hasher:   password.NewHasher(params, cfg.MaxConcurrentHashes, 1024, nil),
	}, nil
}

// Init prepares MongoDB: the unique email index, normalised emails for seed accounts,
// and the failed-login time floor while seed bcrypt hashes remain. Errors wrap
// ErrUnavailable, or describe an index that contradicts ours.
func (s *Service) Init(ctx context.Context) error {
	if err := s.users.EnsureIndexes(ctx); err != nil {
		if errors.Is(err, users.ErrUnavailable) {
			return fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		return err
	}
	conflicts, err := s.users.NormalizeEmails(ctx)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if len(conflicts) > 0 {
		s.log.WarnContext(ctx, "users whose email differs from another account's only by case or spaces keep it as typed; merge or delete them",
			"user_ids", conflicts)
	}
	return s.measureFailFloor(ctx)
}

// measureFailFloor sets the time every failed login is padded to: while any seed bcrypt
// hash remains, 1.25× the time one takes to verify, so that an unknown email (answered
// after an argon2id dummy verify) does not stand out against a seed account (SECURITY.md P3).
func (s *Service) measureFailFloor(ctx context.Context) error {
	hash, err := s.users.AnyBcryptHash(ctx)
	if errors.Is(err, users.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	probe, err := s.access.NewID()
	if err != nil {
		return err
	}
	start := time.Now()
	if _, _, err := s.hasher.Verify(ctx, hash, probe); err != nil && !errors.Is(err, password.ErrMalformedHash) {
		return hashError(err)
	}
	s.failFloor = time.Since(start) * 5 / 4
	s.log.InfoContext(ctx, "seed bcrypt hashes present: failed logins are padded", "floor_ms", s.failFloor.Milliseconds())
	return nil
}

// TokenFromRequest returns the access token of r: the Bearer token of the Authorization
// header if there is one, else the access_token cookie; "" when neither.
func TokenFromRequest(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		if len(h) > 7 && strings.EqualFold(h[:7], "Bearer ") {
			return strings.TrimSpace(h[7:])
		}
	}
	if c, err := r.Cookie(AccessCookie); err == nil {
		return c.Value
	}
	return ""
}

// AuthenticateRequest authenticates r exactly as the seed did: ErrNotLoggedIn without a
// token, then as Authenticate.
func (s *Service) AuthenticateRequest(r *http.Request) (Identity, error) {
	tok := TokenFromRequest(r)
	if tok == "" {
		return Identity{}, ErrNotLoggedIn
	}
	return s.Authenticate(r.Context(), tok)
}

// Authenticate verifies an access token and its session: one signature check per token
// (then cached until it expires) and one Redis read per request, never MongoDB.
// Errors: ErrInvalidToken, ErrSessionExpired, ErrUnavailable.
func (s *Service) Authenticate(ctx context.Context, token string) (Identity, error) {
	claims, err := s.verified.Parse(token)
	if err != nil {
		return Identity{}, ErrInvalidToken
	}
	sess, err := s.sessions.Get(ctx, claims.Subject, claims.SessionID)
	if err != nil {
		return Identity{}, s.sessionError(err)
	}
	return Identity{UserID: sess.UserID, Role: sess.Role, SessionID: sess.ID}, nil
}

// sessionError translates a session store error for the authentication path.
func (s *Service) sessionError(err error) error {
	if errors.Is(err, sessions.ErrNotFound) || errors.Is(err, sessions.ErrReplay) {
		return ErrSessionExpired
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}

// CheckKeys signs and verifies a probe token with each key (readiness): it fails when a
// signer (a file, an HSM) stops working.
func (s *Service) CheckKeys(context.Context) error {
	for _, c := range []*tokens.Codec{s.access, s.refresh} {
		tok, _, err := c.Issue("readiness", "readiness", "readiness")
		if err != nil {
			return err
		}
		if _, err := c.Parse(tok); err != nil {
			return err
		}
	}
	return nil
}

// PingRedis reports whether Redis answers (readiness).
func (s *Service) PingRedis(ctx context.Context) error { return s.sessions.Ping(ctx) }

// PingMongo reports whether MongoDB answers.
func (s *Service) PingMongo(ctx context.Context) error { return s.users.Ping(ctx) }
