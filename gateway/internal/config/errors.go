package config

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"
)

// Errors is returned by Load when the configuration is invalid. It lists every
// problem found, each naming the key or source it concerns
// ("tokens.access_ttl: must be > 0").
type Errors struct {
	Problems []string
}

// Error returns "invalid configuration:" followed by one problem per line.
func (e *Errors) Error() string {
	var b strings.Builder
	b.WriteString("invalid configuration:")
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p)
	}
	return b.String()
}

// problems collects problems while loading. Keys whose value could not be
// decoded are remembered so that validation does not report them twice.
type problems struct {
	list      []string
	undecoded map[string]bool
}

// add records a problem about key. Problems about a key that failed to
// decode, or about anything inside it, are dropped: the decode problem
// already names it.
func (p *problems) add(key, format string, args ...any) {
	for k := key; k != ""; k = parentKey(k) {
		if p.undecoded[k] {
			return
		}
	}
	p.list = append(p.list, key+": "+fmt.Sprintf(format, args...))
}

// parentKey returns the enclosing key: "routes[1].path" → "routes[1]" →
// "routes"; "" at the top.
func parentKey(key string) string {
	i := strings.LastIndexAny(key, ".[")
	if i < 0 {
		return ""
	}
	return key[:i]
}

// err returns nil without problems, else *Errors.
func (p *problems) err() error {
	if len(p.list) == 0 {
		return nil
	}
	return &Errors{Problems: append([]string(nil), p.list...)}
}

// addDecode records the errors of koanf's (mapstructure's) Unmarshal, one
// problem per field that could not be decoded.
func (p *problems) addDecode(err error) {
	var joined interface{ Unwrap() []error }
	var named interface {
		error
		Name() string
		Unwrap() error
	}
	switch {
	case errors.As(err, &joined):
		for _, e := range joined.Unwrap() {
			p.addDecode(e)
		}
	case errors.As(err, &named):
		key := named.Name()
		if key == "" {
			key = "configuration"
		}
		if durationKey(key) {
			p.add(key, `must be a duration such as "15m", "30s" or "168h"`)
		} else {
			p.add(key, "invalid value: %v", named.Unwrap())
		}
		if p.undecoded == nil {
			p.undecoded = make(map[string]bool)
		}
		p.undecoded[key] = true
	default:
		p.add("configuration", "%v", err)
	}
}

// durationKey reports whether key is a time.Duration key of Config.
func durationKey(key string) bool {
	for _, l := range leaves() {
		if l.path == key {
			return l.typ == reflect.TypeFor[time.Duration]()
		}
	}
	return false
}
