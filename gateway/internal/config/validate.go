package config

import (
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"reflect"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/gommon/bytes"
)

// Limits enforced by validate.
const (
	maxLeeway         = 60 * time.Second
	maxAssertionTTL   = 60 * time.Second
	minPasswordLength = 8
	maxPasswordLength = 1024
)

// normalise fills implied values before validation: route defaults
// (see normaliseRoute), lower-case CORS origins, Secure cookies in
// production, and nil for every empty list, however it was written.
func normalise(c *Config) {
	nilEmptySlices(reflect.ValueOf(c).Elem())
	for i := range c.Routes {
		normaliseRoute(&c.Routes[i])
	}
	for i, o := range c.CORS.Origins {
		c.CORS.Origins[i] = strings.ToLower(o)
	}
	for i, o := range c.CSRF.TrustedOrigins {
		c.CSRF.TrustedOrigins[i] = strings.ToLower(o)
	}
	for i, h := range c.Redirects.AllowedHosts {
		c.Redirects.AllowedHosts[i] = strings.ToLower(h)
	}
	if c.Production() {
		c.Cookies.Secure = true
	}
}

// nilEmptySlices sets the empty slices in v, a settable struct, to nil,
// recursing into structs and slice elements.
func nilEmptySlices(v reflect.Value) {
	for i := range v.NumField() {
		f := v.Field(i)
		switch f.Kind() {
		case reflect.Struct:
			nilEmptySlices(f)
		case reflect.Slice:
			if f.Len() == 0 {
				f.SetZero()
				continue
			}
			if f.Type().Elem().Kind() == reflect.Struct {
				for j := range f.Len() {
					nilEmptySlices(f.Index(j))
				}
			}
		}
	}
}

// validate adds a problem for every invalid value of c.
func validate(c *Config, p *problems) {
	validateAddr("listen", c.Listen, p)
	if c.Mode != ModeDevelopment && c.Mode != ModeProduction {
		p.add("mode", "must be %s or %s", ModeDevelopment, ModeProduction)
	}
	validateDurations(c, p)
	validateStores(c, p)
	validateTokens(&c.Tokens, p)
	if !strings.HasPrefix(c.Cookies.RefreshPath, "/") || strings.ContainsFunc(c.Cookies.RefreshPath, badCookieRune) {
		p.add("cookies.refresh_path", `must be a path starting with "/" without ";" or control characters`)
	}
	if d := c.Cookies.Domain; d != "" && (strings.ContainsFunc(d, badCookieRune) || strings.ContainsAny(d, " /:") || !strings.Contains(strings.Trim(d, "."), ".")) {
		p.add("cookies.domain", `must be a domain such as "example.com" (or empty for host-only cookies)`)
	}
	if c.Sessions.CacheTTL < 0 || c.Sessions.CacheTTL > time.Minute {
		p.add("sessions.cache_ttl", "must be between 0s (off) and 1m")
	}
	if c.Sessions.MaxPerUser <= 0 {
		p.add("sessions.max_per_user", "must be > 0")
	}
	if c.Cookies.HostPrefix && (c.Cookies.Domain != "" || c.Cookies.RefreshPath != "/" || !c.Cookies.Secure) {
		p.add("cookies.host_prefix", `needs Secure cookies (cookies.secure or production), no cookies.domain and cookies.refresh_path "/"`)
	}
	for i, o := range c.CSRF.TrustedOrigins {
		validateOrigin(fmt.Sprintf("csrf.trusted_origins[%d]", i), o, p)
	}
	if u := c.Authz.SignInURL; !strings.HasPrefix(u, "/") || strings.HasPrefix(u, "//") {
		if parsed, err := url.Parse(u); err != nil || (parsed.Scheme != "https" && parsed.Scheme != "http") || parsed.Host == "" {
			p.add("authz.sign_in_url", `must be a path such as "/login" or an absolute http(s) URL`)
		}
	}
	if c.Server.PprofListen != "" {
		validateLoopbackAddr("server.pprof_listen", c.Server.PprofListen, p)
	}
	if c.Authz.GRPCListen != "" {
		validateAddr("authz.grpc_listen", c.Authz.GRPCListen, p)
	}

	for i, o := range c.CORS.Origins {
		validateOrigin(fmt.Sprintf("cors.origins[%d]", i), o, p)
	}
	validatePasswords(c, p)
	if c.Server.MaxHeaderBytes <= 0 {
		p.add("server.max_header_bytes", "must be > 0")
	}
	if n, err := bytes.Parse(c.Server.BodyLimit); err != nil || n <= 0 {
		p.add("server.body_limit", `must be a positive size such as "10KB" or "1MB", got %q`, c.Server.BodyLimit)
	}
	validateRoutes(c.Routes, p)
	validateEmail(c, p)
	validateAudit(c, p)
	validateRegulation(c, p)
	validateAudiences(c, p)
	if c.Production() {
		validateProduction(c, p)
	}
}

// validateDurations checks that every duration is positive and that the
// lifetimes are consistent.
func validateDurations(c *Config, p *problems) {
	positive := []struct {
		key string
		d   time.Duration
	}{
		{"mongodb.timeout", c.MongoDB.Timeout},
		{"redis.timeout", c.Redis.Timeout},
		{"tokens.access_ttl", c.Tokens.AccessTTL},
		{"tokens.refresh_ttl", c.Tokens.RefreshTTL},
		{"tokens.refresh_grace", c.Tokens.RefreshGrace},
		{"sessions.idle_ttl", c.Sessions.IdleTTL},
		{"sessions.max_ttl", c.Sessions.MaxTTL},
		{"server.read_header_timeout", c.Server.ReadHeaderTimeout},
		{"server.read_timeout", c.Server.ReadTimeout},
		{"server.write_timeout", c.Server.WriteTimeout},
		{"server.idle_timeout", c.Server.IdleTimeout},
		{"server.shutdown_timeout", c.Server.ShutdownTimeout},
		{"proxy.dial_timeout", c.Proxy.DialTimeout},
		{"proxy.response_header_timeout", c.Proxy.ResponseHeaderTimeout},
		{"proxy.websocket_check_interval", c.Proxy.WebSocketCheckInterval},
	}
	if c.Server.DrainDelay < 0 {
		p.add("server.drain_delay", "must be >= 0")
	}
	for _, d := range positive {
		if d.d <= 0 {
			p.add(d.key, "must be > 0")
		}
	}
	t := c.Tokens
	if t.AccessTTL > 0 && t.RefreshTTL > 0 && t.RefreshTTL <= t.AccessTTL {
		p.add("tokens.refresh_ttl", "must be greater than tokens.access_ttl (%s)", t.AccessTTL)
	}
	if t.Leeway < 0 || t.Leeway > maxLeeway {
		p.add("tokens.leeway", "must be between 0s and %s", maxLeeway)
	}
	s := c.Sessions
	if s.IdleTTL > 0 && s.MaxTTL > 0 && s.MaxTTL < s.IdleTTL {
		p.add("sessions.max_ttl", "must be >= sessions.idle_ttl (%s)", s.IdleTTL)
	}
}

// validateStores checks the store settings. URIs are never echoed: they may
// hold passwords.
func validateStores(c *Config, p *problems) {
	if uri := strings.ToLower(c.MongoDB.URI); uri != "" &&
		!strings.HasPrefix(uri, "mongodb://") && !strings.HasPrefix(uri, "mongodb+srv://") {
		p.add("mongodb.uri", "must start with mongodb:// or mongodb+srv://")
	}
	if db := c.MongoDB.Database; db == "" || len(db) > 63 || strings.ContainsAny(db, `/\. "$`) {
		p.add("mongodb.database", `must be 1 to 63 characters without /\. "$`)
	}
	if u := strings.ToLower(c.Redis.URL); u != "" && !strings.HasPrefix(u, "redis://") &&
		!strings.HasPrefix(u, "rediss://") && !strings.HasPrefix(u, "unix://") {
		p.add("redis.url", "must start with redis://, rediss:// or unix://")
	}
	switch c.Redis.Mode {
	case RedisSingle:
	case RedisCluster, RedisSentinel:
		if c.Redis.URL == "" {
			p.add("redis.mode", "%s needs redis.url (the embedded server is single)", c.Redis.Mode)
		} else if c.Redis.Mode == RedisSentinel && !strings.Contains(c.Redis.URL, "master_name=") {
			p.add("redis.url", "sentinel mode needs ?master_name=NAME in the URL")
		}
	default:
		p.add("redis.mode", "must be single, cluster or sentinel")
	}
	if c.MongoDB.URI == "" {
		validateAddr("embedded.mongodb_listen", c.Embedded.MongoDBListen, p)
	}
	if c.Redis.URL == "" {
		validateAddr("embedded.redis_listen", c.Embedded.RedisListen, p)
	}
	if c.DataDir == "" && !c.Production() {
		p.add("data_dir", "must not be empty in development (embedded stores and generated keys live there)")
	}
}

func validateTokens(t *Tokens, p *problems) {
	if t.Issuer == "" {
		p.add("tokens.issuer", "must not be empty")
	}
	if t.Audience == "" {
		p.add("tokens.audience", "must not be empty")
	}
	for i, k := range t.AccessPreviousPublicKeys {
		if strings.TrimSpace(k) == "" {
			p.add(fmt.Sprintf("tokens.access_previous_public_keys[%d]", i), "must not be empty")
		}
	}
	for i, k := range t.RefreshPreviousPublicKeys {
		if strings.TrimSpace(k) == "" {
			p.add(fmt.Sprintf("tokens.refresh_previous_public_keys[%d]", i), "must not be empty")
		}
	}
	for i, k := range t.AssertionPreviousPublicKeys {
		if strings.TrimSpace(k) == "" {
			p.add(fmt.Sprintf("tokens.assertion_previous_public_keys[%d]", i), "must not be empty")
		}
	}
	if t.AssertionTTL < time.Second || t.AssertionTTL > maxAssertionTTL || t.AssertionTTL%time.Second != 0 {
		p.add("tokens.assertion_ttl", "must be whole seconds between 1s and %s", maxAssertionTTL)
	}
}

// validatePasswords checks the password limits and the bootstrap admin.
// The password itself is never echoed.
func validatePasswords(c *Config, p *problems) {
	maxLen := c.Passwords.MaxLength
	if maxLen < minPasswordLength || maxLen > maxPasswordLength {
		p.add("passwords.max_length", "must be between %d and %d", minPasswordLength, maxPasswordLength)
	}
	if c.Passwords.MaxConcurrentHashes < 0 {
		p.add("passwords.max_concurrent_hashes", "must be >= 0 (0 means 2×GOMAXPROCS)")
	}
	if w := c.Passwords.MaxWait; w < 100*time.Millisecond || w > time.Minute {
		p.add("passwords.max_wait", "must be between 100ms and 1m")
	}
	b := c.Bootstrap
	switch {
	case b.AdminEmail == "" && b.AdminPassword == "":
		return
	case b.AdminEmail == "":
		p.add("bootstrap.admin_email", "required when bootstrap.admin_password is set")
	case b.AdminPassword == "":
		p.add("bootstrap.admin_password", "required when bootstrap.admin_email is set")
	}
	if b.AdminEmail != "" {
		if a, err := mail.ParseAddress(b.AdminEmail); err != nil || a.Address != b.AdminEmail {
			p.add("bootstrap.admin_email", "%q is not a plain email address", b.AdminEmail)
		}
	}
	if n := utf8.RuneCountInString(b.AdminPassword); b.AdminPassword != "" && n < minPasswordLength {
		p.add("bootstrap.admin_password", "must be at least %d characters", minPasswordLength)
	} else if maxLen >= minPasswordLength && n > maxLen {
		p.add("bootstrap.admin_password", "must not be longer than passwords.max_length (%d)", maxLen)
	}
	if strings.TrimSpace(b.AdminName) == "" {
		p.add("bootstrap.admin_name", "must not be empty when the admin is bootstrapped")
	}
}

// validateProduction reports every store and key production needs but lacks,
// one problem each.
func validateProduction(c *Config, p *problems) {
	required := []struct {
		key, value string
	}{
		{"mongodb.uri", c.MongoDB.URI},
		{"redis.url", c.Redis.URL},
		{"tokens.access_private_key", c.Tokens.AccessPrivateKey},
		{"tokens.access_public_key", c.Tokens.AccessPublicKey},
		{"tokens.refresh_private_key", c.Tokens.RefreshPrivateKey},
		{"tokens.refresh_public_key", c.Tokens.RefreshPublicKey},
	}
	if c.UsesAssertions() {
		required = append(required,
			struct{ key, value string }{"tokens.assertion_private_key", c.Tokens.AssertionPrivateKey},
			struct{ key, value string }{"tokens.assertion_public_key", c.Tokens.AssertionPublicKey})
	}
	for _, r := range required {
		if strings.TrimSpace(r.value) == "" {
			p.add(r.key, "required in production (set it in the YAML file or %s)", envHint(r.key))
		}
	}
}

// validateAddr checks a host:port listen address.
func validateAddr(key, addr string, p *problems) {
	if addr == "" {
		p.add(key, "must not be empty")
		return
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		p.add(key, `must be host:port, such as ":8000", got %q`, addr)
	}
}

// validateLoopbackAddr checks an address that must stay on this machine: an
// unauthenticated debug listener.
func validateLoopbackAddr(key, addr string, p *problems) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		p.add(key, `must be host:port on loopback, such as "127.0.0.1:6060", got %q`, addr)
		return
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		p.add(key, `must listen on loopback (127.0.0.1, [::1] or localhost), got %q: it is not authenticated`, addr)
	}
}

// validateOrigin checks a CORS origin: scheme://host[:port] and nothing else.
func validateOrigin(key, origin string, p *problems) {
	if origin == "*" {
		p.add(key, `"*" is not allowed: requests carry credentials; list the origins`)
		return
	}
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		u.Path != "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.Opaque != "" {
		p.add(key, `%q must be an http(s) origin such as "https://app.example.com", without path`, origin)
	}
}

func badCookieRune(r rune) bool {
	return r == ';' || r < ' ' || r == 0x7f
}
