package mail

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	netmail "net/mail"
	"strconv"
	"sync"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/authgate/authgate/authsvc"
)

// Transport security of the connection to the mail server.
const (
	SecurityStartTLS = "starttls" // plain connection upgraded with STARTTLS, which is required (port 587)
	SecurityTLS      = "tls"      // TLS from the first byte ("SMTPS", port 465)
	SecurityNone     = "none"     // no encryption: development, or a relay on loopback
)

// SMTPConfig says how to reach the mail server. Password is never part of an error.
type SMTPConfig struct {
	Host               string
	Port               int
	Security           string // SecurityStartTLS, SecurityTLS or SecurityNone
	Username, Password string // both empty: no authentication
	From               string // "authgate <no-reply@example.com>" or a bare address
	Timeout            time.Duration
}

// SMTP sends mail through a mail server, one connection per message (the core sends
// rarely, and a fresh connection never finds a stale one). It is safe for concurrent use.
type SMTP struct {
	cfg  SMTPConfig
	from *netmail.Address
	// rootCAs verifies the server's certificate; nil means the system's (tests set it).
	rootCAs *x509.CertPool
}

// NewSMTP checks cfg and returns the mailer; it connects to nothing. Errors: a missing
// host or from address, a port out of range, an unknown security, a username without a
// password (or the reverse), a timeout that is not positive.
func NewSMTP(cfg SMTPConfig) (*SMTP, error) {
	var errs []error
	if cfg.Host == "" {
		errs = append(errs, errors.New("host is required"))
	}
	if cfg.Port < 1 || cfg.Port > 65535 {
		errs = append(errs, errors.New("port must be between 1 and 65535"))
	}
	switch cfg.Security {
	case SecurityStartTLS, SecurityTLS, SecurityNone:
	default:
		errs = append(errs, fmt.Errorf("security must be %s, %s or %s", SecurityStartTLS, SecurityTLS, SecurityNone))
	}
	if (cfg.Username == "") != (cfg.Password == "") {
		errs = append(errs, errors.New("username and password go together"))
	}
	if cfg.Timeout <= 0 {
		errs = append(errs, errors.New("timeout must be > 0"))
	}
	from, err := netmail.ParseAddress(cfg.From)
	if err != nil {
		errs = append(errs, errors.New("from must be an email address such as \"authgate <no-reply@example.com>\""))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("mail: %w", err)
	}
	s := &SMTP{cfg: cfg, from: from}
	if _, err := s.client(nil); err != nil {
		return nil, err
	}
	return s, nil
}

// Addr is the server's host:port, for logs.
func (s *SMTP) Addr() string { return net.JoinHostPort(s.cfg.Host, strconv.Itoa(s.cfg.Port)) }

// Send delivers m: plain text, with the HTML body as its alternative. Each exchange
// gives up after the configured timeout without progress, and the connection is closed
// when ctx ends and when Send returns, whatever happened. Errors: an unusable recipient,
// or the server's (wrapped, with its address; never the password).
func (s *SMTP) Send(ctx context.Context, m authsvc.Message) error {
	msg := gomail.NewMsg()
	msg.FromMailAddress(s.from)
	if err := msg.To(m.To); err != nil {
		return fmt.Errorf("mail: recipient: %w", err)
	}
	msg.Subject(m.Subject)
	msg.SetDate()
	msg.SetMessageID()
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	var conn connCloser
	defer conn.close()
	c, err := s.client(conn.dial(ctx, s.tlsConfig(), s.cfg.Security == SecurityTLS))
	if err != nil {
		return err
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("mail: smtp %s: %w", s.Addr(), err)
	}
	return nil
}

func (s *SMTP) tlsConfig() *tls.Config {
	return &tls.Config{ServerName: s.cfg.Host, MinVersion: tls.VersionTLS12, RootCAs: s.rootCAs}
}

// connCloser dials the one connection of a send and closes it when the send's context
// ends or the send returns (go-mail leaves a connection open when the greeting, STARTTLS
// or authentication fails).
type connCloser struct {
	mu   sync.Mutex
	conn net.Conn
	stop func() bool
}

// close closes the connection, if one was dialled.
func (cc *connCloser) close() {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.stop != nil {
		cc.stop()
	}
	if cc.conn != nil {
		_ = cc.conn.Close()
	}
}

// dial returns the dial function of one send: TCP, then TLS at once when implicit.
func (cc *connCloser) dial(ctx context.Context, cfg *tls.Config, implicit bool) gomail.DialContextFunc {
	return func(dctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		conn, err := d.DialContext(dctx, network, addr)
		if err != nil {
			return nil, err
		}
		if implicit {
			tc := tls.Client(conn, cfg)
			if err := tc.HandshakeContext(dctx); err != nil {
				_ = conn.Close()
				return nil, err
			}
			conn = tc
		}
		cc.mu.Lock()
		cc.conn = conn
		cc.stop = context.AfterFunc(ctx, func() { _ = conn.Close() })
		cc.mu.Unlock()
		return conn, nil
	}
}

// client is a go-mail client for one send (its authentication state is per connection)
// dialling with dial; nil dials nothing (NewSMTP's check of the options).
func (s *SMTP) client(dial gomail.DialContextFunc) (*gomail.Client, error) {
	opts := []gomail.Option{
		gomail.WithPort(s.cfg.Port),
		gomail.WithTimeout(s.cfg.Timeout),
		gomail.WithTLSConfig(s.tlsConfig()),
	}
	if dial != nil {
		opts = append(opts, gomail.WithDialContextFunc(dial))
	}
	switch s.cfg.Security {
	case SecurityTLS:
		opts = append(opts, gomail.WithSSL())
	case SecurityStartTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	}
	if s.cfg.Username != "" {
		opts = append(opts, gomail.WithUsername(s.cfg.Username), gomail.WithPassword(s.cfg.Password),
			gomail.WithOpportunisticSMTPAuth(gomail.SMTPAuthSCRAMSHA256, gomail.SMTPAuthSCRAMSHA1,
				gomail.SMTPAuthCramMD5, gomail.SMTPAuthPlain, gomail.SMTPAuthLogin))
	}
	c, err := gomail.NewClient(s.cfg.Host, opts...)
	if err != nil {
		return nil, fmt.Errorf("mail: smtp client for %s: %w", s.Addr(), err)
	}
	return c, nil
}

// The SMTP client is a mailer of the core.
var _ authsvc.Mailer = (*SMTP)(nil)
