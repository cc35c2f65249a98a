// Package config loads the gateway's configuration: built-in defaults, then a
// YAML file (configs/gateway.yaml or --config PATH), then a .env file, then the
// process environment (AUTHGATE_<KEY>, nested keys joined by "__", plus the
// seed backend's variables). Load validates the merged result and reports every
// problem at once.
//
// configs/gateway.yaml at the repository root documents every key; it holds
// exactly the built-in defaults.
package config

import (
	"runtime"
	"time"
)

// Modes accepted in Config.Mode.
const (
	ModeDevelopment = "development"
	ModeProduction  = "production"
)

// Redis deployments accepted in Redis.Mode.
const (
	// RedisSingle: URL names one server (redis://, rediss://, unix://).
	RedisSingle = "single"
	// RedisCluster: URL is redis://node1:port?addr=node2:port&addr=node3:port.
	RedisCluster = "cluster"
	// RedisSentinel: URL is redis://sentinel1:26379?master_name=NAME&addr=sentinel2:26379.
	RedisSentinel = "sentinel"
)

// Route match kinds accepted in Route.Match.
const (
	// MatchPrefix matches the path and everything below it, on segment
	// boundaries: "/api/users" matches "/api/users" and "/api/users/42" but
	// not "/api/usersx".
	MatchPrefix = "prefix"
	// MatchExact matches the path only.
	MatchExact = "exact"
)

// Route policies accepted in Route.Policy.
const (
	// PolicyPublic forwards without authentication.
	PolicyPublic = "public"
	// PolicyAuthenticated requires a valid access token and live session.
	PolicyAuthenticated = "authenticated"
	// PolicyRoles additionally requires the session's role to be in Route.Roles.
	PolicyRoles = "roles"
)

// Config is the merged, validated gateway configuration.
type Config struct {
	// Listen is the edge server's address, host:port (":8000").
	Listen string `koanf:"listen"`
	// Mode is ModeDevelopment or ModeProduction.
	Mode string `koanf:"mode"`
	// DataDir holds the embedded stores' files and generated development keys.
	DataDir   string    `koanf:"data_dir"`
	MongoDB   MongoDB   `koanf:"mongodb"`
	Redis     Redis     `koanf:"redis"`
	Embedded  Embedded  `koanf:"embedded"`
	Tokens    Tokens    `koanf:"tokens"`
	Sessions  Sessions  `koanf:"sessions"`
	Cookies   Cookies   `koanf:"cookies"`
	CORS      CORS      `koanf:"cors"`
	Passwords Passwords `koanf:"passwords"`
	Bootstrap Bootstrap `koanf:"bootstrap"`
	// TrustedProxies are IPs or CIDRs whose X-Forwarded-For is believed.
	TrustedProxies []string  `koanf:"trusted_proxies"`
	Server         Server    `koanf:"server"`
	Proxy          Proxy     `koanf:"proxy"`
	Paths          Paths     `koanf:"paths"`
	Authz          Authz     `koanf:"authz"`
	Redirects      Redirects `koanf:"redirects"`
	CSRF           CSRF      `koanf:"csrf"`
	Email          Email     `koanf:"email"`
	Audit          Audit     `koanf:"audit"`
	// Regulation is brute-force regulation: login lockouts and request limits.
	Regulation Regulation `koanf:"regulation"`
	// Routes are the proxied paths, matched in the order given.
	Routes []Route `koanf:"routes"`
}

// MongoDB configures the user store. An empty URI selects the embedded
// FerretDB (development only).
type MongoDB struct {
	URI      string        `koanf:"uri"`
	Database string        `koanf:"database"`
	Timeout  time.Duration `koanf:"timeout"`
}

// Redis configures the session store. An empty URL selects the embedded
// Redis-protocol server (development only).
type Redis struct {
	URL       string `koanf:"url"`
	KeyPrefix string `koanf:"key_prefix"`
	// Mode is RedisSingle, RedisCluster or RedisSentinel; it says how URL is read.
	Mode    string        `koanf:"mode"`
	Timeout time.Duration `koanf:"timeout"`
}

// Embedded holds the listen addresses of the embedded development stores.
type Embedded struct {
	MongoDBListen string `koanf:"mongodb_listen"`
	RedisListen   string `koanf:"redis_listen"`
}

// Tokens configures JWT lifetimes, claims and keys. Keys are PEM, base64 PEM
// or a file path; they are checked for presence only here.
type Tokens struct {
	AccessTTL                 time.Duration `koanf:"access_ttl"`
	RefreshTTL                time.Duration `koanf:"refresh_ttl"`
	RefreshGrace              time.Duration `koanf:"refresh_grace"`
	Leeway                    time.Duration `koanf:"leeway"`
	Issuer                    string        `koanf:"issuer"`
	Audience                  string        `koanf:"audience"`
	AccessPrivateKey          string        `koanf:"access_private_key"`
	AccessPublicKey           string        `koanf:"access_public_key"`
	RefreshPrivateKey         string        `koanf:"refresh_private_key"`
	RefreshPublicKey          string        `koanf:"refresh_public_key"`
	AccessPreviousPublicKeys  []string      `koanf:"access_previous_public_keys"`
	RefreshPreviousPublicKeys []string      `koanf:"refresh_previous_public_keys"`
	// AssertionTTL is the lifetime of the identity assertions routes with assertion send
	// upstream (whole seconds, 1s..60s); each is reused while more than half is left.
	AssertionTTL time.Duration `koanf:"assertion_ttl"`
	// The assertion signing key and its verify-only predecessors; required in production
	// only when a route has assertion, generated in development.
	AssertionPrivateKey         string   `koanf:"assertion_private_key"`
	AssertionPublicKey          string   `koanf:"assertion_public_key"`
	AssertionPreviousPublicKeys []string `koanf:"assertion_previous_public_keys"`
}

// Sessions configures the sliding idle expiry, the absolute maximum and how many
// sessions one user may have.
type Sessions struct {
	IdleTTL    time.Duration `koanf:"idle_ttl"`
	MaxTTL     time.Duration `koanf:"max_ttl"`
	MaxPerUser int           `koanf:"max_per_user"`
	// CacheTTL is how long a replica serves a session from memory (0: off);
	// revocations reach every replica at once over Redis pub/sub.
	CacheTTL time.Duration `koanf:"cache_ttl"`
}

// Cookies configures the auth cookies. Load forces Secure in production.
type Cookies struct {
	RefreshPath string `koanf:"refresh_path"`
	Secure      bool   `koanf:"secure"`
	// Domain makes the cookies cover a parent domain ("example.com": one sign-in for
	// app.example.com and auth.example.com); "" keeps them host-only.
	Domain string `koanf:"domain"`
	// HostPrefix names the token cookies __Host-access_token and __Host-refresh_token,
	// which browsers bind to the exact host, https and Path=/. It needs Secure (production),
	// no Domain and refresh_path "/"; logged_in keeps its name (the seed client reads it).
	HostPrefix bool `koanf:"host_prefix"`
}

// CORS lists the browser origins allowed to make credentialed requests.
// Load lower-cases them.
type CORS struct {
	Origins []string `koanf:"origins"`
}

// Passwords configures password hashing limits.
type Passwords struct {
	MaxLength int `koanf:"max_length"`
	// MaxConcurrentHashes bounds parallel hash computations; 0 means
	// 2×GOMAXPROCS (see HashConcurrency).
	MaxConcurrentHashes int `koanf:"max_concurrent_hashes"`
	// MaxWait is how long a login or registration waits for a hashing slot before it is
	// answered 503: a burst queues this long instead of failing at once.
	MaxWait time.Duration `koanf:"max_wait"`
}

// Bootstrap optionally creates an admin account at start-up.
type Bootstrap struct {
	AdminEmail    string `koanf:"admin_email"`
	AdminPassword string `koanf:"admin_password"`
	AdminName     string `koanf:"admin_name"`
}

// Server configures the edge HTTP server.
type Server struct {
	ReadHeaderTimeout time.Duration `koanf:"read_header_timeout"`
	ReadTimeout       time.Duration `koanf:"read_timeout"`
	WriteTimeout      time.Duration `koanf:"write_timeout"`
	IdleTimeout       time.Duration `koanf:"idle_timeout"`
	MaxHeaderBytes    int           `koanf:"max_header_bytes"`
	ShutdownTimeout   time.Duration `koanf:"shutdown_timeout"`
	// DrainDelay is how long /readyz answers 503 before the listener closes on
	// shutdown, so that load balancers stop sending traffic first; 0 skips it.
	DrainDelay time.Duration `koanf:"drain_delay"`
	// BodyLimit caps request bodies the gateway reads itself, in Echo's
	// body-limit syntax ("10KB", "1MB"; K/M/G are decimal, Ki/Mi/Gi binary).
	BodyLimit string `koanf:"body_limit"`
	// PprofListen serves Go's net/http/pprof profiles on this address (keep it on
	// loopback); "" is off.
	PprofListen string `koanf:"pprof_listen"`
}

// Proxy configures the reverse proxy to upstreams.
type Proxy struct {
	DialTimeout           time.Duration `koanf:"dial_timeout"`
	ResponseHeaderTimeout time.Duration `koanf:"response_header_timeout"`
	// IdentityHeaderAliases are extra header names treated like X-User-Id:
	// stripped from client requests.
	IdentityHeaderAliases []string `koanf:"identity_header_aliases"`
	// WebSocketCheckInterval is how often the sessions of open WebSockets are checked;
	// a revoked session's sockets are closed within it.
	WebSocketCheckInterval time.Duration `koanf:"websocket_check_interval"`
}

// Authz configures the forward-auth endpoints.
type Authz struct {
	// IdentityHeaders are extra headers that carry identity fields, in forward-auth
	// answers and to upstreams, as "Header=field" with field id, role, email or name
	// ("Remote-User=email", "X-Auth-Request-Email=email").
	IdentityHeaders []string `koanf:"identity_headers"`
	// SignInURL is where browsers are sent to sign in: "/login" on the gateway, or an
	// absolute URL when the gateway is reached at another host behind a proxy
	// ("https://auth.example.com/login").
	SignInURL string `koanf:"sign_in_url"`
	// GRPCListen is the address of the Envoy ext_authz gRPC listener; "" is off.
	GRPCListen string `koanf:"grpc_listen"`
}

// Redirects configures where the sign-in page and forward auth may send browsers.
type Redirects struct {
	// AllowedHosts are the hosts an absolute redirect target may name (besides
	// relative paths); empty means the hosts of the route table and of cors.origins.
	AllowedHosts []string `koanf:"allowed_hosts"`
}

// CSRF configures the cross-origin check of cookie-authenticated unsafe requests.
type CSRF struct {
	// TrustedOrigins may send such requests besides the gateway's own origin and
	// cors.origins.
	TrustedOrigins []string `koanf:"trusted_origins"`
}

// Paths configures the request-path checks.
type Paths struct {
	// AllowAmbiguousSegments accepts segments ending in '.' or a space and letters
	// that upstreams fold to ASCII, for upstreams known to read them literally.
	AllowAmbiguousSegments bool `koanf:"allow_ambiguous_segments"`
}

// Route maps a path to an upstream and a policy. After Load, Match is
// MatchPrefix or MatchExact, Methods are upper-case (empty means any), and
// Policy is PolicyPublic, PolicyAuthenticated or PolicyRoles (with non-empty
// Roles).
type Route struct {
	Host              string   `koanf:"host"`
	Path              string   `koanf:"path"`
	Match             string   `koanf:"match"`
	Methods           []string `koanf:"methods"`
	Upstream          string   `koanf:"upstream"`
	Policy            string   `koanf:"policy"`
	Roles             []string `koanf:"roles"`
	PassAuthorization bool     `koanf:"pass_authorization"`
	PassCookies       bool     `koanf:"pass_cookies"`
	// CSRF false exempts the route from the cross-origin check (an API that takes
	// cookie-authenticated form posts from other origins on purpose). Default true.
	CSRF *bool `koanf:"csrf"`
	// Name names the upstream application: the audience of its identity assertions.
	Name string `koanf:"name"`
	// Assertion sends a signed identity assertion (X-Auth-Assertion) upstream.
	Assertion bool `koanf:"assertion"`
}

// UsesAssertions reports whether any route sends identity assertions.
func (c *Config) UsesAssertions() bool {
	for _, r := range c.Routes {
		if r.Assertion {
			return true
		}
	}
	return false
}

// Production reports whether the gateway runs in production mode.
func (c *Config) Production() bool {
	return c.Mode == ModeProduction
}

// HashConcurrency returns MaxConcurrentHashes, or 2×GOMAXPROCS when it is 0.
func (p Passwords) HashConcurrency() int {
	if p.MaxConcurrentHashes > 0 {
		return p.MaxConcurrentHashes
	}
	return 2 * runtime.GOMAXPROCS(0)
}
