package config

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// prod is what production needs besides the email keys.
func prod(extra map[string]string) map[string]string {
	env := map[string]string{"AUTHGATE_MODE": "production", "MONGODB_URI": "mongodb://m", "REDIS_URL": "redis://r",
		"ACCESS_TOKEN_PRIVATE_KEY": "k", "ACCESS_TOKEN_PUBLIC_KEY": "k", "REFRESH_TOKEN_PRIVATE_KEY": "k", "REFRESH_TOKEN_PUBLIC_KEY": "k"}
	for k, v := range extra {
		env[k] = v
	}
	return env
}

// TestEmailSettings: the defaults (log-only mailer, verification off), values read from
// the environment, and every rule of the email keys; the SMTP password is never echoed.
func TestEmailSettings(t *testing.T) {
	c := mustLoad(t, input{})
	if e := c.Email; e.VerificationRequired || e.PublicURL != "http://localhost:3000" || e.VerificationTTL != 24*time.Hour ||
		!e.LogOnly() || e.SMTP.Port != 587 || e.SMTP.Security != SMTPStartTLS || e.SMTP.Timeout != 10*time.Second {
		t.Fatalf("defaults %+v", e)
	}
	c = mustLoad(t, input{env: map[string]string{
		"AUTHGATE_EMAIL__VERIFICATION_REQUIRED": "true", "AUTHGATE_EMAIL__SMTP__HOST": "smtp.example.com",
		"AUTHGATE_EMAIL__SMTP__PORT": "465", "AUTHGATE_EMAIL__SMTP__SECURITY": "tls", "AUTHGATE_EMAIL__FROM": "authgate <no-reply@example.com>",
		"AUTHGATE_EMAIL__SMTP__USERNAME": "gw", "AUTHGATE_EMAIL__SMTP__PASSWORD": "pw", "AUTHGATE_EMAIL__SMTP__TIMEOUT": "3s",
	}})
	if e := c.Email; !e.VerificationRequired || e.LogOnly() || e.SMTP.Port != 465 || e.SMTP.Security != SMTPTLS || e.SMTP.Timeout != 3*time.Second {
		t.Fatalf("from the environment %+v", e)
	}

	tests := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"bad values", map[string]string{
			"AUTHGATE_EMAIL__PUBLIC_URL": "localhost:3000/x?y", "AUTHGATE_EMAIL__VERIFICATION_TTL": "-1h",
			"AUTHGATE_EMAIL__SMTP__TIMEOUT": "0s", "AUTHGATE_EMAIL__FROM": "not an address", "AUTHGATE_EMAIL__SMTP__SECURITY": "ssl",
			"AUTHGATE_EMAIL__SMTP__PORT": "70000", "AUTHGATE_EMAIL__SMTP__PASSWORD": "hunter2-secret",
		}, []string{
			`email.public_url: "localhost:3000/x?y" must be an absolute http(s) URL without query, such as "https://app.example.com"`,
			"email.verification_ttl: must be > 0",
			"email.smtp.timeout: must be > 0",
			`email.from: "not an address" is not an address such as "authgate <no-reply@example.com>"`,
			"email.smtp.security: must be starttls, tls or none",
			"email.smtp.port: must be between 1 and 65535",
			"email.smtp.username: email.smtp.username and email.smtp.password go together (set both or neither)",
		}},
		{"a host needs a sender", map[string]string{"AUTHGATE_EMAIL__SMTP__HOST": "smtp.example.com:25"}, []string{
			"email.smtp.host: must be a host name or IP address without port",
			"email.from: required when email.smtp.host is set (AUTHGATE_EMAIL__FROM)",
		}},
		{"development may send in the clear", map[string]string{"AUTHGATE_EMAIL__SMTP__HOST": "mail.internal",
			"AUTHGATE_EMAIL__SMTP__SECURITY": "none", "AUTHGATE_EMAIL__FROM": "a@example.com"}, nil},
		{"production may not, except to loopback", prod(map[string]string{"AUTHGATE_EMAIL__SMTP__HOST": "mail.internal",
			"AUTHGATE_EMAIL__SMTP__SECURITY": "none", "AUTHGATE_EMAIL__FROM": "a@example.com"}), []string{
			"email.smtp.security: none (no encryption) is allowed only in development or to a loopback host",
		}},
		{"production to a loopback relay", prod(map[string]string{"AUTHGATE_EMAIL__SMTP__HOST": "::1",
			"AUTHGATE_EMAIL__SMTP__SECURITY": "none", "AUTHGATE_EMAIL__FROM": "a@example.com"}), nil},
		{"production requiring verification needs a mail server", prod(map[string]string{"AUTHGATE_EMAIL__VERIFICATION_REQUIRED": "true"}), []string{
			"email.smtp.host: required in production when email.verification_required is true (set it in the YAML file or AUTHGATE_EMAIL__SMTP__HOST; the log-only mailer is for development)",
		}},
		{"production without verification may go without", prod(nil), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, input{env: tc.env})
			if tc.want == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			got := problemsOf(t, err)
			if !slices.Equal(got, tc.want) {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("the SMTP password is in the error: %v", err)
			}
		})
	}
}
