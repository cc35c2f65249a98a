package authsvc

import (
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/authgate/authgate/authsvc/internal/users"
)

// MinPasswordLength is the fewest characters a password may have (the seed's rule).
const MinPasswordLength = 8

// NewUser is an account to create.
type NewUser struct {
	Name, Email, Password string
	Role                  string // "" means "user"
}

// NormalizeEmail returns the stored form of an email: trimmed, the local part NFC and
// lower-cased, the domain in lower-case ASCII (punycode), so that ALICE@x and alice@x
// are one account (see CanonicalEmail for the rules). An email CanonicalEmail refuses
// comes back trimmed and lower-cased only; check it with ValidEmail.
func NormalizeEmail(email string) string { return users.NormalizeEmail(email) }

// CanonicalEmail returns the stored form of email, or an error when it is not an
// address an account may have: blank (ErrEmailEmpty), or malformed or holding a
// control, zero-width, bidi or other invisible character (ErrEmailInvalid). It is
// idempotent, and for ASCII input equals the trimmed, lower-cased address.
func CanonicalEmail(email string) (string, error) { return users.CanonicalEmail(email) }

// Errors of CanonicalEmail.
var (
	ErrEmailEmpty   = users.ErrEmailEmpty
	ErrEmailInvalid = users.ErrEmailInvalid
)

// Rules are the account core's rules for new values, a pure function of its settings.
type Rules struct {
	PasswordMaxLength int // characters
}

// Validate checks u as Register would; see Rules.Validate.
func (s *Service) Validate(u NewUser) []Issue { return s.rules.Validate(u) }

// Validate returns the problems of u in field order (name, email, password), nil when
// there are none. Values are judged after trimming the name and normalising the email.
func (r Rules) Validate(u NewUser) []Issue {
	var out []Issue
	switch name := strings.TrimSpace(u.Name); {
	case name == "":
		out = append(out, Issue{"name", IssueRequired})
	case !users.VisibleText(name, true):
		out = append(out, Issue{"name", IssueInvalid})
	}
	if is, ok := emailIssue(u.Email); !ok {
		out = append(out, is)
	}
	out = append(out, r.checkPassword(u.Password)...)
	return out
}

// checkPassword returns the password's problems: empty, shorter than MinPasswordLength
// or longer than PasswordMaxLength characters.
func (r Rules) checkPassword(pw string) []Issue {
	n := utf8.RuneCountInString(pw)
	var out []Issue
	if pw == "" {
		return []Issue{{"password", IssueRequired}}
	}
	if n < MinPasswordLength {
		out = append(out, Issue{"password", IssueTooShort})
	}
	if n > r.PasswordMaxLength {
		out = append(out, Issue{"password", IssueTooLong})
	}
	return out
}

// ValidEmail reports whether s is acceptable as an account's email (CanonicalEmail
// accepts it).
func ValidEmail(s string) bool { return validEmail(s) }

// ValidUserID reports whether id can name a user: 24 lower-case hex digits, the form
// user ids are written in everywhere (sessions, audit events); anything else names no
// one and is not looked up.
func ValidUserID(id string) bool { return users.ValidID(id) }

func validEmail(s string) bool {
	_, err := users.CanonicalEmail(s)
	return err == nil
}

// emailIssue is the problem of an email as input, ok when it has none.
func emailIssue(email string) (Issue, bool) {
	switch _, err := users.CanonicalEmail(email); {
	case err == nil:
		return Issue{}, true
	case errors.Is(err, users.ErrEmailEmpty):
		return Issue{"email", IssueRequired}, false
	default:
		return Issue{"email", IssueInvalid}, false
	}
}
