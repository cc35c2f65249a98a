package app

import (
	"fmt"
	"log/slog"

	"github.com/authgate/authgate/authsvc"
	"github.com/authgate/authgate/gateway/internal/config"
	"github.com/authgate/authgate/gateway/internal/mail"
)

// emailConfig is the account core's mail: the SMTP mailer when email.smtp.host is set,
// otherwise the log-only one (links in the log in development, dropped in production),
// with the embedded letters. Errors: templates that do not parse, SMTP settings the
// mail package refuses (configuration validation has already checked them).
func emailConfig(cfg *config.Config, log *slog.Logger) (authsvc.EmailConfig, error) {
	e := cfg.Email
	letters, err := mail.NewLetters()
	if err != nil {
		return authsvc.EmailConfig{}, err
	}
	out := authsvc.EmailConfig{
		Letters: letters, PublicURL: e.PublicURL, VerificationRequired: e.VerificationRequired,
		VerificationTTL: e.VerificationTTL, SendTimeout: e.SMTP.Timeout,
	}
	if e.LogOnly() {
		if cfg.Production() {
			log.Warn("email: no mail server (email.smtp.host is empty): password-reset mails are dropped")
		} else {
			log.Warn("email: log-only mailer (email.smtp.host is empty): nothing is sent, each mail's link is logged",
				"verification_required", e.VerificationRequired)
		}
		out.Mailer = mail.NewLog(log, !cfg.Production())
		return out, nil
	}
	s, err := mail.NewSMTP(mail.SMTPConfig{
		Host: e.SMTP.Host, Port: e.SMTP.Port, Security: e.SMTP.Security,
		Username: e.SMTP.Username, Password: e.SMTP.Password, From: e.From, Timeout: e.SMTP.Timeout,
	})
	if err != nil {
		return authsvc.EmailConfig{}, fmt.Errorf("email.smtp: %w", err)
	}
	log.Info("email: smtp", "addr", s.Addr(), "security", e.SMTP.Security, "auth", e.SMTP.Username != "",
		"verification_required", e.VerificationRequired)
	out.Mailer = s
	return out, nil
}
