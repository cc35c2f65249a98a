package config

import "time"

// Regulation is brute-force regulation (SECURITY.md P4): failure limits and lockouts
// on login, request limits on registration, forgot-password and email verification,
// all counted in Redis and so shared by every replica. The client IP is the one
// trusted_proxies vouch for. A count of 0 turns that limit off.
type Regulation struct {
	// Account locks an email (known or not) out of login after Failures failed logins
	// within Window, for Ban. A locked-out login answers like a wrong password.
	Account Lockout `koanf:"account"`
	// IP locks a client IP (an IPv6 one by its /64) out of login likewise.
	IP Lockout `koanf:"ip"`
	// Register, ForgotPassword and VerifyEmail allow Requests per Window from one
	// client IP; past that the answer is 429 "Too many requests, please try again later".
	Register       RateLimit `koanf:"register"`
	ForgotPassword RateLimit `koanf:"forgot_password"`
	VerifyEmail    RateLimit `koanf:"verify_email"`
	// ForgotPasswordEmail allows Requests reset mails per Window to one email; past
	// that the answer stays the same and nothing is sent.
	ForgotPasswordEmail RateLimit `koanf:"forgot_password_email"`
}

// Lockout is a failure limit and the ban it leads to.
type Lockout struct {
	Failures int           `koanf:"failures"`
	Window   time.Duration `koanf:"window"`
	Ban      time.Duration `koanf:"ban"`
}

// RateLimit is a number of requests per window.
type RateLimit struct {
	Requests int           `koanf:"requests"`
	Window   time.Duration `koanf:"window"`
}

func defaultRegulation() Regulation {
	return Regulation{
		Account:             Lockout{Failures: 5, Window: 10 * time.Minute, Ban: 15 * time.Minute},
		IP:                  Lockout{Failures: 50, Window: 10 * time.Minute, Ban: 15 * time.Minute},
		Register:            RateLimit{Requests: 20, Window: time.Hour},
		ForgotPassword:      RateLimit{Requests: 20, Window: time.Hour},
		VerifyEmail:         RateLimit{Requests: 30, Window: time.Hour},
		ForgotPasswordEmail: RateLimit{Requests: 3, Window: time.Hour},
	}
}

// maxRegulationDuration bounds windows and bans: a typo of "15h0m" for "15m" is
// caught, a week is the longest anyone means.
const maxRegulationDuration = 7 * 24 * time.Hour

// validateRegulation checks the regulation keys.
func validateRegulation(c *Config, p *problems) {
	r := c.Regulation
	for _, l := range []struct {
		key string
		v   Lockout
	}{{"regulation.account", r.Account}, {"regulation.ip", r.IP}} {
		if l.v.Failures < 0 {
			p.add(l.key+".failures", "must be >= 0 (0 turns the lockout off)")
		}
		if l.v.Failures == 0 {
			continue
		}
		checkRegulationDuration(l.key+".window", l.v.Window, p)
		checkRegulationDuration(l.key+".ban", l.v.Ban, p)
	}
	for _, l := range []struct {
		key string
		v   RateLimit
	}{
		{"regulation.register", r.Register}, {"regulation.forgot_password", r.ForgotPassword},
		{"regulation.verify_email", r.VerifyEmail}, {"regulation.forgot_password_email", r.ForgotPasswordEmail},
	} {
		if l.v.Requests < 0 {
			p.add(l.key+".requests", "must be >= 0 (0 turns the limit off)")
		}
		if l.v.Requests > 0 {
			checkRegulationDuration(l.key+".window", l.v.Window, p)
		}
	}
}

func checkRegulationDuration(key string, d time.Duration, p *problems) {
	if d < time.Second || d > maxRegulationDuration {
		p.add(key, "must be between 1s and %s, got %s", maxRegulationDuration, d)
	}
}
