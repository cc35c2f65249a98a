package authapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net"
	"net/http"
	"strconv"

	"github.com/authgate/authgate/authsvc"
	"github.com/authgate/authgate/gateway/internal/httperr"
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

// DecodeRequest is decodeRequest for the gateway's other JSON APIs (adminapi): the same
// body rules and errors, so every JSON endpoint reads its body one way.
func DecodeRequest(r *http.Request) (map[string]json.RawMessage, error) {
	b, err := decodeRequest(r)
	return b, err
}

// decodeBody reads a JSON object from r. Errors: httperr.ErrMalformedBody,
// ErrBodyTooLarge (past http.MaxBytesReader's limit), ErrBodyTimeout (the server's read
// deadline passed), or the reader's own error (Echo's body limit passes through
// unchanged).
func decodeBody(r io.Reader) (body, error) {
	raw, err := io.ReadAll(r)
	if err != nil {
		var tooLarge *http.MaxBytesError
		var netErr net.Error
		switch {
		case errors.As(err, &tooLarge):
			return nil, httperr.ErrBodyTooLarge
		case errors.As(err, &netErr) && netErr.Timeout():
			return nil, httperr.ErrBodyTimeout // a client too slow to send its body
		}
		return nil, err
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return body{}, nil
	}
	var b body
	if err := json.Unmarshal(raw, &b); err != nil || b == nil {
		return nil, httperr.ErrMalformedBody
	}
	return b, nil
}

// validator collects problems in field order.
type validator struct{ problems []httperr.Problem }

func (v *validator) add(field, code, msg string) {
	v.problems = append(v.problems, httperr.Problem{Path: []string{"body", field}, Message: msg, Code: code})
}

func (v *validator) err() error {
	if len(v.problems) == 0 {
		return nil
	}
	return &httperr.ValidationError{Problems: v.problems}
}

// str returns the string field name of b; ok is false (and a problem recorded) when it
// is missing, null or not a string.
func (v *validator) str(b body, name, required string) (string, bool) {
	raw, present := b[name]
	if !present || string(raw) == "null" {
		v.add(name, "invalid_type", required)
		return "", false
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		v.add(name, "invalid_type", "Expected string, received "+JSONKind(raw))
		return "", false
	}
	return s, true
}

// JSONKind names the JSON type of raw as zod's messages do ("Expected string, received
// number"): undefined, null, string, object, array, boolean or number.
func JSONKind(raw json.RawMessage) string {
	switch {
	case len(raw) == 0:
		return "undefined"
	case string(raw) == "null":
		return "null"
	case raw[0] == '"':
		return "string"
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

// validateRegister checks a register body with the seed's messages and order: what
// the body lacks or mistypes is reported here, what the values break is the core's rule
// (Validate) in the seed's words; "Passwords do not match" comes only when nothing else
// is wrong.
func (a *API) validateRegister(b body) (authsvc.NewUser, error) {
	var v validator
	var in authsvc.NewUser
	fields := []struct {
		name, required string
		dst            *string
		ok             bool
	}{
		{"name", "Name is required", &in.Name, false},
		{"email", "Email is required", &in.Email, false},
		{"password", "Password is required", &in.Password, false},
	}
	var values validator
	for i := range fields {
		f := &fields[i]
		*f.dst, f.ok = v.str(b, f.name, f.required)
	}
	issues := a.signup.Validate(in)
	for _, f := range fields {
		if !f.ok {
			continue
		}
		for _, is := range issues {
			if is.Field == f.name {
				code, msg := a.registerMessage(is)
				values.add(f.name, code, msg)
			}
		}
	}
	confirm, _ := v.str(b, "passwordConfirm", "Please confirm your password")
	v.problems = mergeByField(v.problems, values.problems, []string{"name", "email", "password", "passwordConfirm"})
	if err := v.err(); err != nil {
		return authsvc.NewUser{}, err
	}
	if confirm != in.Password {
		v.add("passwordConfirm", "custom", "Passwords do not match")
		return authsvc.NewUser{}, v.err()
	}
	return in, nil
}

// registerMessage is the seed's wording of a core validation issue.
func (a *API) registerMessage(is authsvc.Issue) (code, msg string) {
	return issueMessage(is, a.passwordMaxLength)
}

// issueMessage is the seed's wording of a core validation issue; passwordMaxLength is
// named in "Password must be less than N characters".
func issueMessage(is authsvc.Issue, passwordMaxLength int) (code, msg string) {
	switch is.Field + "/" + is.Code {
	case "name/" + authsvc.IssueRequired:
		return "too_small", "Name is required"
	case "name/" + authsvc.IssueInvalid:
		return "invalid_string", "Invalid name"
	case "email/" + authsvc.IssueRequired, "email/" + authsvc.IssueInvalid:
		return "invalid_string", "Invalid email"
	case "password/" + authsvc.IssueRequired, "password/" + authsvc.IssueTooShort:
		return "too_small", "Password must be more than " + strconv.Itoa(authsvc.MinPasswordLength) + " characters"
	case "password/" + authsvc.IssueTooLong:
		return "too_big", "Password must be less than " + strconv.Itoa(passwordMaxLength) + " characters"
	}
	return "custom", "Invalid " + is.Field
}

// mergeByField orders problems by the fields' order, keeping each field's own order.
func mergeByField(a, b []httperr.Problem, order []string) []httperr.Problem {
	out := make([]httperr.Problem, 0, len(a)+len(b))
	for _, f := range order {
		for _, list := range [][]httperr.Problem{a, b} {
			for _, p := range list {
				if p.Path[1] == f {
					out = append(out, p)
				}
			}
		}
	}
	return out
}

// validateLogin checks a login body: missing fields are named, a malformed email or a
// short password both say "Invalid email or password".
func validateLogin(b body) (authsvc.Credentials, error) {
	var v validator
	email, okEmail := v.str(b, "email", "Email is required")
	if okEmail && !authsvc.ValidEmail(email) {
		v.add("email", "invalid_string", "Invalid email or password")
	}
	email = authsvc.NormalizeEmail(email)
	pw, okPw := v.str(b, "password", "Password is required")
	if okPw && len([]rune(pw)) < authsvc.MinPasswordLength {
		v.add("password", "too_small", "Invalid email or password")
	}
	if err := v.err(); err != nil {
		return authsvc.Credentials{}, err
	}
	return authsvc.Credentials{Email: email, Password: pw}, nil
}
