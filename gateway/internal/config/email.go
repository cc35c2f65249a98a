package config

import (
	"net"
	"net/mail"
	"net/url"
	"strings"
	"time"
)

// SMTP security settings accepted in SMTP.Security.
const (
	SMTPStartTLS = "starttls"
	SMTPTLS      = "tls"
	SMTPNone     = "none"
)

// Email configures email verification and password-reset mail.
type Email struct {
	// VerificationRequired: new accounts must follow the link mailed at registration
	// before they can log in (off: the seed article's flow, accounts verified at once).
	VerificationRequired bool `koanf:"verification_required"`
	// PublicURL is the base of the links in mails: the browser client that serves
	// /verifyemail/<code> and /resetpassword/<token>.
	PublicURL string `koanf:"public_url"`
	// VerificationTTL is how long a verification link works.
	VerificationTTL time.Duration `koanf:"verification_ttl"`
	// From is the sender, "Name <address>" or an address; required with SMTP.Host.
	From string `koanf:"from"`
	SMTP SMTP   `koanf:"smtp"`
}

// SMTP says how to reach the mail server; an empty Host selects the log-only mailer.
type SMTP struct {
	Host     string        `koanf:"host"`
	Port     int           `koanf:"port"`
	Security string        `koanf:"security"`
	Username string        `koanf:"username"`
	Password string        `koanf:"password"`
	Timeout  time.Duration `koanf:"timeout"`
}

// LogOnly reports whether mail goes to the log instead of a mail server.
func (e Email) LogOnly() bool { return e.SMTP.Host == "" }

// validateEmail checks the email keys. The password is never echoed.
func validateEmail(c *Config, p *problems) {
	e := c.Email
	if u, err := url.Parse(e.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.Opaque != "" {
		p.add("email.public_url", `%q must be an absolute http(s) URL without query, such as "https://app.example.com"`, e.PublicURL)
	}
	if e.VerificationTTL <= 0 {
		p.add("email.verification_ttl", "must be > 0")
	}
	if e.SMTP.Timeout <= 0 {
		p.add("email.smtp.timeout", "must be > 0")
	}
	if e.From != "" {
		if _, err := mail.ParseAddress(e.From); err != nil {
			p.add("email.from", `%q is not an address such as "authgate <no-reply@example.com>"`, e.From)
		}
	}
	switch e.SMTP.Security {
	case SMTPStartTLS, SMTPTLS:
	case SMTPNone:
		if c.Production() && e.SMTP.Host != "" && !loopback(e.SMTP.Host) {
			p.add("email.smtp.security", "none (no encryption) is allowed only in development or to a loopback host")
		}
	default:
		p.add("email.smtp.security", "must be %s, %s or %s", SMTPStartTLS, SMTPTLS, SMTPNone)
	}
	if e.SMTP.Port < 1 || e.SMTP.Port > 65535 {
		p.add("email.smtp.port", "must be between 1 and 65535")
	}
	if (e.SMTP.Username == "") != (e.SMTP.Password == "") {
		p.add("email.smtp.username", "email.smtp.username and email.smtp.password go together (set both or neither)")
	}
	if e.LogOnly() {
		if c.Production() && e.VerificationRequired {
			p.add("email.smtp.host", "required in production when email.verification_required is true "+
				"(set it in the YAML file or %s; the log-only mailer is for development)", envHint("email.smtp.host"))
		}
		return
	}
	if net.ParseIP(e.SMTP.Host) == nil && strings.ContainsAny(e.SMTP.Host, " /:@") {
		p.add("email.smtp.host", "must be a host name or IP address without port")
	}
	if e.From == "" {
		p.add("email.from", "required when email.smtp.host is set (%s)", envHint("email.from"))
	}
}

// loopback reports whether host is localhost or a loopback address.
func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
