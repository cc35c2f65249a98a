package authsvc

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"
)

// body is a decoded JSON object whose fields are checked one by one, the way the seed's
// zod schemas did: a missing field says "X is required", a non-string says what it got.
type body map[string]json.RawMessage

// decodeRequest reads r's body as a JSON object when it is declared application/json.
// Any other body is ignored and reads as {}, as the seed's express.json() did: so a
// cross-site HTML form (text/plain, form-urlencoded) cannot log anyone in.
func decodeRequest(r *http.Request) (body, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return body{}, nil
	}
	return decodeBody(r.Body)
}

// decodeBody reads a JSON object from r. Errors: ErrMalformedBody, or the reader's own
// error (the body limit's 413 passes through unchanged).
func decodeBody(r io.Reader) (body, error) {
	raw, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return body{}, nil
	}
	var b body
	if err := json.Unmarshal(raw, &b); err != nil || b == nil {
		return nil, ErrMalformedBody
	}
	return b, nil
}

// validator collects issues in field order.
type validator struct{ issues []Issue }

func (v *validator) add(field, code, msg string) {
	v.issues = append(v.issues, Issue{Path: []string{"body", field}, Message: msg, Code: code})
}

func (v *validator) err() error {
	if len(v.issues) == 0 {
		return nil
	}
	return &ValidationError{Issues: v.issues}
}

// str returns the string field name of b; ok is false (and an issue recorded) when it is
// missing, null or not a string.
func (v *validator) str(b body, name, required string) (string, bool) {
	raw, present := b[name]
	if !present || string(raw) == "null" {
		v.add(name, "invalid_type", required)
		return "", false
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		v.add(name, "invalid_type", "Expected string, received "+jsonKind(raw))
		return "", false
	}
	return s, true
}

func jsonKind(raw json.RawMessage) string {
	switch {
	case len(raw) == 0:
		return "undefined"
	case raw[0] == '{':
		return "object"
	case raw[0] == '[':
		return "array"
	case raw[0] == 't' || raw[0] == 'f':
		return "boolean"
	default:
		return "number"
	}
}

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

type registerInput struct {
	Name, Email, Password string
}

// validateRegister checks a register body with the seed's messages and order.
func validateRegister(b body, maxLen int) (registerInput, error) {
	var v validator
	var in registerInput
	name, okName := v.str(b, "name", "Name is required")
	if okName && strings.TrimSpace(name) == "" {
		v.add("name", "too_small", "Name is required")
	}
	in.Name = strings.TrimSpace(name)
	email, okEmail := v.str(b, "email", "Email is required")
	in.Email = strings.ToLower(strings.TrimSpace(email))
	if okEmail && !validEmail(in.Email) {
		v.add("email", "invalid_string", "Invalid email")
	}
	pw, okPw := v.str(b, "password", "Password is required")
	if okPw {
		n := utf8.RuneCountInString(pw)
		if n < 8 {
			v.add("password", "too_small", "Password must be more than 8 characters")
		}
		if n > maxLen {
			v.add("password", "too_big", "Password must be less than "+strconv.Itoa(maxLen)+" characters")
		}
	}
	in.Password = pw
	confirm, _ := v.str(b, "passwordConfirm", "Please confirm your password")
	if err := v.err(); err != nil {
		return registerInput{}, err
	}
	if confirm != pw {
		v.add("passwordConfirm", "custom", "Passwords do not match")
		return registerInput{}, v.err()
	}
	return in, nil
}

type loginInput struct{ Email, Password string }

// validateLogin checks a login body: missing fields are named, a malformed email or a
// short password both say "Invalid email or password".
func validateLogin(b body) (loginInput, error) {
	var v validator
	email, okEmail := v.str(b, "email", "Email is required")
	email = strings.ToLower(strings.TrimSpace(email))
	if okEmail && !validEmail(email) {
		v.add("email", "invalid_string", "Invalid email or password")
	}
	pw, okPw := v.str(b, "password", "Password is required")
	if okPw && utf8.RuneCountInString(pw) < 8 {
		v.add("password", "too_small", "Invalid email or password")
	}
	if err := v.err(); err != nil {
		return loginInput{}, err
	}
	return loginInput{Email: email, Password: pw}, nil
}

// quote renders s as a JSON string value.
func quote(s string) json.RawMessage {
	b, _ := json.Marshal(s) // a string always marshals
	return b
}
