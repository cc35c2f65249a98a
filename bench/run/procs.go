package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is one child process of the run: a server under test, a store, nginx.
type proc struct {
	name    string
	cmd     *exec.Cmd
	addr    string // from its "listening" log line, when it writes one
	pprof   string // the gateway's pprof address ("pprof listening"), when it has one
	logPath string // its stdout and stderr

	done    chan struct{}
	waitErr error
}

// pid is the child's process id.
func (p *proc) pid() int { return p.cmd.Process.Pid }

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// procs owns every child of the run and stops them all on exit.
type procs struct {
	dir  string // where the children's logs go
	mu   sync.Mutex
	list []*proc
}

// spec says how to start a child.
type spec struct {
	name string
	bin  string
	args []string
	dir  string   // working directory
	env  []string // the whole environment (nil: the runner's, filtered by cleanEnv)
	// waitListening: wait for a JSON line with "msg":"listening" in its output and take
	// its "addr"; otherwise the caller checks readiness itself.
	waitListening bool
}

// start runs s in its own process group (so that nginx's workers are stopped with it),
// killed by the kernel if the runner dies first. Its stdout and stderr go to a file, not
// a pipe: a busy runner can then never slow a server down by reading its access log late.
func (ps *procs) start(ctx context.Context, s spec) (*proc, error) {
	cmd := exec.Command(s.bin, s.args...) //nolint:gosec // G204: the runner starts the programs it just built or found
	cmd.Dir = s.dir
	cmd.Env = s.env
	if cmd.Env == nil {
		cmd.Env = cleanEnv(os.Environ())
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	p := &proc{name: s.name, cmd: cmd, logPath: filepath.Join(ps.dir, s.name+".log"), done: make(chan struct{})}
	f, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("%s log: %w", s.name, err)
	}
	cmd.Stdout, cmd.Stderr = f, f
	err = cmd.Start()
	_ = f.Close() // the child has its own descriptor
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", s.name, err)
	}
	ps.mu.Lock()
	ps.list = append(ps.list, p)
	ps.mu.Unlock()
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	if !s.waitListening {
		return p, nil
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if a, ok := p.findListening(); ok {
			p.addr = a
			return p, nil
		}
		select {
		case <-p.done:
			if a, ok := p.findListening(); ok { // listened, then exited: report the exit
				return nil, fmt.Errorf("%s exited right after listening on %s:\n%s", s.name, a, p.output())
			}
			if p.waitErr != nil {
				return nil, fmt.Errorf("%s exited before listening (%w):\n%s", s.name, p.waitErr, p.output())
			}
			return nil, fmt.Errorf("%s exited before listening:\n%s", s.name, p.output())
		case <-ctx.Done():
			return nil, fmt.Errorf("%s: %w", s.name, ctx.Err())
		case <-time.After(25 * time.Millisecond):
		}
	}
	return nil, fmt.Errorf("%s: no \"listening\" line within 60 s:\n%s", s.name, p.output())
}

// findListening looks for the "listening" line in the first 1 MiB of p's output.
func (p *proc) findListening() (string, bool) { return p.findLog("listening") }

// findLog looks for a line with msg and an addr in the first 1 MiB of p's output.
func (p *proc) findLog(msg string) (string, bool) {
	f, err := os.Open(p.logPath)
	if err != nil {
		return "", false
	}
	defer f.Close()
	sc := bufio.NewScanner(io.LimitReader(f, 1<<20))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if a, ok := logAddr(sc.Bytes(), msg); ok {
			return a, true
		}
	}
	return "", false
}

// output returns the last lines of p's output (at most 4 KiB), for error messages.
func (p *proc) output() string {
	f, err := os.Open(p.logPath)
	if err != nil {
		return "(no output: " + err.Error() + ")"
	}
	defer f.Close()
	const n = 4 << 10
	if st, err := f.Stat(); err == nil && st.Size() > n {
		_, _ = f.Seek(st.Size()-n, io.SeekStart)
	}
	b, _ := io.ReadAll(f)
	return strings.TrimSpace(string(b))
}

// listeningAddr parses a JSON log line and returns its addr when msg is "listening".
func listeningAddr(line []byte) (string, bool) { return logAddr(line, "listening") }

// logAddr parses a JSON log line and returns its addr when its msg is msg.
func logAddr(line []byte, msg string) (string, bool) {
	if !bytes.Contains(line, []byte(`"`+msg+`"`)) {
		return "", false
	}
	var v struct {
		Msg  string `json:"msg"`
		Addr string `json:"addr"`
	}
	if json.Unmarshal(line, &v) != nil || v.Msg != msg || v.Addr == "" {
		return "", false
	}
	return v.Addr, true
}

// stop ends p's process group: SIGTERM, then SIGKILL after grace.
func (p *proc) stop(grace time.Duration) {
	if p.exited() {
		return
	}
	pgid := p.pid()
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-p.done
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL) // stragglers of the group, if any
}

// stopAll stops every child, newest first, each group with its own grace period.
func (ps *procs) stopAll() {
	ps.mu.Lock()
	list := ps.list
	ps.list = nil
	ps.mu.Unlock()
	var wg sync.WaitGroup
	for i := len(list) - 1; i >= 0; i-- {
		wg.Add(1)
		go func(p *proc) {
			defer wg.Done()
			p.stop(5 * time.Second)
		}(list[i])
	}
	wg.Wait()
}

// cleanEnv drops from env everything that would configure a child behind the runner's
// back: the gateway's AUTHGATE_* and its aliases, upstream-demo's settings, proxies.
func cleanEnv(env []string) []string {
	drop := []string{"AUTHGATE_", "MONGODB_", "REDIS_URL=", "UPSTREAM_", "ACCESS_TOKEN_", "REFRESH_TOKEN_",
		"HTTP_PROXY=", "HTTPS_PROXY=", "http_proxy=", "https_proxy=", "OAUTH2_PROXY_", "GODEBUG="}
	out := make([]string, 0, len(env))
next:
	for _, kv := range env {
		for _, d := range drop {
			if strings.HasPrefix(kv, d) {
				continue next
			}
		}
		out = append(out, kv)
	}
	return out
}

// alive returns an error naming p and its last output if p has exited.
func (p *proc) alive() error {
	if !p.exited() {
		return nil
	}
	if p.waitErr == nil {
		return fmt.Errorf("%s exited during the run:\n%s", p.name, p.output())
	}
	return fmt.Errorf("%s exited during the run (%w):\n%s", p.name, p.waitErr, p.output())
}
