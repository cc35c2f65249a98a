package authsvc

import (
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

// NormalizeEmail trims and lower-cases an email, so that ALICE@x and alice@x are one account.
func NormalizeEmail(email string) string { return users.NormalizeEmail(email) }

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
	if strings.TrimSpace(u.Name) == "" {
		out = append(out, Issue{"name", IssueRequired})
	}
	switch email := NormalizeEmail(u.Email); {
	case email == "":
		out = append(out, Issue{"email", IssueRequired})
	case !validEmail(email):
		out = append(out, Issue{"email", IssueInvalid})
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

// ValidEmail reports whether s (already normalised) is acceptable as an account's email.
func ValidEmail(s string) bool { return validEmail(s) }

// validEmail is a pragmatic check: one @, a non-empty local part, a dotted domain, no
// spaces, at most 254 bytes.
func validEmail(s string) bool {
	if len(s) > 254 || strings.ContainsAny(s, " \t\r\n<>()[],;:\"\\") {
		return false
	}
	at := strings.IndexByte(s, '@')
	if at <= 0 || at != strings.LastIndexByte(s, '@') {
		return false
	}
	domain := s[at+1:]
	dot := strings.LastIndexByte(domain, '.')
	return dot > 0 && dot < len(domain)-1 && !strings.Contains(domain, "..")
}
