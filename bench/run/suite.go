package main

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"time"
)

// suite is one run: its processes, what was measured, what was skipped.
type suite struct {
	opts    options
	root    string
	info    info
	bins    binaries
	st      *stack
	started time.Time
	wall    time.Duration

	gen    throughputGen
	vg     vegetaGen
	nginx  *proc
	site   nginxSite
	peer   *peer
	groups []*group

	nginxNote, peerNote        string
	idleExternal, idleEmbedded idle
	idleErr                    string
	refresh                    []*refreshRun
	login                      *loginRun
	profiles                   []profile // of the scenarios whose targets were missed
	other, steal               float64   // the machine's foreign load over the whole measurement
}

// measure starts everything and runs every scenario. Failures of one scenario are
// recorded in the report; only a stack that cannot start is an error.
func (s *suite) measure(ctx context.Context) error {
	st, o := s.st, s.opts
	m0 := st.ps.snapshot()
	defer func() { s.other, s.steal = foreign(m0, st.ps.snapshot(), runtime.NumCPU()) }()
	if err := st.up(ctx); err != nil {
		return err
	}
	s.vg = vegetaGen{}
	s.gen = s.vg
	switch {
	case o.generator == "wrk" && s.bins.wrk == "":
		return fmt.Errorf("-generator wrk: wrk is not on PATH (apt-get install wrk)")
	case o.generator != "vegeta" && s.bins.wrk != "":
		s.gen = wrkGen{bin: s.bins.wrk, threads: o.wrkThreads, dir: st.dir}
	}

	// Idle memory, before any load: the production shape (external stores) and the
	// development one (FerretDB embedded).
	var err error
	if s.idleExternal, err = idleRSS(ctx, st.gwRS, 3*time.Second); err == nil {
		s.idleEmbedded, err = idleRSS(ctx, st.gwEmbedded, 0)
	}
	if err != nil {
		s.idleErr = err.Error()
	}

	s.peerNote = s.bins.peerNote
	if s.bins.peer != "" {
		if s.peer, err = st.startPeer(ctx); err != nil {
			s.peerNote = "skipped: oauth2-proxy did not start or sign in: " + err.Error()
			s.peer = nil
		}
	}
	s.nginxNote = "skipped: nginx is not installed (apt-get install nginx-light)"
	if o.noNginx {
		s.nginxNote = "skipped: not run (-no-nginx)"
	}
	if s.bins.nginx != "" && !o.noNginx {
		peerAddr := ""
		if s.peer != nil {
			peerAddr = s.peer.addr
		}
		if s.nginx, s.site, err = st.startNginx(ctx, st.gwRS.addr, peerAddr); err != nil {
			s.nginxNote = "skipped: nginx did not start: " + err.Error()
			s.nginx = nil
		} else {
			s.nginxNote = "nginx " + s.bins.nginx
		}
	}
	progress("   oauth2-proxy: %s; nginx: %s", s.peerNote, s.nginxNote)

	users, c, err := s.accounts(ctx)
	if err != nil {
		return err
	}
	s.groups = s.layout(c)
	probe(ctx, s.groups)
	linkSkips(s.groups)
	for _, g := range s.groups {
		if !s.selected(g.key) {
			g.skip = "not selected (-only)"
		}
		if err := runGroup(ctx, st.ps, g, o.plan, s.gen, s.vg); err != nil {
			g.err = err.Error()
			progress("   %s failed: %v", g.key, err)
		}
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted: %w", ctx.Err())
		}
	}

	for _, gw := range []struct {
		alg string
		p   *proc
	}{{algRS256, st.gwRS}, {algEdDSA, st.gwEd}} {
		if !s.selected("refresh") {
			break
		}
		r := &refreshRun{alg: gw.alg, gw: gw.p, sessions: o.sessions}
		if err := runRefresh(ctx, st, r, users, o.plan); err != nil {
			r.err = err.Error()
			progress("   refresh %s failed: %v", gw.alg, err)
		}
		s.refresh = append(s.refresh, r)
	}
	if s.selected("login") {
		s.login = &loginRun{gw: st.gwRS, users: o.logins, maxHashes: o.maxHashes}
		if err := runLogin(ctx, st, s.login, users, o.loginRounds); err != nil {
			s.login.err = err.Error()
			progress("   login failed: %v", err)
		}
	}
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted: %w", ctx.Err())
	}
	return nil
}

// selected reports whether -only lets group key run.
func (s *suite) selected(key string) bool { return len(s.opts.only) == 0 || s.opts.only[key] }

// accounts registers the users the scenarios need and gets their tokens.
func (s *suite) accounts(ctx context.Context) ([]benchUser, creds, error) {
	st := s.st
	n := max(s.opts.logins, s.opts.sessions, 2)
	progress("   registering %d users", n)
	users, err := registerUsers(ctx, "http://"+st.gwRS.addr, st.runID, n, 2)
	if err != nil {
		return nil, creds{}, err
	}
	hc := httpClient(2)
	g, err := loginRetry(ctx, hc, "http://"+st.gwRS.addr, users[0])
	if err != nil {
		return nil, creds{}, err
	}
	e, err := loginRetry(ctx, hc, "http://"+st.gwTTL.addr, users[1])
	if err != nil {
		return nil, creds{}, err
	}
	issued := time.Now()
	c := creds{access: g.access, expired: e.access, forged: forge(g.access)}
	// The 1 s token must be past its exp (second precision) before the rejected group.
	if wait := 2100*time.Millisecond - time.Since(issued); wait > 0 {
		time.Sleep(wait)
	}
	a, err := do(ctx, hc, http.MethodGet, "http://"+st.gwTTL.addr+"/api/whoami", bearer(c.expired), nil)
	if err != nil {
		return nil, creds{}, fmt.Errorf("expired token check: %w", err)
	}
	if a.status != http.StatusUnauthorized {
		return nil, creds{}, fmt.Errorf("expired token check: %d %s, want 401", a.status, a.body)
	}
	return users, c, nil
}
