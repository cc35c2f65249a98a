package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Peer is oauth2-proxy, built from its Go module into bench/.cache (git-ignored).
const (
	peerModule  = "github.com/oauth2-proxy/oauth2-proxy/v7"
	peerVersion = "v7.15.6"
)

// binaries are the programs the run starts.
type binaries struct {
	gateway, upstream, plainproxy string
	nginx, wrk                    string // "" when not installed
	peer                          string // "" when it could not be built
	peerNote                      string // why not, or how it was obtained
}

// build compiles the gateway, upstream-demo and plainproxy into root/bin, finds nginx and
// wrk on PATH, and builds (or reuses) oauth2-proxy.
func build(ctx context.Context, root string, noPeer bool) (binaries, error) {
	var b binaries
	bin := filepath.Join(root, "bin")
	for _, t := range []struct {
		dst *string
		out string
		pkg string
	}{
		{&b.gateway, "gateway", "./gateway"},
		{&b.upstream, "upstream-demo", "./upstream-demo"},
		{&b.plainproxy, "plainproxy", "./bench/plainproxy"},
	} {
		*t.dst = filepath.Join(bin, t.out)
		if out, err := goCmd(ctx, root, 5*time.Minute, nil, "build", "-o", *t.dst, t.pkg); err != nil {
			return b, fmt.Errorf("go build %s: %w\n%s", t.pkg, err, out)
		}
	}
	b.nginx, _ = exec.LookPath("nginx")
	if b.nginx == "" {
		for _, p := range []string{"/usr/sbin/nginx", "/usr/local/sbin/nginx"} {
			if _, err := os.Stat(p); err == nil {
				b.nginx = p
			}
		}
	}
	b.wrk, _ = exec.LookPath("wrk")
	if noPeer {
		b.peerNote = "not built (-no-peer)"
		return b, nil
	}
	b.peer, b.peerNote = buildPeer(ctx, root)
	return b, nil
}

// buildPeer returns the oauth2-proxy binary under bench/.cache/bin, installing it with
// `go install module@version` when the cached one is missing or of another version.
func buildPeer(ctx context.Context, root string) (path, note string) {
	gobin := filepath.Join(root, "bench", ".cache", "bin")
	path = filepath.Join(gobin, "oauth2-proxy")
	if v := moduleVersion(ctx, root, path); v == peerVersion {
		return path, "oauth2-proxy " + peerVersion + ", reused from bench/.cache/bin"
	}
	if err := os.MkdirAll(gobin, 0o750); err != nil {
		return "", "skipped: " + err.Error()
	}
	fmt.Fprintf(os.Stderr, "bench: building oauth2-proxy %s with go install (first run only)…\n", peerVersion)
	out, err := goCmd(ctx, root, 8*time.Minute, []string{"GOBIN=" + gobin, "GOFLAGS="},
		"install", peerModule+"@"+peerVersion)
	if err != nil {
		return "", fmt.Sprintf("skipped: go install %s@%s failed: %v: %s", peerModule, peerVersion, err, lastLine(out))
	}
	if v := moduleVersion(ctx, root, path); v != peerVersion {
		return "", fmt.Sprintf("skipped: built oauth2-proxy reports module version %q", v)
	}
	return path, "oauth2-proxy " + peerVersion + ", built with go install into bench/.cache/bin"
}

// moduleVersion reads the main module version recorded in a Go binary ("" if none).
func moduleVersion(ctx context.Context, root, path string) string {
	if _, err := os.Stat(path); err != nil {
		return ""
	}
	out, err := goCmd(ctx, root, time.Minute, nil, "version", "-m", path)
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[0] == "mod" && f[1] == peerModule {
			return f[2]
		}
	}
	return ""
}

// goCmd runs the go tool in dir with a timeout and returns its combined output.
func goCmd(ctx context.Context, dir string, timeout time.Duration, env []string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	goBin := "go"
	if p, err := exec.LookPath("go"); err == nil {
		goBin = p
	} else if _, err := os.Stat("/usr/local/go/bin/go"); err == nil {
		goBin = "/usr/local/go/bin/go"
	}
	cmd := exec.CommandContext(ctx, goBin, args...) //nolint:gosec // G204: the go tool with the runner's own arguments
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("go %s: %w", args[0], err)
	}
	return out.String(), nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
