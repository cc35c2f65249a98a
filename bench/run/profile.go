package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// profileSeconds is the length of each CPU profile of a missed target.
const profileSeconds = 5

// profile is the CPU profile of one gateway under the load of a scenario whose target
// was missed: the file beside the report and pprof's top functions, for the report.
type profile struct {
	key  string // the scenario
	file string // base name of the .pprof file in the results directory
	top  string // `go tool pprof -top` output
	err  string // why there is none
}

// profileMisses takes, for every scenario with a missed target, a CPU profile of the
// gateway that served it while the scenario's load runs again (SECURITY of the pprof
// endpoint: the gateways listen for it on loopback only). Profiles are written to dir as
// <stem>-<scenario>.pprof and summarised in the report.
func (s *suite) profileMisses(ctx context.Context, dir, stem string) {
	seen := map[string]bool{}
	for _, v := range s.targets() {
		if v.state != "MISS" || v.key == "" || seen[v.key] {
			continue
		}
		seen[v.key] = true
		p := profile{key: v.key, file: stem + "-" + v.key + ".pprof"}
		if err := s.profileOne(ctx, v.key, filepath.Join(dir, p.file), &p); err != nil {
			p.err, p.file = err.Error(), ""
			progress("   profile %s: %v", v.key, err)
		} else {
			progress("   profile %s: %s", v.key, p.file)
		}
		s.profiles = append(s.profiles, p)
	}
}

// profileOne runs key's load for a little longer than one profile while the profile is
// taken from its gateway, then writes it to path and summarises it.
func (s *suite) profileOne(ctx context.Context, key, path string, p *profile) error {
	gw, load, err := s.loadFor(key)
	if err != nil {
		return err
	}
	if gw.pprof == "" {
		return errors.New("the gateway serves no pprof endpoint")
	}
	ctx, cancel := context.WithTimeout(ctx, 3*profileSeconds*time.Second)
	defer cancel()
	loadDone := make(chan error, 1)
	go func() { loadDone <- load(ctx, (profileSeconds+1)*time.Second) }()
	prof, perr := fetchProfile(ctx, gw.pprof)
	lerr := <-loadDone
	switch {
	case perr != nil:
		return perr
	case lerr != nil:
		return fmt.Errorf("load: %w", lerr)
	}
	if err := os.WriteFile(path, prof, 0o644); err != nil { //nolint:gosec // G306: a profile to commit
		return fmt.Errorf("profile: %w", err)
	}
	top, err := pprofTop(ctx, s.root, path)
	if err != nil {
		return err
	}
	p.top = top
	return nil
}

// loadFor returns the gateway process of scenario key and a function that puts the
// scenario's load on it for d.
func (s *suite) loadFor(key string) (*proc, func(context.Context, time.Duration) error, error) {
	if alg, ok := strings.CutPrefix(key, "refresh-"); ok {
		for _, r := range s.refresh {
			if r.alg != alg {
				continue
			}
			live := 0
			for _, t := range r.tokens {
				if t != "" {
					live++
				}
			}
			if live == 0 {
				return nil, nil, errors.New("no refresh session is left to profile with")
			}
			return r.gw, func(ctx context.Context, d time.Duration) error {
				l := refreshLeg(ctx, s.st, r.gw, httpClient(len(r.tokens)+8), "http://"+r.gw.addr, r.tokens, d)
				if l.ok == 0 {
					return fmt.Errorf("no refresh succeeded (%s)", l.note)
				}
				return nil
			}, nil
		}
		return nil, nil, fmt.Errorf("%s was not run", key)
	}
	v := find(s.groups, key)
	if v == nil {
		return nil, nil, fmt.Errorf("%s was not run", key)
	}
	for _, sut := range v.sut {
		if sut.pprof != "" {
			return sut, func(ctx context.Context, d time.Duration) error {
				_, err := s.gen.throughput(ctx, v.t, s.opts.plan.conns, d)
				return err
			}, nil
		}
	}
	return nil, nil, errors.New("no process of this scenario serves pprof")
}

// fetchProfile takes a CPU profile of profileSeconds from a pprof endpoint.
func fetchProfile(ctx context.Context, addr string) ([]byte, error) {
	url := "http://" + addr + "/debug/pprof/profile?seconds=" + strconv.Itoa(profileSeconds)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("profile: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("profile: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("profile: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("profile: %s: %s", resp.Status, bytes.TrimSpace(b))
	}
	return b, nil
}

// pprofTop is `go tool pprof -top` of a profile twice: the 15 heaviest functions by
// their own time, then the 35 heaviest by time including their callees (where the time
// goes in the request's path). The profile carries its symbols: no binary is needed.
func pprofTop(ctx context.Context, root, path string) (string, error) {
	var parts []string
	for _, args := range [][]string{{"-nodecount=15"}, {"-cum", "-nodecount=35"}} {
		cmd := exec.CommandContext(ctx, "go", append(append([]string{"tool", "pprof", "-top"}, args...), path)...) //nolint:gosec // G204: our own file
		cmd.Dir = root
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			return "", fmt.Errorf("go tool pprof: %w: %s", err, strings.TrimSpace(errb.String()))
		}
		parts = append(parts, "$ go tool pprof -top "+strings.Join(args, " ")+" "+filepath.Base(path)+"\n"+strings.TrimSpace(out.String()))
	}
	return strings.Join(parts, "\n\n"), nil
}

// renderProfiles is the report's section of profiles of missed targets.
func (s *suite) renderProfiles(b *strings.Builder) {
	if len(s.profiles) == 0 {
		return
	}
	b.WriteString("## Profiles of missed targets\n\n")
	fmt.Fprintf(b, "For every scenario with a missed target the runner put that scenario's load on its gateway again and took a %d s CPU profile from the gateway's pprof endpoint (`server.pprof_listen`, loopback). Open one with `go tool pprof -http=: bench/results/<file>` or `go tool pprof -top <file>`.\n\n", profileSeconds)
	for _, p := range s.profiles {
		if p.err != "" {
			fmt.Fprintf(b, "### `%s`\n\nNo profile: %s\n\n", p.key, p.err)
			continue
		}
		fmt.Fprintf(b, "### `%s`: [%s](%s)\n\n```\n%s\n```\n\n", p.key, p.file, p.file, p.top)
	}
}
