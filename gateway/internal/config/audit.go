package config

import "time"

// Audit bounds the audit log (MongoDB collection audit_events).
type Audit struct {
	// Retention is how long an event is kept: older ones are never read and are
	// deleted by the cleanup (and by a TTL index where the server has them).
	Retention time.Duration `koanf:"retention"`
	// CleanupInterval is how often expired events are deleted.
	CleanupInterval time.Duration `koanf:"cleanup_interval"`
}

// validateAudit checks the audit keys.
func validateAudit(c *Config, p *problems) {
	a := c.Audit
	if a.Retention <= 0 {
		p.add("audit.retention", "must be > 0")
	}
	switch {
	case a.CleanupInterval <= 0:
		p.add("audit.cleanup_interval", "must be > 0")
	case a.Retention > 0 && a.CleanupInterval > a.Retention:
		p.add("audit.cleanup_interval", "must be at most audit.retention (%s)", a.Retention)
	}
}
