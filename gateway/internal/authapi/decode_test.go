package authapi

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/authgate/authgate/authsvc"
	"github.com/authgate/authgate/gateway/internal/httperr"
)

func messages(t *testing.T, err error) []string {
	t.Helper()
	var ve *httperr.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %v is not a *httperr.ValidationError", err)
	}
	out := make([]string, 0, len(ve.Problems))
	for _, is := range ve.Problems {
		if len(is.Path) != 2 || is.Path[0] != "body" {
			t.Errorf("issue path %v, want [body field]", is.Path)
		}
		out = append(out, is.Path[1]+": "+is.Message)
	}
	return out
}

func mustBody(t *testing.T, s string) body {
	t.Helper()
	b, err := decodeBody(strings.NewReader(s))
	if err != nil {
		t.Fatalf("decodeBody(%s): %v", s, err)
	}
	return b
}

// api is the handlers with the account core's real rules (they are a pure value).
func api() *API {
	return &API{signup: rulesOnly{authsvc.Rules{PasswordMaxLength: 64}}, passwordMaxLength: 64}
}

// rulesOnly is a Signup whose Validate is the core's own; Register is not used here.
type rulesOnly struct{ authsvc.Rules }

func (rulesOnly) Register(context.Context, authsvc.NewUser, authsvc.Client) (authsvc.User, error) {
	return authsvc.User{}, nil
}

func TestValidateRegisterSeedMessages(t *testing.T) {
	long := strings.Repeat("x", 65)
	tests := []struct {
		name string
		body string
		want []string
	}{
		{"empty", `{}`, []string{
			"name: Name is required", "email: Email is required",
			"password: Password is required", "passwordConfirm: Please confirm your password",
		}},
		{"blank values", `{"name":"  ","email":"","password":"","passwordConfirm":""}`, []string{
			"name: Name is required", "email: Invalid email", "password: Password must be more than 8 characters",
		}},
		{"bad email", `{"name":"A","email":"nope","password":"password1","passwordConfirm":"password1"}`,
			[]string{"email: Invalid email"}},
		{"short password", `{"name":"A","email":"a@x.io","password":"short","passwordConfirm":"short"}`,
			[]string{"password: Password must be more than 8 characters"}},
		{"long password", `{"name":"A","email":"a@x.io","password":"` + long + `","passwordConfirm":"` + long + `"}`,
			[]string{"password: Password must be less than 64 characters"}},
		{"mismatch", `{"name":"A","email":"a@x.io","password":"password1","passwordConfirm":"password2"}`,
			[]string{"passwordConfirm: Passwords do not match"}},
		{"mismatch hidden by other errors", `{"name":"A","email":"bad","password":"password1","passwordConfirm":"x"}`,
			[]string{"email: Invalid email"}},
		{"wrong type", `{"name":1,"email":"a@x.io","password":"password1","passwordConfirm":"password1"}`,
			[]string{"name: Expected string, received number"}},
		{"types and values in field order", `{"name":true,"email":"bad","password":[1],"passwordConfirm":"x"}`,
			[]string{"name: Expected string, received boolean", "email: Invalid email", "password: Expected string, received array"}},
		{"null is missing", `{"name":null,"email":"a@x.io","password":"password1","passwordConfirm":"password1"}`,
			[]string{"name: Name is required"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := api().validateRegister(mustBody(t, tc.body))
			got := messages(t, err)
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Fatalf("got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestValidateRegisterKeepsInput(t *testing.T) {
	in, err := api().validateRegister(mustBody(t, `{"name":" Alice ","email":"  ALICE@Example.COM ","password":"password1","passwordConfirm":"password1"}`))
	if err != nil {
		t.Fatal(err)
	}
	// The core trims and normalises when it stores; the handler passes what it got.
	if authsvc.NormalizeEmail(in.Email) != "alice@example.com" || in.Password != "password1" {
		t.Fatalf("got %+v", in)
	}
}

func TestValidateLoginSeedMessages(t *testing.T) {
	tests := []struct {
		name, body string
		want       []string
	}{
		{"empty", `{}`, []string{"email: Email is required", "password: Password is required"}},
		{"malformed email", `{"email":"x","password":"password1"}`, []string{"email: Invalid email or password"}},
		{"short password", `{"email":"a@x.io","password":"short"}`, []string{"password: Invalid email or password"}},
		{"wrong types", `{"email":5,"password":{}}`, []string{"email: Expected string, received number", "password: Expected string, received object"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := validateLogin(mustBody(t, tc.body))
			got := messages(t, err)
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Fatalf("got %q\nwant %q", got, tc.want)
			}
		})
	}
	cr, err := validateLogin(mustBody(t, `{"email":" A@X.io ","password":"password1"}`))
	if err != nil || cr.Email != "a@x.io" {
		t.Fatalf("login input %+v, %v", cr, err)
	}
}

func TestDecodeBodyRejectsNonObjects(t *testing.T) {
	for _, s := range []string{`{"a":`, `[1,2]`, `"str"`, `null`, `12`, `{"a":1}x`} {
		if _, err := decodeBody(strings.NewReader(s)); !errors.Is(err, httperr.ErrMalformedBody) {
			t.Errorf("decodeBody(%q) = %v, want ErrMalformedBody", s, err)
		}
	}
	if b, err := decodeBody(strings.NewReader("  ")); err != nil || len(b) != 0 {
		t.Errorf("empty body: %v %v", b, err)
	}
}

func TestValidEmail(t *testing.T) {
	good := []string{"a@b.co", "first.last+tag@sub.example.org"}
	bad := []string{"", "a", "a@", "@b.co", "a@b", "a@b.", "a b@c.de", "a@@b.co", "a@b..co", "<a@b.co>"}
	for _, s := range good {
		if !authsvc.ValidEmail(s) {
			t.Errorf("ValidEmail(%q) = false", s)
		}
	}
	for _, s := range bad {
		if authsvc.ValidEmail(s) {
			t.Errorf("ValidEmail(%q) = true", s)
		}
	}
}

// FuzzDecodeBody: any body either decodes to a JSON object whose string fields the
// validators can read, or is refused with ErrMalformedBody; nothing else, no panic.
func FuzzDecodeBody(f *testing.F) {
	for _, s := range []string{`{}`, `{"email":"a@x.io","password":"password1"}`, `[1]`, `{"a":`, `null`, `"x"`,
		`{"name":"\u0000","email":{"$ne":1},"password":1e400}`, `  `, `{"a":1}{"b":2}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := decodeBody(strings.NewReader(s))
		if err != nil {
			if !errors.Is(err, httperr.ErrMalformedBody) {
				t.Fatalf("decodeBody(%q) = %v", s, err)
			}
			return
		}
		if b == nil {
			t.Fatalf("decodeBody(%q) returned a nil object", s)
		}
		_, _ = validateLogin(b)
		_, _ = api().validateRegister(b)
	})
}
