// Package mail writes and delivers the account core's mails: Letters renders each
// letter from embedded templates (text/template for the subject and the plain-text
// body, html/template for the HTML body, so a user's name is escaped there), SMTP
// delivers through a mail server with github.com/wneessen/go-mail, and Log is the
// development stand-in that only logs what it would have sent.
package mail

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"strconv"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/authgate/authgate/authsvc"
)

//go:embed templates/*.txt templates/*.html
var templates embed.FS

// letterTemplates are one kind of letter's templates: the text file defines "subject"
// and is the plain-text body, the HTML file is the HTML body.
type letterTemplates struct {
	text *texttemplate.Template
	html *htmltemplate.Template
}

// Letters writes the core's letters. It is immutable and safe for concurrent use.
type Letters struct {
	kinds map[authsvc.LetterKind]letterTemplates
}

// NewLetters parses the embedded templates. Errors: a template that does not parse (a
// build defect).
func NewLetters() (*Letters, error) {
	l := &Letters{kinds: make(map[authsvc.LetterKind]letterTemplates)}
	for _, kind := range []authsvc.LetterKind{authsvc.LetterVerifyEmail, authsvc.LetterResetPassword} {
		name := "templates/" + string(kind)
		text, err := texttemplate.ParseFS(templates, name+".txt")
		if err != nil {
			return nil, fmt.Errorf("mail: %w", err)
		}
		if text.Lookup("subject") == nil {
			return nil, fmt.Errorf("mail: %s.txt defines no subject", name)
		}
		html, err := htmltemplate.ParseFS(templates, name+".html")
		if err != nil {
			return nil, fmt.Errorf("mail: %w", err)
		}
		l.kinds[kind] = letterTemplates{text: text.Option("missingkey=error"), html: html.Option("missingkey=error")}
	}
	return l, nil
}

// letterData is what the templates see.
type letterData struct {
	Name, Email string
	URL         string
	ValidFor    string // "10 minutes", "24 hours"
}

// Write renders l. Errors: an unknown kind, a template that fails to execute.
func (l *Letters) Write(lt authsvc.Letter) (authsvc.Message, error) {
	t, ok := l.kinds[lt.Kind]
	if !ok {
		return authsvc.Message{}, fmt.Errorf("mail: no templates for letter %q", lt.Kind)
	}
	d := letterData{Name: lt.Name, Email: lt.To, URL: lt.URL, ValidFor: HumanDuration(lt.ValidFor)}
	var subject, text, html bytes.Buffer
	if err := errors.Join(
		t.text.ExecuteTemplate(&subject, "subject", d),
		t.text.Execute(&text, d),
		t.html.Execute(&html, d),
	); err != nil {
		return authsvc.Message{}, fmt.Errorf("mail: write %s: %w", lt.Kind, err)
	}
	// A subject is one header line: whatever a template put in it stays on one line.
	oneLine := strings.Join(strings.Fields(subject.String()), " ")
	return authsvc.Message{To: lt.To, Subject: oneLine, Text: text.String(), HTML: html.String()}, nil
}

// HumanDuration says d in words when it is a whole number of hours, minutes or seconds
// ("24 hours", "10 minutes", "1 second"), else as Go writes it.
func HumanDuration(d time.Duration) string {
	for _, u := range []struct {
		d    time.Duration
		name string
	}{{time.Hour, "hour"}, {time.Minute, "minute"}, {time.Second, "second"}} {
		if d >= u.d && d%u.d == 0 {
			n := int64(d / u.d)
			if n == 1 {
				return "1 " + u.name
			}
			return strconv.FormatInt(n, 10) + " " + u.name + "s"
		}
	}
	return d.String()
}

// The gateway's letters are what the core writes with.
var _ authsvc.Letters = (*Letters)(nil)
