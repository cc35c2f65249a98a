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
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is one child process of the run: a server under test, a store, nginx.
type proc struct {
	name string
	cmd  *exec.Cmd
	addr string // from its "listening" log line, when it writes one

	out     *tail // last lines of stdout before "listening", then stderr
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
	// waitListening: read stdout until a JSON line with "msg":"listening" and take its
	// "addr"; otherwise stdout is discarded and the caller checks readiness itself.
	waitListening bool
}

// start runs s in its own process group (so that nginx's workers are stopped with it),
// killed by the kernel if the runner dies first.
func (ps *procs) start(ctx context.Context, s spec) (*proc, error) {
	cmd := exec.Command(s.bin, s.args...) //nolint:gosec // G204: the runner starts the programs it just built or found
	cmd.Dir = s.dir
	cmd.Env = s.env
	if cmd.Env == nil {
		cmd.Env = cleanEnv(os.Environ())
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	p := &proc{name: s.name, cmd: cmd, out: newTail(40), done: make(chan struct{})}
	cmd.Stderr = p.out
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.name, err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", s.name, err)
	}
	ps.mu.Lock()
	ps.list = append(ps.list, p)
	ps.mu.Unlock()

	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for s.waitListening && sc.Scan() {
			line := sc.Bytes()
			_, _ = p.out.Write(append(line, '\n'))
			if a, ok := listeningAddr(line); ok {
				addrc <- a
				break
			}
		}
		_, _ = io.Copy(io.Discard, stdout) // access logs: read and dropped
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	if !s.waitListening {
		return p, nil
	}
	timer := time.NewTimer(60 * time.Second)
	defer timer.Stop()
	select {
	case p.addr = <-addrc:
		return p, nil
	case <-p.done:
		if p.waitErr != nil {
			return nil, fmt.Errorf("%s exited before listening (%w):\n%s", s.name, p.waitErr, p.out)
		}
		return nil, fmt.Errorf("%s exited before listening:\n%s", s.name, p.out)
	case <-timer.C:
		return nil, fmt.Errorf("%s: no \"listening\" line within 60 s:\n%s", s.name, p.out)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// listeningAddr parses a JSON log line and returns its addr when msg is "listening".
func listeningAddr(line []byte) (string, bool) {
	if !bytes.Contains(line, []byte(`"listening"`)) {
		return "", false
	}
	var v struct {
		Msg  string `json:"msg"`
		Addr string `json:"addr"`
	}
	if json.Unmarshal(line, &v) != nil || v.Msg != "listening" || v.Addr == "" {
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

// tail keeps the last n lines written to it (a child's diagnostics for error messages).
type tail struct {
	mu    sync.Mutex
	n     int
	lines []string
	part  []byte
}

func newTail(n int) *tail { return &tail{n: n} }

func (t *tail) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.part = append(t.part, b...)
	for {
		i := bytes.IndexByte(t.part, '\n')
		if i < 0 {
			break
		}
		t.lines = append(t.lines, string(t.part[:i]))
		t.part = t.part[i+1:]
		if len(t.lines) > t.n {
			t.lines = t.lines[len(t.lines)-t.n:]
		}
	}
	if len(t.part) > 4096 {
		t.part = t.part[:0]
	}
	return len(b), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(append(t.lines, string(t.part)), "\n")
}

// alive returns an error naming p and its last output if p has exited.
func (p *proc) alive() error {
	if !p.exited() {
		return nil
	}
	if p.waitErr == nil {
		return fmt.Errorf("%s exited during the run:\n%s", p.name, p.out)
	}
	return fmt.Errorf("%s exited during the run (%w):\n%s", p.name, p.waitErr, p.out)
}
