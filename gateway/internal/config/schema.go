package config

import (
	"fmt"
	"reflect"
	"sort"
	"time"
)

// prepareRaw readies a parsed YAML document (or the AUTHGATE_ROUTES list,
// wrapped as {"routes": [...]}) for merging: it drops null values, so that an
// empty "key:" keeps the lower layer's value, rewrites the `policy: [roles…]`
// short form of routes into Roles, and reports keys Config does not have and
// durations written as bare numbers. source names the input in messages.
func prepareRaw(raw map[string]any, source string, p *problems) {
	clean(raw)
	if routes, ok := raw["routes"].([]any); ok {
		for i, r := range routes {
			if m, ok := r.(map[string]any); ok {
				normaliseRouteRaw(m, fmt.Sprintf("routes[%d]", i), source, p)
			}
		}
	}
	checkKeys(raw, reflect.TypeFor[Config](), "", source, p)
}

// normaliseRouteRaw moves a list under "policy" into "roles", and splits
// "methods" and "roles" given as one comma-separated string ("GET,POST").
func normaliseRouteRaw(route map[string]any, key, source string, p *problems) {
	for _, field := range []string{"methods", "roles"} {
		if v, ok := route[field].(string); ok {
			route[field] = splitList(v)
		}
	}
	list, ok := route["policy"].([]any)
	if !ok {
		return
	}
	if roles, ok := route["roles"].([]any); ok && len(roles) > 0 {
		p.add(key+".policy", "a list of roles under policy and roles are both set (in %s); use one", source)
	}
	delete(route, "policy")
	route["roles"] = list
}

// clean returns v with maps keyed by strings (YAML may produce map[any]any)
// and null map values removed, recursively, also inside lists.
func clean(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if e == nil {
				delete(x, k)
				continue
			}
			x[k] = clean(e)
		}
		return x
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			if e != nil {
				out[fmt.Sprint(k)] = clean(e)
			}
		}
		return out
	case []any:
		for i, e := range x {
			x[i] = clean(e)
		}
		return x
	default:
		return v
	}
}

// checkKeys reports keys of v that have no field in t, recursing into
// sub-structs and lists of structs (routes), and durations given as non-zero
// bare numbers (which would silently mean nanoseconds). Type mismatches are
// left to the decoder, which reports them.
func checkKeys(v any, t reflect.Type, key, source string, p *problems) {
	switch {
	case t.Kind() == reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return
		}
		fields := fieldTypes(t)
		for _, k := range sortedKeys(m) {
			ft, known := fields[k]
			if !known {
				p.add(joinKey(key, k), "unknown key (in %s)", source)
				continue
			}
			checkKeys(m[k], ft, joinKey(key, k), source, p)
		}
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct:
		list, ok := v.([]any)
		if !ok {
			return
		}
		for i, e := range list {
			checkKeys(e, t.Elem(), fmt.Sprintf("%s[%d]", key, i), source, p)
		}
	case t == reflect.TypeFor[time.Duration]():
		if isNonZeroNumber(v) {
			p.add(key, "a duration needs a unit, such as \"15m\", \"30s\" or \"168h\" (in %s)", source)
		}
	}
}

// fieldTypes maps the koanf tags of t's fields to their types.
func fieldTypes(t reflect.Type) map[string]reflect.Type {
	out := make(map[string]reflect.Type, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		out[f.Tag.Get("koanf")] = f.Type
	}
	return out
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func isNonZeroNumber(v any) bool {
	r := reflect.ValueOf(v)
	switch r.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return r.Int() != 0
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return r.Uint() != 0
	case reflect.Float32, reflect.Float64:
		return r.Float() != 0
	default:
		return false
	}
}
