package authsvc_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/authgate/authgate/authsvc"
	"github.com/authgate/authgate/authsvc/storetest"
)

// outbox is a Mailer that keeps what it is given, or fails while fail is set.
type outbox struct {
	mu   sync.Mutex
	msgs []authsvc.Message
	sent chan authsvc.Message
	fail atomic.Bool
}

func newOutbox() *outbox { return &outbox{sent: make(chan authsvc.Message, 16)} }

func (o *outbox) Send(ctx context.Context, m authsvc.Message) error {
	if o.fail.Load() {
		return errors.New("smtp: 451 try again later")
	}
	o.mu.Lock()
	o.msgs = append(o.msgs, m)
	o.mu.Unlock()
	o.sent <- m
	return nil
}

// next waits for the next message sent.
func (o *outbox) next(t *testing.T) authsvc.Message {
	t.Helper()
	select {
	case m := <-o.sent:
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("no mail sent within 10s")
	}
	return authsvc.Message{}
}

// quiet fails if a message is sent within d.
func (o *outbox) quiet(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case m := <-o.sent:
		t.Fatalf("unexpected mail to %s: %s", m.To, m.Subject)
	case <-time.After(d):
	}
}

// plainLetters writes the link as the whole text body.
type plainLetters struct{}

func (plainLetters) Write(l authsvc.Letter) (authsvc.Message, error) {
	return authsvc.Message{To: l.To, Subject: string(l.Kind) + " " + l.ValidFor.String(), Text: l.URL, HTML: "<p>" + l.URL}, nil
}

// clock is a settable test clock.
type clock struct{ offset atomic.Int64 }

func (c *clock) now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *clock) advance(d time.Duration) { c.offset.Add(int64(d)) }
func codeOf(t *testing.T, link, page string) string {
	t.Helper()
	prefix := "https://app.example.test/" + page + "/"
	if !strings.HasPrefix(link, prefix) || len(link) != len(prefix)+64 {
		t.Fatalf("link %q is not %s<64 hex>", link, prefix)
	}
	return strings.TrimPrefix(link, prefix)
}

// newMailCore is the account core with verification required, a test outbox and clock,
// and its forgot-password workers running.
func newMailCore(t *testing.T) (*authsvc.Service, *outbox, *clock, *mongo.Database) {
	t.Helper()
	keys, err := authsvc.LoadKeys(authsvc.KeyConfig{
		Access: authsvc.KeySpec{Private: edKey(t)}, Refresh: authsvc.KeySpec{Private: edKey(t)},
	}, "")
	if err != nil {
		t.Fatal(err)
	}
	rdb, prefix := storetest.Redis(t)
	db := storetest.MongoDatabase(t)
	box, clk := newOutbox(), &clock{}
	s, err := authsvc.New(authsvc.Config{
		AccessTTL: 15 * time.Minute, RefreshTTL: time.Hour, RefreshGrace: 10 * time.Second,
		IdleTTL: time.Hour, MaxTTL: 24 * time.Hour, MaxSessions: 3, Issuer: "authgate", Audience: "authgate",
		Keys: keys, PasswordMaxLength: 64, MaxConcurrentHashes: 4, HashMemoryKiB: 64, HashIterations: 1,
		RedisPrefix: prefix, RedisTimeout: 5 * time.Second, MongoTimeout: 5 * time.Second,
		Audit: authsvc.AuditConfig{Retention: time.Hour, CleanupInterval: time.Minute},
		Email: authsvc.EmailConfig{
			Mailer: box, Letters: plainLetters{}, PublicURL: "https://app.example.test/",
			VerificationRequired: true, VerificationTTL: 24 * time.Hour, SendTimeout: 5 * time.Second,
		},
		Clock: clk.now,
	}, db, rdb)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Init(t.Context()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return s, box, clk, db
}

// TestEmailConfigChecked: verification cannot be required without a mailer, and a mailer
// needs its letters, a public URL and its timeouts.
func TestEmailConfigChecked(t *testing.T) {
	keys, err := authsvc.LoadKeys(authsvc.KeyConfig{
		Access: authsvc.KeySpec{Private: edKey(t)}, Refresh: authsvc.KeySpec{Private: edKey(t)},
	}, "")
	if err != nil {
		t.Fatal(err)
	}
	base := authsvc.Config{
		AccessTTL: time.Minute, RefreshTTL: time.Hour, RefreshGrace: time.Second, IdleTTL: time.Hour, MaxTTL: time.Hour,
		MaxSessions: 1, Issuer: "i", Audience: "a", Keys: keys, PasswordMaxLength: 64, MaxConcurrentHashes: 1,
		RedisTimeout: time.Second, MongoTimeout: time.Second,
	}
	for _, tc := range []struct {
		email authsvc.EmailConfig
		want  string
	}{
		{authsvc.EmailConfig{VerificationRequired: true}, "VerificationRequired needs Email.Mailer"},
		{authsvc.EmailConfig{Mailer: newOutbox(), PublicURL: "https://x.test", VerificationTTL: time.Hour, SendTimeout: time.Second}, "Letters is required"},
		{authsvc.EmailConfig{Mailer: newOutbox(), Letters: plainLetters{}, PublicURL: "/relative", VerificationTTL: time.Hour, SendTimeout: time.Second}, "PublicURL"},
		{authsvc.EmailConfig{Mailer: newOutbox(), Letters: plainLetters{}, PublicURL: "https://x.test"}, "must be > 0"},
	} {
		cfg := base
		cfg.Email = tc.email
		if _, err := authsvc.New(cfg, nil, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New with %+v: %v, want %q", tc.email, err, tc.want)
		}
	}
}

// TestEmailVerificationCore (SECURITY.md E1): a new account is unverified and cannot log
// in (only with the right password is that said); its code is stored hashed, works once,
// and not after it expires; a failed mail removes the account so registering again works.
func TestEmailVerificationCore(t *testing.T) {
	ctx := t.Context()
	s, box, clk, db := newMailCore(t)

	u, err := s.Register(ctx, authsvc.NewUser{Name: "Vera", Email: "vera@example.com", Password: "vera-password"}, authsvc.Client{})
	if err != nil || u.Verified {
		t.Fatalf("Register = %+v, %v", u, err)
	}
	m := box.next(t)
	if m.To != "vera@example.com" || m.Subject != "verify_email 24h0m0s" {
		t.Fatalf("mail %+v", m)
	}
	code := codeOf(t, m.Text, "verifyemail")
	var doc bson.M
	if err := db.Collection("users").FindOne(ctx, bson.M{"email": "vera@example.com"}).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(code))
	if doc["verificationCode"] != hex.EncodeToString(sum[:]) || strings.Contains(bson.Raw(mustMarshal(t, doc)).String(), code) {
		t.Fatalf("stored code is not the code's sha256 (or the code itself is stored): %v", doc)
	}

	cr := authsvc.Credentials{Email: "vera@example.com", Password: "vera-password"}
	if _, err := s.Login(ctx, cr, authsvc.Client{}); !errors.Is(err, authsvc.ErrNotVerified) {
		t.Fatalf("unverified login: %v, want ErrNotVerified", err)
	}
	if _, err := s.Login(ctx, authsvc.Credentials{Email: "vera@example.com", Password: "wrong-password"}, authsvc.Client{}); !errors.Is(err, authsvc.ErrInvalidCredentials) {
		t.Fatalf("unverified login, wrong password: %v, want ErrInvalidCredentials", err)
	}
	for _, bad := range []string{"", "nothex", strings.ToUpper(code), code[:63], strings.Repeat("0", 64)} {
		if err := s.VerifyEmail(ctx, bad, authsvc.Client{}); !errors.Is(err, authsvc.ErrVerificationFailed) {
			t.Errorf("VerifyEmail(%q) = %v", bad, err)
		}
	}
	if err := s.VerifyEmail(ctx, code, authsvc.Client{}); err != nil {
		t.Fatalf("VerifyEmail: %v", err)
	}
	if err := s.VerifyEmail(ctx, code, authsvc.Client{}); !errors.Is(err, authsvc.ErrVerificationFailed) {
		t.Fatalf("second VerifyEmail: %v, want ErrVerificationFailed", err)
	}
	if _, err := s.Login(ctx, cr, authsvc.Client{}); err != nil {
		t.Fatalf("verified login: %v", err)
	}

	// Expiry, on the injected clock.
	if _, err := s.Register(ctx, authsvc.NewUser{Name: "Late", Email: "late@example.com", Password: "late-password"}, authsvc.Client{}); err != nil {
		t.Fatal(err)
	}
	late := codeOf(t, box.next(t).Text, "verifyemail")
	clk.advance(24*time.Hour + time.Second)
	if err := s.VerifyEmail(ctx, late, authsvc.Client{}); !errors.Is(err, authsvc.ErrVerificationFailed) {
		t.Fatalf("expired code: %v, want ErrVerificationFailed", err)
	}

	// A mail that cannot be sent leaves nothing behind.
	box.fail.Store(true)
	nu := authsvc.NewUser{Name: "Retry", Email: "retry@example.com", Password: "retry-password"}
	if _, err := s.Register(ctx, nu, authsvc.Client{}); !errors.Is(err, authsvc.ErrMailFailed) {
		t.Fatalf("Register with the mail failing: %v, want ErrMailFailed", err)
	}
	if n, _ := db.Collection("users").CountDocuments(ctx, bson.M{"email": "retry@example.com"}); n != 0 {
		t.Fatalf("%d accounts left after the failed mail", n)
	}
	box.fail.Store(false)
	if _, err := s.Register(ctx, nu, authsvc.Client{}); err != nil {
		t.Fatalf("Register again: %v", err)
	}
	box.next(t)

	// The bootstrap admin is verified without a mail.
	if _, err := s.EnsureAdmin(ctx, authsvc.NewUser{Name: "Root", Email: "root@example.com", Password: "root-password"}); err != nil {
		t.Fatal(err)
	}
	box.quiet(t, 100*time.Millisecond)
	if _, err := s.Login(ctx, authsvc.Credentials{Email: "root@example.com", Password: "root-password"}, authsvc.Client{}); err != nil {
		t.Fatalf("admin login: %v", err)
	}
	// Without a code outstanding the document has none of the code fields.
	var root bson.M
	if err := db.Collection("users").FindOne(ctx, bson.M{"email": "root@example.com"}).Decode(&root); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"verificationCode", "verificationExpiresAt", "passwordResetToken", "passwordResetAt"} {
		if _, ok := root[f]; ok {
			t.Errorf("field %s stored on an account without codes: %v", f, root)
		}
	}
	if root["verified"] != true {
		t.Errorf("bootstrap admin not verified: %v", root)
	}
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := bson.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestPasswordResetCore (SECURITY.md E1, E2, E3): forgot-password answers nil for every
// email and mails only verified accounts; the token works once, within ten minutes,
// also against a concurrent use; a reset revokes every session and verifies the email.
func TestPasswordResetCore(t *testing.T) {
	ctx := t.Context()
	s, box, clk, db := newMailCore(t)
	if _, err := s.Register(ctx, authsvc.NewUser{Name: "Rita", Email: "rita@example.com", Password: "rita-password"}, authsvc.Client{}); err != nil {
		t.Fatal(err)
	}
	if err := s.VerifyEmail(ctx, codeOf(t, box.next(t).Text, "verifyemail"), authsvc.Client{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Register(ctx, authsvc.NewUser{Name: "Unv", Email: "unverified@example.com", Password: "unv-password"}, authsvc.Client{}); err != nil {
		t.Fatal(err)
	}
	box.next(t)
	g, err := s.Login(ctx, authsvc.Credentials{Email: "rita@example.com", Password: "rita-password"}, authsvc.Client{})
	if err != nil {
		t.Fatal(err)
	}

	for _, email := range []string{"nobody@example.com", "unverified@example.com"} {
		if err := s.ForgotPassword(ctx, email, authsvc.Client{}); err != nil {
			t.Fatalf("ForgotPassword(%s) = %v", email, err)
		}
	}
	box.quiet(t, 300*time.Millisecond)
	var ve *authsvc.ValidationError
	for _, bad := range []string{"", "not-an-email"} {
		if err := s.ForgotPassword(ctx, bad, authsvc.Client{}); !errors.As(err, &ve) {
			t.Errorf("ForgotPassword(%q) = %v, want a ValidationError", bad, err)
		}
	}
	if err := s.ForgotPassword(ctx, " RITA@example.com", authsvc.Client{}); err != nil {
		t.Fatal(err)
	}
	m := box.next(t)
	if m.To != "rita@example.com" || m.Subject != "reset_password 10m0s" {
		t.Fatalf("mail %+v", m)
	}
	token := codeOf(t, m.Text, "resetpassword")

	if err := s.ResetPassword(ctx, token, "short"); !errors.As(err, &ve) {
		t.Fatalf("short password: %v", err)
	}
	// Two uses at once: exactly one wins.
	var wins, invalid atomic.Int32
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Go(func() {
			switch err := s.ResetPassword(ctx, token, "new-password-"+string(rune('a'+i))); {
			case err == nil:
				wins.Add(1)
			case errors.Is(err, authsvc.ErrResetTokenInvalid):
				invalid.Add(1)
			default:
				t.Errorf("ResetPassword: %v", err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 || invalid.Load() != 1 {
		t.Fatalf("concurrent resets: %d succeeded, %d refused", wins.Load(), invalid.Load())
	}
	if err := s.ResetPassword(ctx, token, "another-password"); !errors.Is(err, authsvc.ErrResetTokenInvalid) {
		t.Fatalf("reused token: %v", err)
	}
	if _, err := s.Authenticate(ctx, g.AccessToken); !errors.Is(err, authsvc.ErrSessionExpired) {
		t.Fatalf("session from before the reset: %v, want ErrSessionExpired", err)
	}
	if _, err := s.Login(ctx, authsvc.Credentials{Email: "rita@example.com", Password: "rita-password"}, authsvc.Client{}); !errors.Is(err, authsvc.ErrInvalidCredentials) {
		t.Fatalf("old password: %v", err)
	}
	var doc bson.M
	if err := db.Collection("users").FindOne(ctx, bson.M{"email": "rita@example.com"}).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if _, ok := doc["passwordResetToken"]; ok {
		t.Fatalf("token left on the user: %v", doc)
	}
	uid := doc["_id"].(bson.ObjectID).Hex()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) { // the audit log: one reset
		p, err := s.AuditEvents(ctx, authsvc.AuditQuery{Type: "password.reset"})
		if err == nil && p.Total == 1 && p.Events[0].UserID == uid && p.Events[0].Details["sessions_revoked"] != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("password.reset in the audit log: %+v, %v", p, err)
		}
	}

	// Expiry: the token of a second request dies after ten minutes.
	if err := s.ForgotPassword(ctx, "rita@example.com", authsvc.Client{}); err != nil {
		t.Fatal(err)
	}
	token = codeOf(t, box.next(t).Text, "resetpassword")
	clk.advance(authsvc.ResetTokenTTL + time.Second)
	if err := s.ResetPassword(ctx, token, "expired-password"); !errors.Is(err, authsvc.ErrResetTokenInvalid) {
		t.Fatalf("expired token: %v", err)
	}
}
