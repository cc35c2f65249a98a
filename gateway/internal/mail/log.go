package mail

import (
	"context"
	"log/slog"
	"strings"

	"github.com/authgate/authgate/authsvc"
)

// Log is the mailer without a mail server (email.smtp.host empty): it sends nothing and
// logs each message at INFO instead. In development it logs the links the message
// carries, so `make run` prints them; with reveal off (production) it logs only that a
// mail was dropped, because a link in a log would let whoever reads the log verify or
// reset someone else's account (SECURITY.md E4).
type Log struct {
	log    *slog.Logger
	reveal bool
}

// NewLog returns the log-only mailer; reveal says whether links are logged.
func NewLog(log *slog.Logger, reveal bool) *Log {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Log{log: log, reveal: reveal}
}

// Send logs m and returns nil: nothing can fail.
func (l *Log) Send(ctx context.Context, m authsvc.Message) error {
	if !l.reveal {
		l.log.WarnContext(ctx, "mail dropped: no mail server configured (email.smtp.host)", "subject", m.Subject)
		return nil
	}
	l.log.InfoContext(ctx, "mail not sent (log-only mailer; set email.smtp.host to send)",
		"to", m.To, "subject", m.Subject, "link", strings.Join(Links(m.Text), " "))
	return nil
}

// Links returns the http(s) URLs in text, in order.
func Links(text string) []string {
	var out []string
	for _, f := range strings.Fields(text) {
		if strings.HasPrefix(f, "http://") || strings.HasPrefix(f, "https://") {
			out = append(out, strings.TrimRight(f, ".,;:!?)\"'>"))
		}
	}
	return out
}

// The log-only mailer is a mailer of the core.
var _ authsvc.Mailer = (*Log)(nil)
