package config

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/v2"
)

// repoFile is the documented configuration at the repository root.
const repoFile = "../../../configs/gateway.yaml"

func TestRepoFileEqualsDefaults(t *testing.T) {
	want := mustLoad(t, input{})
	got, err := load(t, input{path: repoFile})
	if err != nil {
		t.Fatalf("loading %s: %v", repoFile, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s differs from the built-in defaults:\n got %+v\nwant %+v", repoFile, got, want)
	}
}

// TestRepoFileDocumentsEveryKey checks that every key appears in the file
// with the environment variable that overrides it.
func TestRepoFileDocumentsEveryKey(t *testing.T) {
	b, err := os.ReadFile(repoFile)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	k := koanf.New(".")
	if err := k.Load(file.Provider(repoFile), yaml.Parser()); err != nil {
		t.Fatal(err)
	}
	for _, l := range leaves() {
		t.Run(l.path, func(t *testing.T) {
			if !k.Exists(l.path) {
				t.Errorf("key %s is not in %s", l.path, repoFile)
			}
			if !strings.Contains(text, envName(l.path)) {
				t.Errorf("%s does not mention %s", repoFile, envName(l.path))
			}
			if alias := aliasName(l.path); alias != "" && !strings.Contains(text, alias) {
				t.Errorf("%s does not mention %s", repoFile, alias)
			}
		})
	}
}

func TestLeavesAndEnvNames(t *testing.T) {
	tests := []struct{ path, env string }{
		{"listen", "AUTHGATE_LISTEN"},
		{"data_dir", "AUTHGATE_DATA_DIR"},
		{"tokens.access_ttl", "AUTHGATE_TOKENS__ACCESS_TTL"},
		{"mongodb.uri", "AUTHGATE_MONGODB__URI"},
		{"cors.origins", "AUTHGATE_CORS__ORIGINS"},
		{"routes", "AUTHGATE_ROUTES"},
	}
	known := make(map[string]bool)
	for _, l := range leaves() {
		known[l.path] = true
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			if !known[tc.path] {
				t.Errorf("%s is not a known key", tc.path)
			}
			if got := envName(tc.path); got != tc.env {
				t.Errorf("envName = %q, want %q", got, tc.env)
			}
		})
	}
}

func TestDecodeProblemHidesProblemsInside(t *testing.T) {
	_, err := load(t, input{yaml: "tokens: 5\nroutes: [\"/api\"]\n"})
	got := problemsOf(t, err)
	want := []string{
		`tokens: invalid value: expected a map or struct, got "int"`,
		`routes[0]: invalid value: expected a map or struct, got "string"`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// FuzzLoadYAML checks that no YAML document makes loading panic, and that a
// failure is always reported as *Errors.
func FuzzLoadYAML(f *testing.F) {
	if b, err := os.ReadFile(repoFile); err == nil {
		f.Add(string(b))
	}
	f.Add("routes:\n  - path: /a\n    policy: [a]\n    roles: 5\n")
	f.Add("tokens: {access_ttl: 5, leeway: [1]}\ncors: {origins: {a: b}}\n")
	f.Add("? [a, b]\n: c\n1: {2: 3}\nroutes: [[1], null, {policy: {x: y}}]\n")
	f.Add("mode: production\nserver: {body_limit: 99999999999999999999EB}\n")
	f.Fuzz(func(t *testing.T, doc string) {
		c, err := build(sources{yaml: []byte(doc), yamlPath: "fuzz.yaml", getenv: func(string) string { return "" }}, nil)
		if err != nil {
			var errs *Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error is %T, not *Errors: %v", err, err)
			}
			return
		}
		if c == nil {
			t.Fatal("nil config without error")
		}
	})
}

// TestReadmeDocumentsEveryKey checks that the README's configuration table names every
// key: as `a.b`, in a row's shorthand (`a.x` / `.b`), or as a section `a.*` whose
// keys a section of the README (or configs/gateway.yaml) describes.
func TestReadmeDocumentsEveryKey(t *testing.T) {
	b, err := os.ReadFile("../../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	for _, l := range leaves() {
		section, _, nested := strings.Cut(l.path, ".")
		last := l.path[strings.LastIndex(l.path, ".")+1:]
		switch {
		case strings.Contains(text, "`"+l.path+"`"):
		case nested && strings.Contains(text, "`"+section+".*`"):
		case nested && strings.Contains(text, "`."+last+"`") && strings.Contains(text, "`"+section+"."):
		case strings.HasSuffix(l.path, "_previous_public_keys") && strings.Contains(text, "`tokens.*_previous_public_keys`"):
		default:
			t.Errorf("README.md does not name the key %s", l.path)
		}
	}
}
