package config

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// TestAuditSettings: the defaults (90 days, hourly cleanup), values from the
// environment, and the rules of the audit keys.
func TestAuditSettings(t *testing.T) {
	if a := mustLoad(t, input{}).Audit; a.Retention != 90*24*time.Hour || a.CleanupInterval != time.Hour {
		t.Fatalf("defaults %+v", a)
	}
	a := mustLoad(t, input{env: map[string]string{"AUTHGATE_AUDIT__RETENTION": "30d", "AUTHGATE_AUDIT__CLEANUP_INTERVAL": "5m"}}).Audit
	if a.Retention != 30*24*time.Hour || a.CleanupInterval != 5*time.Minute {
		t.Fatalf("from the environment %+v", a)
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"not positive", map[string]string{"AUTHGATE_AUDIT__RETENTION": "0s", "AUTHGATE_AUDIT__CLEANUP_INTERVAL": "-1s"},
			[]string{"audit.retention: must be > 0", "audit.cleanup_interval: must be > 0"}},
		{"cleanup less often than retention", map[string]string{"AUTHGATE_AUDIT__RETENTION": "1h", "AUTHGATE_AUDIT__CLEANUP_INTERVAL": "2h"},
			[]string{"audit.cleanup_interval: must be at most audit.retention (1h0m0s)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, input{env: tc.env})
			if got := problemsOf(t, err); !slices.Equal(got, tc.want) {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}
