package mail

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"log/slog"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/authsvc"
	"github.com/authgate/authgate/gateway/internal/mail/mailtest"
)

const link = "https://app.example.test/verifyemail/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// TestLetters: both letters carry the link in both bodies, the subjects are the seed's,
// the validity is in words, and a name with markup is escaped in HTML and kept verbatim
// in text.
func TestLetters(t *testing.T) {
	l, err := NewLetters()
	if err != nil {
		t.Fatal(err)
	}
	name := `<script>alert("x")</script> & <b>Bob</b>`
	for _, tc := range []struct {
		kind     authsvc.LetterKind
		validFor time.Duration
		subject  string
		words    string
	}{
		{authsvc.LetterVerifyEmail, 24 * time.Hour, "Your account verification code", "24 hours"},
		{authsvc.LetterResetPassword, authsvc.ResetTokenTTL, "Your password reset token (valid for only 10 minutes)", "10 minutes"},
	} {
		t.Run(string(tc.kind), func(t *testing.T) {
			m, err := l.Write(authsvc.Letter{Kind: tc.kind, To: "bob@example.com", Name: name, URL: link, ValidFor: tc.validFor})
			if err != nil {
				t.Fatal(err)
			}
			if m.To != "bob@example.com" || m.Subject != tc.subject {
				t.Fatalf("to %q, subject %q", m.To, m.Subject)
			}
			if got := Links(m.Text); len(got) != 1 || got[0] != link {
				t.Fatalf("text links %q:\n%s", got, m.Text)
			}
			if !strings.Contains(m.Text, "Hi "+name+",") || !strings.Contains(m.Text, tc.words) {
				t.Fatalf("text body:\n%s", m.Text)
			}
			if strings.Contains(m.HTML, "<script") || strings.Contains(m.HTML, "<b>Bob") {
				t.Fatalf("name not escaped in HTML:\n%s", m.HTML)
			}
			if !strings.Contains(m.HTML, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;Bob&lt;/b&gt;") {
				t.Fatalf("escaped name missing from HTML:\n%s", m.HTML)
			}
			if !strings.Contains(m.HTML, `href="`+link+`"`) || !strings.Contains(m.HTML, tc.words) {
				t.Fatalf("HTML lacks the link or the validity:\n%s", m.HTML)
			}
		})
	}
	// A link that is not http(s) never becomes an active href.
	m, err := l.Write(authsvc.Letter{Kind: authsvc.LetterVerifyEmail, To: "a@b.co", Name: "A", URL: "javascript:alert(1)", ValidFor: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(m.HTML, `href="javascript:`) {
		t.Fatalf("javascript: href in HTML:\n%s", m.HTML)
	}
	if _, err := l.Write(authsvc.Letter{Kind: "nope"}); err == nil {
		t.Fatal("unknown letter kind written")
	}
}

func TestHumanDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		24 * time.Hour: "24 hours", time.Hour: "1 hour", 10 * time.Minute: "10 minutes", 90 * time.Minute: "90 minutes",
		time.Second: "1 second", 1500 * time.Millisecond: "1.5s",
	} {
		if got := HumanDuration(d); got != want {
			t.Errorf("HumanDuration(%s) = %q, want %q", d, got, want)
		}
	}
}

// TestLogMailer (SECURITY.md E4): in development the link is logged at INFO; with
// reveal off only a warning without recipient or link.
func TestLogMailer(t *testing.T) {
	m := authsvc.Message{To: "bob@example.com", Subject: "Your account verification code", Text: "Hi,\n\n" + link + "\n\nBye."}
	for _, reveal := range []bool{true, false} {
		var buf bytes.Buffer
		if err := NewLog(slog.New(slog.NewJSONHandler(&buf, nil)), reveal).Send(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		var line map[string]any
		if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
			t.Fatalf("%v: %s", err, buf.String())
		}
		if reveal && (line["level"] != "INFO" || line["link"] != link || line["to"] != "bob@example.com") {
			t.Errorf("development log line %v", line)
		}
		if !reveal && (line["level"] != "WARN" || strings.Contains(buf.String(), "verifyemail") || strings.Contains(buf.String(), "bob@")) {
			t.Errorf("production log line reveals the link or the recipient: %s", buf.String())
		}
	}
}

func message() authsvc.Message {
	return authsvc.Message{To: "bob@example.com", Subject: "Your password reset token (valid for only 10 minutes)",
		Text: "Hi Bob,\n\n" + link + "\n", HTML: `<p>Hi Bob, <a href="` + link + `">reset</a></p>`}
}

// TestSMTP sends through a real SMTP server in the process: plain with authentication
// on loopback, STARTTLS, implicit TLS; a wrong password, a server without STARTTLS and a
// rejecting server are errors that never show the password.
func TestSMTP(t *testing.T) {
	cert, pool := selfSigned(t)
	tlsCfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	for _, tc := range []struct {
		name     string
		opts     mailtest.Options
		security string
	}{
		{"none with auth", mailtest.Options{Username: "gw", Password: "s3cret-pass"}, SecurityNone},
		{"starttls with auth", mailtest.Options{Username: "gw", Password: "s3cret-pass", TLS: tlsCfg}, SecurityStartTLS},
		{"implicit tls", mailtest.Options{TLS: tlsCfg, Implicit: true}, SecurityTLS},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := mailtest.Start(t, tc.opts)
			s := newTestSMTP(t, srv, tc.security, tc.opts.Username, tc.opts.Password, pool)
			if err := s.Send(t.Context(), message()); err != nil {
				t.Fatal(err)
			}
			got := srv.Next(t)
			if got.From != "no-reply@example.test" || len(got.To) != 1 || got.To[0] != "bob@example.com" {
				t.Fatalf("envelope %q → %q", got.From, got.To)
			}
			if got.Subject != message().Subject || got.Header.Get("From") != `"authgate" <no-reply@example.test>` {
				t.Fatalf("headers %v", got.Header)
			}
			if !strings.Contains(got.Text, link) || !strings.Contains(got.HTML, `href="`+link+`"`) {
				t.Fatalf("bodies:\n%s\n%s", got.Text, got.HTML)
			}
			if got.Header.Get("Message-Id") == "" || got.Header.Get("Date") == "" {
				t.Fatalf("no Message-Id or Date: %v", got.Header)
			}
		})
	}

	t.Run("wrong password", func(t *testing.T) {
		srv := mailtest.Start(t, mailtest.Options{Username: "gw", Password: "s3cret-pass"})
		err := newTestSMTP(t, srv, SecurityNone, "gw", "wrong-pass-42", nil).Send(t.Context(), message())
		if err == nil || strings.Contains(err.Error(), "wrong-pass-42") || !strings.Contains(err.Error(), srv.Addr) {
			t.Fatalf("wrong password: %v", err)
		}
	})
	t.Run("starttls required", func(t *testing.T) {
		srv := mailtest.Start(t, mailtest.Options{})
		if err := newTestSMTP(t, srv, SecurityStartTLS, "", "", nil).Send(t.Context(), message()); err == nil {
			t.Fatal("sent in the clear to a server without STARTTLS")
		}
		srv.None(t, 100*time.Millisecond)
	})
	t.Run("untrusted certificate", func(t *testing.T) {
		srv := mailtest.Start(t, mailtest.Options{TLS: tlsCfg})
		if err := newTestSMTP(t, srv, SecurityStartTLS, "", "", nil).Send(t.Context(), message()); err == nil {
			t.Fatal("sent to a server whose certificate is not trusted")
		}
	})
	t.Run("rejected", func(t *testing.T) {
		srv := mailtest.Start(t, mailtest.Options{})
		srv.Reject(true)
		if err := newTestSMTP(t, srv, SecurityNone, "", "", nil).Send(t.Context(), message()); err == nil || !strings.Contains(err.Error(), "451") {
			t.Fatalf("rejected message: %v", err)
		}
	})
	t.Run("silent server times out", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				defer c.Close() // never greets
			}
		}()
		port := ln.Addr().(*net.TCPAddr).Port
		s, err := NewSMTP(SMTPConfig{Host: "127.0.0.1", Port: port, Security: SecurityNone, From: "a@example.test", Timeout: 300 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := s.Send(t.Context(), message()); err == nil {
			t.Fatal("sent to a server that never answers")
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("gave up after %v with a 300ms timeout", d)
		}
		// The send's context ends it too, whatever the timeout.
		s, err = NewSMTP(SMTPConfig{Host: "127.0.0.1", Port: port, Security: SecurityNone, From: "a@example.test", Timeout: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
		defer cancel()
		start = time.Now()
		if err := s.Send(ctx, message()); err == nil {
			t.Fatal("sent to a server that never answers")
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("gave up after %v with a 300ms context", d)
		}
	})
}

func newTestSMTP(t *testing.T, srv *mailtest.Server, security, user, pass string, pool *x509.CertPool) *SMTP {
	t.Helper()
	s, err := NewSMTP(SMTPConfig{Host: srv.Host, Port: srv.Port, Security: security, Username: user, Password: pass,
		From: "authgate <no-reply@example.test>", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	s.rootCAs = pool
	return s
}

// TestNewSMTPChecks: every problem is named, the password never.
func TestNewSMTPChecks(t *testing.T) {
	_, err := NewSMTP(SMTPConfig{Port: 0, Security: "ssl", Password: "hunter2-secret", From: "not an address"})
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{"host is required", "port must be", "security must be", "username and password", "timeout", "from must be"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q missing from %v", want, err)
		}
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("password in the error: %v", err)
	}
}

// selfSigned is a certificate for 127.0.0.1 and the pool that trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mailtest"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}
