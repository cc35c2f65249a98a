package config

import (
	"encoding/json"
	"reflect"
	"sort"
	"strings"
)

// envLayer returns the flat key → value map set by the variables lookup
// finds, for every known key: AUTHGATE_<KEY> first, then the seed backend's
// alias (ACCESS_TOKEN_PRIVATE_KEY, MONGODB_URI, …). An empty value counts as
// unset. Lists are comma-separated; AUTHGATE_ROUTES is a JSON array of route
// objects with the YAML field names. source names the layer in messages.
func envLayer(lookup func(string) string, source string, p *problems) map[string]any {
	out := make(map[string]any)
	for _, l := range leaves() {
		name := envName(l.path)
		v := lookup(name)
		if v == "" {
			if alias := aliasName(l.path); alias != "" {
				name, v = alias, lookup(alias)
			}
		}
		if v == "" {
			continue
		}
		switch {
		case l.path == "routes":
			if routes, ok := parseRoutesJSON(v, name+" in "+source, p); ok {
				out[l.path] = routes
			}
		case l.typ.Kind() == reflect.Slice:
			out[l.path] = splitList(v)
		default:
			out[l.path] = v
		}
	}
	return out
}

// parseRoutesJSON decodes a JSON array of routes into the form parsed YAML
// has, reporting malformed JSON and unknown keys.
func parseRoutesJSON(v, source string, p *problems) ([]any, bool) {
	var list []any
	if err := json.Unmarshal([]byte(v), &list); err != nil {
		p.add("routes", "%s must be a JSON array of route objects: %v", source, err)
		return nil, false
	}
	raw := map[string]any{"routes": list}
	prepareRaw(raw, source, p)
	routes, _ := raw["routes"].([]any)
	return routes, true
}

// splitList splits a comma-separated value, trimming spaces and dropping
// empty items.
func splitList(v string) []any {
	out := []any{}
	for item := range strings.SplitSeq(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// checkDotEnvNames reports AUTHGATE_ variables in the .env file that set no
// known key: typos must not be silently ignored. Other variables are left
// alone; the file may serve other tools too.
func checkDotEnvNames(dot map[string]string, source string, p *problems) {
	known := make(map[string]bool)
	for _, l := range leaves() {
		known[envName(l.path)] = true
	}
	var unknown []string
	for name := range dot {
		if strings.HasPrefix(name, envPrefix) && !known[name] {
			unknown = append(unknown, name)
		}
	}
	sort.Strings(unknown)
	for _, name := range unknown {
		p.add(name, "unknown variable (in %s)", source)
	}
}
