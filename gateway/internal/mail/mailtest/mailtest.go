// Package mailtest runs a real SMTP server in the test process (github.com/emersion/go-smtp)
// on 127.0.0.1 and hands the tests every message it receives, parsed: headers, the
// plain-text and the HTML part. It is for tests only; nothing in the gateway imports it.
package mailtest

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	netmail "net/mail"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Message is one received mail.
type Message struct {
	From       string   // envelope sender (MAIL FROM)
	To         []string // envelope recipients (RCPT TO)
	Header     netmail.Header
	Subject    string // decoded
	Text, HTML string // the decoded bodies of the text/plain and text/html parts
	Raw        []byte
}

// Options configure a Server; the zero value is a plain server without authentication.
type Options struct {
	// Username and Password, when set, are required (AUTH PLAIN, also without TLS).
	Username, Password string
	// TLS, when set, offers STARTTLS with this configuration (or, with Implicit, speaks
	// TLS from the first byte).
	TLS      *tls.Config
	Implicit bool
}

// Server is a running SMTP server. Its methods are safe for concurrent use.
type Server struct {
	Addr string // 127.0.0.1:port
	Host string
	Port int

	opts     Options
	srv      *smtp.Server
	received chan Message
	reject   atomic.Bool
	mu       sync.Mutex
	all      []Message
}

// Start runs a server on 127.0.0.1:0 until the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	s := &Server{opts: opts, received: make(chan Message, 64)}
	s.srv = smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &session{s: s}, nil }))
	s.srv.Domain = "mailtest.local"
	s.srv.ReadTimeout, s.srv.WriteTimeout = 10*time.Second, 10*time.Second
	s.srv.MaxMessageBytes = 1 << 20
	s.srv.AllowInsecureAuth = true
	s.srv.TLSConfig = opts.TLS
	var ln net.Listener
	var err error
	if opts.Implicit && opts.TLS != nil {
		ln, err = tls.Listen("tcp", "127.0.0.1:0", opts.TLS)
	} else {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatal(err)
	}
	tcp, _ := ln.Addr().(*net.TCPAddr)
	s.Addr, s.Host, s.Port = ln.Addr().String(), "127.0.0.1", tcp.Port
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, smtp.ErrServerClosed) {
			t.Logf("mailtest: serve: %v", err)
		}
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.srv.Shutdown(ctx); err != nil {
			_ = s.srv.Close()
		}
		<-done
	})
	return s
}

// Reject makes the server refuse every message (451, temporary) while on.
func (s *Server) Reject(on bool) { s.reject.Store(on) }

// Next waits for the next message received, at most 10 seconds.
func (s *Server) Next(t testing.TB) Message {
	t.Helper()
	select {
	case m := <-s.received:
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("mailtest: no message received within 10s")
	}
	return Message{}
}

// None fails the test if a message arrives within d.
func (s *Server) None(t testing.TB, d time.Duration) {
	t.Helper()
	select {
	case m := <-s.received:
		t.Fatalf("mailtest: unexpected message to %v: %q", m.To, m.Subject)
	case <-time.After(d):
	}
}

// All returns every message received so far.
func (s *Server) All() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.all...)
}

type session struct {
	s      *Server
	authed bool
	from   string
	to     []string
}

func (x *session) AuthMechanisms() []string {
	if x.s.opts.Username == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (x *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, username, password string) error {
		if username != x.s.opts.Username || password != x.s.opts.Password {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "Authentication credentials invalid"}
		}
		x.authed = true
		return nil
	}), nil
}

func (x *session) Mail(from string, _ *smtp.MailOptions) error {
	if x.s.opts.Username != "" && !x.authed {
		return smtp.ErrAuthRequired
	}
	x.from = from
	return nil
}

func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	x.to = append(x.to, to)
	return nil
}

func (x *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if x.s.reject.Load() {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Try again later"}
	}
	m, err := parse(raw)
	if err != nil {
		return &smtp.SMTPError{Code: 554, Message: "mailtest: unparsable message: " + err.Error()}
	}
	m.From, m.To = x.from, append([]string(nil), x.to...)
	x.s.mu.Lock()
	x.s.all = append(x.s.all, m)
	x.s.mu.Unlock()
	select {
	case x.s.received <- m:
	default:
	}
	return nil
}

func (x *session) Reset()        { x.from, x.to = "", nil }
func (x *session) Logout() error { return nil }

// parse reads a message: a single text part, or multipart/alternative (or mixed) with
// text/plain and text/html parts; quoted-printable is decoded by mime/multipart.
func parse(raw []byte) (Message, error) {
	msg, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return Message{}, err
	}
	m := Message{Header: msg.Header, Raw: raw}
	var dec mime.WordDecoder
	if m.Subject, err = dec.DecodeHeader(msg.Header.Get("Subject")); err != nil {
		return Message{}, fmt.Errorf("subject: %w", err)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		return Message{}, fmt.Errorf("content type: %w", err)
	}
	if !strings.HasPrefix(mt, "multipart/") {
		body, err := io.ReadAll(msg.Body)
		if err != nil {
			return Message{}, err
		}
		m.Text = string(body)
		return m, nil
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return m, nil
		}
		if err != nil {
			return Message{}, err
		}
		body, err := io.ReadAll(p)
		if err != nil {
			return Message{}, err
		}
		switch pt, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type")); pt {
		case "text/plain":
			m.Text = string(body)
		case "text/html":
			m.HTML = string(body)
		}
	}
}
