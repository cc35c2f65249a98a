package config

import (
	"errors"
	"fmt"
	"io/fs"
	"reflect"

	"github.com/knadh/koanf/parsers/dotenv"
	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/confmap"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/v2"
)

// Default locations, relative to the working directory.
const (
	DefaultConfigFile = "configs/gateway.yaml"
	DefaultDotEnvFile = ".env"
)

// Options says where Load finds its inputs and what else it checks.
type Options struct {
	// Path is a YAML file named on the command line (--config PATH); it must exist.
	// "" means DefaultFile, if it exists.
	Path string
	// Getenv looks up environment variables; nil means an empty environment.
	Getenv func(string) string
	// DefaultFile is the YAML file read, if it exists, when Args has no
	// --config; "" means DefaultConfigFile.
	DefaultFile string
	// DotEnvFile is the .env file read if it exists; "" means
	// DefaultDotEnvFile.
	DotEnvFile string
	// Checks are validations owned by other packages (the route table, keys, trusted
	// proxies): they run on the decoded configuration in the same pass, so every
	// problem is reported at once and nothing is opened before all pass.
	Checks []Check
}

// Check validates part of a decoded configuration and returns its problems.
type Check func(*Config) []Problem

// Problem is one invalid value: the key it concerns ("routes[1].upstream") and what is
// wrong with it.
type Problem struct {
	Key, Message string
}

// sources are Load's inputs once read; build turns them into a Config.
type sources struct {
	yaml       []byte // nil: no YAML file
	yamlPath   string
	dotenv     []byte // nil: no .env file
	dotenvPath string
	getenv     func(string) string
}

// Load returns the merged, validated configuration: built-in defaults, then
// the YAML file, then the .env file, then the environment. On an invalid
// configuration — including a missing --config file, unreadable or malformed
// files, unknown keys and whatever opts.Checks find — it returns *Errors listing
// every problem found.
func Load(opts Options) (*Config, error) {
	var p problems
	path, explicit := opts.Path, opts.Path != ""
	if !explicit {
		path = orDefault(opts.DefaultFile, DefaultConfigFile)
	}
	src := sources{
		yamlPath:   path,
		dotenvPath: orDefault(opts.DotEnvFile, DefaultDotEnvFile),
		getenv:     opts.Getenv,
	}
	if src.getenv == nil {
		src.getenv = func(string) string { return "" }
	}
	var err error
	if src.yaml, err = readFile(path, explicit); err != nil {
		p.add("--config", "%v", err)
	}
	if src.dotenv, err = readFile(src.dotenvPath, false); err != nil {
		p.add(src.dotenvPath, "%v", err)
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	return build(src, opts.Checks)
}

// readFile returns the file's contents, or nil without error when an
// optional file does not exist.
func readFile(path string, required bool) ([]byte, error) {
	b, err := file.Provider(path).ReadBytes()
	switch {
	case err == nil:
		if b == nil {
			b = []byte{}
		}
		return b, nil
	case !required && errors.Is(err, fs.ErrNotExist):
		return nil, nil
	default:
		return nil, fmt.Errorf("cannot read configuration file: %w", err)
	}
}

// build merges the layers over the defaults, decodes and validates them.
func build(src sources, checks []Check) (*Config, error) {
	var p problems
	k := koanf.New(".")
	if err := merge(k, toMap(reflect.ValueOf(defaults())), ""); err != nil {
		return nil, err
	}
	if src.yaml != nil {
		raw, err := yaml.Parser().Unmarshal(src.yaml)
		if err != nil {
			p.add(src.yamlPath, "not valid YAML: %v", err)
			return nil, p.err()
		}
		if raw != nil {
			prepareRaw(raw, src.yamlPath, &p)
			if err := merge(k, raw, ""); err != nil {
				return nil, err
			}
		}
	}
	dot, err := parseDotEnv(src.dotenv)
	if err != nil {
		p.add(src.dotenvPath, "not a valid .env file: %v", err)
		return nil, p.err()
	}
	checkDotEnvNames(dot, src.dotenvPath, &p)
	layers := []struct {
		lookup func(string) string
		source string
	}{
		{func(name string) string { return dot[name] }, src.dotenvPath},
		{src.getenv, "the environment"},
	}
	for _, l := range layers {
		if err := merge(k, envLayer(l.lookup, l.source, &p), "."); err != nil {
			return nil, err
		}
	}
	var cfg Config
	if err := k.Unmarshal("", &cfg); err != nil {
		p.addDecode(err)
	}
	normalise(&cfg)
	validate(&cfg, &p)
	if len(p.undecoded) == 0 {
		for _, check := range checks {
			for _, pr := range check(&cfg) {
				p.add(pr.Key, "%s", pr.Message)
			}
		}
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// merge loads a nested (delim "") or flat map into k.
func merge(k *koanf.Koanf, m map[string]any, delim string) error {
	if err := k.Load(confmap.Provider(m, delim), nil); err != nil {
		return fmt.Errorf("config: merge layer: %w", err)
	}
	return nil
}

// parseDotEnv returns the assignments of a .env file; nil input gives none.
func parseDotEnv(b []byte) (map[string]string, error) {
	out := make(map[string]string)
	if b == nil {
		return out, nil
	}
	m, err := dotenv.Parser().Unmarshal(b)
	if err != nil {
		return nil, err
	}
	for k, v := range m {
		out[k] = fmt.Sprint(v)
	}
	return out, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
