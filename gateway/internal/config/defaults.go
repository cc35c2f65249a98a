package config

import (
	"reflect"
	"strings"
	"time"
)

// envPrefix starts every environment variable that sets a key.
const envPrefix = "AUTHGATE_"

// defaults returns the built-in configuration. configs/gateway.yaml repeats it
// with documentation; a test keeps the two equal.
func defaults() Config {
	const upstream = "http://127.0.0.1:8081"
	return Config{
		Listen:  ":8000",
		Mode:    ModeDevelopment,
		DataDir: "./data",
		MongoDB: MongoDB{URI: "", Database: "authgate", Timeout: 5 * time.Second},
		Redis:   Redis{URL: "", KeyPrefix: "authgate:", Timeout: time.Second, Mode: RedisSingle},
		Embedded: Embedded{
			MongoDBListen: "127.0.0.1:27018",
			RedisListen:   "127.0.0.1:0",
		},
		Tokens: Tokens{
			AccessTTL:                   15 * time.Minute,
			RefreshTTL:                  59 * time.Minute,
			RefreshGrace:                10 * time.Second,
			Leeway:                      30 * time.Second,
			Issuer:                      "authgate",
			Audience:                    "authgate",
			AccessPreviousPublicKeys:    []string{},
			RefreshPreviousPublicKeys:   []string{},
			AssertionTTL:                30 * time.Second,
			AssertionPreviousPublicKeys: []string{},
		},
		Sessions:       Sessions{IdleTTL: 60 * time.Minute, MaxTTL: 168 * time.Hour, MaxPerUser: 50, CacheTTL: 2 * time.Second},
		Cookies:        Cookies{RefreshPath: "/", Secure: false, Domain: "", HostPrefix: false},
		CORS:           CORS{Origins: []string{"http://localhost:3000"}},
		Passwords:      Passwords{MaxLength: 64, MaxConcurrentHashes: 0, MaxWait: 10 * time.Second},
		Bootstrap:      Bootstrap{AdminName: "Admin"},
		TrustedProxies: []string{},
		Server: Server{
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      60 * time.Second,
			IdleTimeout:       120 * time.Second,
			MaxHeaderBytes:    65536,
			ShutdownTimeout:   20 * time.Second,
			DrainDelay:        0,
			BodyLimit:         "10KB",
			PprofListen:       "",
		},
		Proxy: Proxy{
			DialTimeout:            5 * time.Second,
			ResponseHeaderTimeout:  30 * time.Second,
			IdentityHeaderAliases:  []string{},
			WebSocketCheckInterval: 5 * time.Second,
		},
		Paths:     Paths{AllowAmbiguousSegments: false},
		Authz:     Authz{IdentityHeaders: []string{}, SignInURL: "/login", GRPCListen: ""},
		Redirects: Redirects{AllowedHosts: []string{}},
		CSRF:      CSRF{TrustedOrigins: []string{}},
		Email: Email{
			VerificationRequired: false, PublicURL: "http://localhost:3000", VerificationTTL: 24 * time.Hour, From: "",
			SMTP: SMTP{Host: "", Port: 587, Security: SMTPStartTLS, Username: "", Password: "", Timeout: 10 * time.Second},
		},
		Audit:      Audit{Retention: 90 * 24 * time.Hour, CleanupInterval: time.Hour},
		Regulation: defaultRegulation(),
		Routes: []Route{
			{Path: "/api/users/me", Match: MatchExact, Upstream: upstream, Policy: PolicyAuthenticated},
			{Path: "/api/users", Match: MatchPrefix, Upstream: upstream, Roles: []string{"admin"}},
		},
	}
}

// leaf is a settable key: a dotted path ("tokens.access_ttl") and its Go type.
// Lists, including routes, are leaves.
type leaf struct {
	path string
	typ  reflect.Type
}

// leaves lists every key of Config, derived from its koanf tags, in field order.
func leaves() []leaf {
	return appendLeaves(nil, reflect.TypeFor[Config](), "")
}

func appendLeaves(out []leaf, t reflect.Type, prefix string) []leaf {
	for i := range t.NumField() {
		f := t.Field(i)
		path := joinKey(prefix, f.Tag.Get("koanf"))
		if f.Type.Kind() == reflect.Struct {
			out = appendLeaves(out, f.Type, path)
			continue
		}
		out = append(out, leaf{path: path, typ: f.Type})
	}
	return out
}

// envName returns the environment variable for a key path:
// "tokens.access_ttl" → "AUTHGATE_TOKENS__ACCESS_TTL".
func envName(path string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(path, ".", "__"))
}

// aliasName returns the lower-precedence variable the seed backend used for a
// key path, or "" when there is none.
func aliasName(path string) string {
	switch path {
	case "tokens.access_private_key":
		return "ACCESS_TOKEN_PRIVATE_KEY"
	case "tokens.access_public_key":
		return "ACCESS_TOKEN_PUBLIC_KEY"
	case "tokens.refresh_private_key":
		return "REFRESH_TOKEN_PRIVATE_KEY"
	case "tokens.refresh_public_key":
		return "REFRESH_TOKEN_PUBLIC_KEY"
	case "mongodb.uri":
		return "MONGODB_URI"
	case "redis.url":
		return "REDIS_URL"
	default:
		return ""
	}
}

// envHint names the variables that set a key, for error messages.
func envHint(path string) string {
	if alias := aliasName(path); alias != "" {
		return envName(path) + " or " + alias
	}
	return envName(path)
}

func joinKey(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

// toMap converts a struct into the nested map koanf holds, keyed by koanf
// tags. Slices become []any so that they merge and decode like parsed YAML.
func toMap(v reflect.Value) map[string]any {
	t := v.Type()
	out := make(map[string]any, t.NumField())
	for i := range t.NumField() {
		out[t.Field(i).Tag.Get("koanf")] = toValue(v.Field(i))
	}
	return out
}

func toValue(v reflect.Value) any {
	switch v.Kind() {
	case reflect.Struct:
		return toMap(v)
	case reflect.Slice:
		list := make([]any, v.Len())
		for i := range list {
			list[i] = toValue(v.Index(i))
		}
		return list
	default:
		return v.Interface()
	}
}
