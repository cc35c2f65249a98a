package sessions

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// testConfig is a complete Config for unit tests that need no server.
func testConfig() Config {
	return Config{IdleTTL: time.Minute, MaxTTL: time.Hour, Grace: time.Second, Timeout: time.Second, MaxPerUser: 5}
}

// TestNewRequiresValues: the store takes its limits from the caller (the gateway's
// configuration is the one source of defaults) and refuses missing or inconsistent ones.
func TestNewRequiresValues(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Config)
		ok     bool
	}{
		{"complete", func(*Config) {}, true},
		{"zero grace means none", func(c *Config) { c.Grace = 0 }, true},
		{"zero idle", func(c *Config) { c.IdleTTL = 0 }, false},
		{"zero max", func(c *Config) { c.MaxTTL = 0 }, false},
		{"zero timeout", func(c *Config) { c.Timeout = 0 }, false},
		{"negative grace", func(c *Config) { c.Grace = -1 }, false},
		{"zero max per user", func(c *Config) { c.MaxPerUser = 0 }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			tc.change(&cfg)
			st, err := New(nil, cfg)
			if tc.ok != (err == nil) || (err != nil && !errors.Is(err, ErrInvalid)) {
				t.Fatalf("New = %v, %v; want ok %v", st, err, tc.ok)
			}
			if tc.ok && st.cfg.Clock == nil {
				t.Fatal("Clock left nil")
			}
		})
	}
	st, _ := New(nil, Config{IdleTTL: time.Minute, MaxTTL: time.Hour, Timeout: time.Second, MaxPerUser: 1})
	if st.graceMS != -1 {
		t.Fatalf("no grace: graceMS %d, want -1", st.graceMS)
	}
}

func TestKeyLayout(t *testing.T) {
	cfg := testConfig()
	cfg.Prefix = "ag:"
	st, _ := New(nil, cfg)
	tests := []struct {
		name, got, want string
	}{
		{"record", st.recordKey("u1", "s1"), "ag:sess:{u1}:s1"},
		{"record base", st.recordBase("u1"), "ag:sess:{u1}:"},
		{"index", st.indexKey("u1"), "ag:user:{u1}:sessions"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Fatalf("key %q, want %q", tc.got, tc.want)
			}
		})
	}
}

func TestValidID(t *testing.T) {
	tests := []struct {
		id   string
		want bool
	}{
		{"65f1c0ffee0123456789abcd", true},
		{"AbC-_.~9", true},
		{strings.Repeat("a", 128), true},
		{strings.Repeat("a", 129), false},
		{"", false},
		{"a}:b", false}, // would let one (user, session) pair name another's key
		{"{a}", false},
		{"a:b", false},
		{"a b", false},
		{"a*", false}, // a glob character would reach SCAN patterns elsewhere
		{"é", false},
	}
	for _, tc := range tests {
		t.Run(tc.id, func(t *testing.T) {
			if got := validID(tc.id); got != tc.want {
				t.Fatalf("validID(%q) = %v, want %v", tc.id, got, tc.want)
			}
		})
	}
}

func TestEncodeDecode(t *testing.T) {
	now := time.UnixMilli(1_700_000_000_123)
	s := Session{
		ID: "s1", UserID: "u1", Role: "admin", RefreshJTI: "j2", PrevRefreshJTI: "j1",
		RotatedAt: now, CreatedAt: now.Add(-time.Hour), LastSeen: now, ExpiresAt: now.Add(time.Hour),
		IP: "2001:db8::1", UserAgent: "agent",
	}
	pairs := encode(s)
	byField := map[string]any{}
	for i := 0; i < len(pairs); i += 2 {
		byField[pairs[i].(string)] = pairs[i+1]
	}
	fields := recordFields()
	if len(byField) != numFields || len(fields) != numFields {
		t.Fatalf("encode wrote %d fields, recordFields has %d, want %d", len(byField), len(fields), numFields)
	}
	vals := make([]any, len(fields))
	for i, f := range fields {
		vals[i] = byField[f]
	}
	got, ok := decode("s1", vals)
	if !ok || got != s {
		t.Fatalf("decode(encode(s)) = %+v, %v; want %+v", got, ok, s)
	}

	tests := []struct {
		name string
		vals []any
	}{
		{"missing record", make([]any, numFields)},
		{"wrong length", vals[:3]},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, ok := decode("s1", tc.vals); ok {
				t.Fatal("decode reported a record")
			}
		})
	}
}

func TestLiveFailsClosed(t *testing.T) {
	st, _ := New(nil, testConfig())
	now := time.UnixMilli(1_700_000_000_000)
	tests := []struct {
		name string
		s    Session
		want bool
	}{
		{"fresh", Session{LastSeen: now, ExpiresAt: now.Add(time.Hour)}, true},
		{"idle", Session{LastSeen: now.Add(-time.Minute), ExpiresAt: now.Add(time.Hour)}, false},
		{"past absolute limit", Session{LastSeen: now, ExpiresAt: now}, false},
		{"corrupt times", Session{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := st.live(tc.s, now); got != tc.want {
				t.Fatalf("live = %v, want %v", got, tc.want)
			}
		})
	}
}
