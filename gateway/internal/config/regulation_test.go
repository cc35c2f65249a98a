package config

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// TestRegulationSettings: the defaults, values from the environment, and every rule of
// the regulation keys, reported together.
func TestRegulationSettings(t *testing.T) {
	c := mustLoad(t, input{})
	if r := c.Regulation; r != defaultRegulation() || r.Account.Failures != 5 || r.Account.Ban != 15*time.Minute ||
		r.IP.Failures != 50 || r.ForgotPasswordEmail.Requests != 3 {
		t.Fatalf("defaults %+v", r)
	}
	c = mustLoad(t, input{env: map[string]string{
		"AUTHGATE_REGULATION__ACCOUNT__FAILURES": "3", "AUTHGATE_REGULATION__ACCOUNT__BAN": "1h",
		"AUTHGATE_REGULATION__IP__FAILURES": "0", "AUTHGATE_REGULATION__IP__WINDOW": "0s",
		"AUTHGATE_REGULATION__VERIFY_EMAIL__WINDOW": "10m",
	}})
	if r := c.Regulation; r.Account.Failures != 3 || r.Account.Ban != time.Hour || r.IP.Failures != 0 || r.VerifyEmail.Window != 10*time.Minute {
		t.Fatalf("from the environment %+v (a limit turned off may have any window)", r)
	}
	_, err := load(t, input{env: map[string]string{
		"AUTHGATE_REGULATION__ACCOUNT__FAILURES": "-1", "AUTHGATE_REGULATION__IP__BAN": "0s",
		"AUTHGATE_REGULATION__REGISTER__WINDOW": "500ms", "AUTHGATE_REGULATION__FORGOT_PASSWORD__REQUESTS": "-2",
		"AUTHGATE_REGULATION__FORGOT_PASSWORD_EMAIL__WINDOW": "400h",
	}})
	want := []string{
		"regulation.account.failures: must be >= 0 (0 turns the lockout off)",
		"regulation.ip.ban: must be between 1s and 168h0m0s, got 0s",
		"regulation.register.window: must be between 1s and 168h0m0s, got 500ms",
		"regulation.forgot_password.requests: must be >= 0 (0 turns the limit off)",
		"regulation.forgot_password_email.window: must be between 1s and 168h0m0s, got 400h0m0s",
	}
	if got := problemsOf(t, err); !slices.Equal(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
