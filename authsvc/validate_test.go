package authsvc

import (
	"errors"
	"strings"
	"testing"
)

func messages(t *testing.T, err error) []string {
	t.Helper()
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %v is not a *ValidationError", err)
	}
	out := make([]string, 0, len(ve.Issues))
	for _, is := range ve.Issues {
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
		{"null is missing", `{"name":null,"email":"a@x.io","password":"password1","passwordConfirm":"password1"}`,
			[]string{"name: Name is required"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := validateRegister(mustBody(t, tc.body), 64)
			got := messages(t, err)
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Fatalf("got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestValidateRegisterNormalisesEmail(t *testing.T) {
	in, err := validateRegister(mustBody(t, `{"name":" Alice ","email":"  ALICE@Example.COM ","password":"password1","passwordConfirm":"password1"}`), 64)
	if err != nil {
		t.Fatal(err)
	}
	if in.Email != "alice@example.com" || in.Name != "Alice" {
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
}

func TestDecodeBodyRejectsNonObjects(t *testing.T) {
	for _, s := range []string{`{"a":`, `[1,2]`, `"str"`, `null`, `12`, `{"a":1}x`} {
		if _, err := decodeBody(strings.NewReader(s)); !errors.Is(err, ErrMalformedBody) {
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
		if !validEmail(s) {
			t.Errorf("validEmail(%q) = false", s)
		}
	}
	for _, s := range bad {
		if validEmail(s) {
			t.Errorf("validEmail(%q) = true", s)
		}
	}
}
