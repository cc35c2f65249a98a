package authsvc_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/authsvc"
	"github.com/authgate/authgate/authsvc/storetest"
)

func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }

func edKey(t *testing.T) string {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// newCore is the account core on the real test MongoDB and Redis, with cheap hashing.
func newCore(t *testing.T) *authsvc.Service {
	t.Helper()
	return newCoreWith(t, nil)
}

// newCoreWith is newCore with the configuration changed by mod first.
func newCoreWith(t *testing.T, mod func(*authsvc.Config)) *authsvc.Service {
	t.Helper()
	keys, err := authsvc.LoadKeys(authsvc.KeyConfig{
		Access: authsvc.KeySpec{Private: edKey(t)}, Refresh: authsvc.KeySpec{Private: edKey(t)},
	}, "")
	if err != nil {
		t.Fatal(err)
	}
	rdb, prefix := storetest.Redis(t)
	cfg := authsvc.Config{
		AccessTTL: 15 * time.Minute, RefreshTTL: time.Hour, RefreshGrace: 10 * time.Second,
		IdleTTL: time.Hour, MaxTTL: 24 * time.Hour, MaxSessions: 3, Issuer: "authgate", Audience: "authgate",
		Keys: keys, PasswordMaxLength: 64, MaxConcurrentHashes: 4, HashMemoryKiB: 64, HashIterations: 1,
		RedisPrefix: prefix, RedisTimeout: 5 * time.Second, MongoTimeout: 5 * time.Second,
		Audit: authsvc.AuditConfig{Retention: time.Hour, CleanupInterval: time.Minute},
	}
	if mod != nil {
		mod(&cfg)
	}
	s, err := authsvc.New(cfg, storetest.MongoDatabase(t), rdb)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Init(t.Context()); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestCore plays the account lifecycle through the core's own API, with no HTTP: the
// JSON API, the sign-in page, the admin API and the CLI are thin callers of exactly this.
func TestCore(t *testing.T) {
	ctx := t.Context()
	s := newCore(t)
	u, err := s.Register(ctx, authsvc.NewUser{Name: " Ada ", Email: " ADA@Example.com", Password: "ada-password"}, authsvc.Client{})
	if err != nil || u.Email != "ada@example.com" || u.Name != "Ada" || u.Role != authsvc.RoleUser || u.ID == "" {
		t.Fatalf("Register = %+v, %v", u, err)
	}
	var ve *authsvc.ValidationError
	if _, err := s.Register(ctx, authsvc.NewUser{Name: "", Email: "nope", Password: "short"}, authsvc.Client{}); !errors.As(err, &ve) || len(ve.Issues) != 3 {
		t.Fatalf("invalid Register = %v", err)
	}
	if _, err := s.Register(ctx, authsvc.NewUser{Name: "B", Email: "ada@EXAMPLE.com", Password: "ada-password"}, authsvc.Client{}); !errors.Is(err, authsvc.ErrEmailTaken) {
		t.Fatalf("duplicate Register = %v", err)
	}
	for _, cr := range []authsvc.Credentials{{"ada@example.com", "wrong-password"}, {"nobody@example.com", "ada-password"}, {"not an email", "ada-password"}} {
		if _, err := s.Login(ctx, cr, authsvc.Client{}); !errors.Is(err, authsvc.ErrInvalidCredentials) {
			t.Fatalf("Login(%+v) = %v", cr, err)
		}
	}
	client := authsvc.Client{IP: "192.0.2.1", UserAgent: "test"}
	g, err := s.Login(ctx, authsvc.Credentials{Email: "Ada@example.com ", Password: "ada-password"}, client)
	if err != nil || g.AccessToken == "" || g.RefreshToken == "" || g.Identity.Email != "ada@example.com" || g.Identity.Name != "Ada" {
		t.Fatalf("Login = %+v, %v", g, err)
	}
	id, err := s.Authenticate(ctx, g.AccessToken)
	if err != nil || id.UserID != u.ID || id.Role != "user" || id.SessionID != g.Identity.SessionID {
		t.Fatalf("Authenticate = %+v, %v", id, err)
	}
	if _, err := s.Authenticate(ctx, ""); !errors.Is(err, authsvc.ErrNotLoggedIn) {
		t.Fatalf("Authenticate(\"\") = %v", err)
	}
	if _, err := s.Authenticate(ctx, g.RefreshToken); !errors.Is(err, authsvc.ErrInvalidToken) {
		t.Fatalf("a refresh token as access token: %v", err)
	}
	if me, err := s.Me(ctx, g.AccessToken); err != nil || me.ID != u.ID {
		t.Fatalf("Me = %+v, %v", me, err)
	}

	// Refresh rotates; the old token within grace gets an access token only.
	g2, err := s.Refresh(ctx, g.RefreshToken)
	if err != nil || g2.RefreshToken == "" || g2.RefreshToken == g.RefreshToken {
		t.Fatalf("Refresh = %+v, %v", g2, err)
	}
	if g3, err := s.Refresh(ctx, g.RefreshToken); err != nil || g3.RefreshToken != "" || g3.AccessToken == "" {
		t.Fatalf("grace replay = %+v, %v", g3, err)
	}

	// A role change acts on the next request of every session.
	if err := s.SetRole(ctx, u.ID, authsvc.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	if id, _ := s.Authenticate(ctx, g.AccessToken); id.Role != authsvc.RoleAdmin {
		t.Fatalf("role after SetRole %q", id.Role)
	}
	if err := s.SetRole(ctx, "0123456789abcdef01234567", "admin"); !errors.Is(err, authsvc.ErrNotFound) {
		t.Fatalf("SetRole of nobody = %v", err)
	}

	// Sessions are listed and revoked one by one, only the user's own.
	other, err := s.Login(ctx, authsvc.Credentials{Email: "ada@example.com", Password: "ada-password"}, authsvc.Client{IP: "192.0.2.2"})
	if err != nil {
		t.Fatal(err)
	}
	list, err := s.Sessions(ctx, u.ID)
	if err != nil || len(list) != 2 || list[0].ID != other.Identity.SessionID || list[1].IP != "192.0.2.1" {
		t.Fatalf("Sessions = %+v, %v", list, err)
	}
	if err := s.RevokeSession(ctx, "0123456789abcdef01234567", other.Identity.SessionID); !errors.Is(err, authsvc.ErrNotFound) {
		t.Fatalf("revoking another user's session = %v, want ErrNotFound", err)
	}
	if err := s.RevokeSession(ctx, u.ID, other.Identity.SessionID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, other.AccessToken); !errors.Is(err, authsvc.ErrSessionExpired) {
		t.Fatalf("revoked session still authenticates: %v", err)
	}

	// Logout with only the access token works; it is idempotent.
	if err := s.Logout(ctx, "", g.AccessToken); err != nil {
		t.Fatal(err)
	}
	if err := s.Logout(ctx, "", g.AccessToken); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Refresh(ctx, g2.RefreshToken); !errors.Is(err, authsvc.ErrRefreshFailed) {
		t.Fatalf("refresh after logout = %v", err)
	}

	// At most MaxSessions sessions: the least recently used goes.
	var grants []authsvc.Grant
	for range 4 {
		g, err := s.Login(ctx, authsvc.Credentials{Email: "ada@example.com", Password: "ada-password"}, client)
		if err != nil {
			t.Fatal(err)
		}
		grants = append(grants, g)
	}
	if list, _ := s.Sessions(ctx, u.ID); len(list) != 3 {
		t.Fatalf("%d sessions, want the limit 3", len(list))
	}
	if _, err := s.Authenticate(ctx, grants[0].AccessToken); !errors.Is(err, authsvc.ErrSessionExpired) {
		t.Fatalf("evicted session: %v", err)
	}
	if n, err := s.RevokeAll(ctx, u.ID); err != nil || n != 3 {
		t.Fatalf("RevokeAll = %d, %v", n, err)
	}

	// EnsureAdmin creates once.
	id1, err := s.EnsureAdmin(ctx, authsvc.NewUser{Name: "Root", Email: "root@example.com", Password: "root-password"})
	if err != nil || id1 == "" {
		t.Fatalf("EnsureAdmin = %q, %v", id1, err)
	}
	if id2, err := s.EnsureAdmin(ctx, authsvc.NewUser{Name: "Root", Email: "ROOT@example.com", Password: "other-password"}); err != nil || id2 != "" {
		t.Fatalf("second EnsureAdmin = %q, %v", id2, err)
	}
	if root, err := s.User(ctx, id1); err != nil || root.Role != authsvc.RoleAdmin {
		t.Fatalf("User = %+v, %v", root, err)
	}
}

// TestNewRequiresConfig: the core takes every value from its caller (the gateway's
// configuration is the one source of defaults) and names what is missing.
func TestNewRequiresConfig(t *testing.T) {
	_, err := authsvc.New(authsvc.Config{}, nil, nil)
	if err == nil {
		t.Fatal("New accepted an empty Config")
	}
	for _, want := range []string{"AccessTTL", "Keys", "Issuer", "MaxSessions"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}

// TestRefreshAsProof: a live session's refresh token authenticates without rotating
// (forward auth), an old one proves nothing and revokes nothing, and after logout
// nothing proves the session.
func TestRefreshAsProof(t *testing.T) {
	ctx := t.Context()
	s := newCore(t)
	if _, err := s.Register(ctx, authsvc.NewUser{Name: "Ed", Email: "ed@example.com", Password: "ed-password"}, authsvc.Client{}); err != nil {
		t.Fatal(err)
	}
	g, err := s.Login(ctx, authsvc.Credentials{Email: "ed@example.com", Password: "ed-password"}, authsvc.Client{})
	if err != nil {
		t.Fatal(err)
	}
	id, err := s.AuthenticateRefresh(ctx, g.RefreshToken)
	if err != nil || id.SessionID != g.Identity.SessionID || id.Email != "ed@example.com" {
		t.Fatalf("AuthenticateRefresh = %+v, %v", id, err)
	}
	for _, bad := range []string{"", g.AccessToken, "a.b.c"} {
		if _, err := s.AuthenticateRefresh(ctx, bad); err == nil {
			t.Fatalf("AuthenticateRefresh(%.10q) succeeded", bad)
		}
	}
	issued, err := s.IssueAccess(id)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.Authenticate(ctx, issued.AccessToken); err != nil || got.SessionID != id.SessionID {
		t.Fatalf("issued access token: %+v, %v", got, err)
	}
	// The proof does not rotate: the same refresh token still refreshes.
	g2, err := s.Refresh(ctx, g.RefreshToken)
	if err != nil || g2.RefreshToken == "" {
		t.Fatalf("Refresh after proof: %+v, %v", g2, err)
	}
	if err := s.CheckSession(ctx, id.UserID, id.SessionID); err != nil {
		t.Fatal(err)
	}
	if err := s.Logout(ctx, g2.RefreshToken, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AuthenticateRefresh(ctx, g2.RefreshToken); !errors.Is(err, authsvc.ErrSessionExpired) {
		t.Fatalf("after logout: %v", err)
	}
	if err := s.CheckSession(ctx, id.UserID, id.SessionID); !errors.Is(err, authsvc.ErrSessionExpired) {
		t.Fatalf("CheckSession after logout: %v", err)
	}
}
