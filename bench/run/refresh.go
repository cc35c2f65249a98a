package main

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"sync"
	"time"
)

// refreshRun is the refresh scenario on one gateway: many sessions refreshing in a loop,
// each with the refresh token its previous refresh returned (rotation), interleaved with
// the in-process signing rate of the gateway's algorithm.
type refreshRun struct {
	alg      string
	gw       *proc
	sessions int
	legs     []driverLeg
	signing  []rate   // one per round, measured just before that round's leg
	tokens   []string // each session's current refresh token after the last leg ("": spent)
	err      string
}

// driverLeg is one leg of a Go-driven scenario (refresh, login).
type driverLeg struct {
	round       int
	wall        time.Duration
	ok          int64
	busy        int64 // 503s (login: no hashing slot within passwords.max_wait)
	errors      int64 // everything else that was not a 200
	statuses    map[int]int64
	p50, p90    time.Duration
	p99, max    time.Duration
	rps         float64       // successful operations per second
	cpuPerOp    time.Duration // gateway CPU per successful operation
	dbCPUPerOp  time.Duration // the embedding gateway's (FerretDB's) CPU per operation, when it serves MongoDB
	peakKB      int64
	other       float64 // share of the machine used outside this run over the leg
	steal       float64
	note        string
	concurrency int
}

// runRefresh logs in r.sessions users on r.gw, then measures rounds of refresh legs.
func runRefresh(ctx context.Context, st *stack, r *refreshRun, users []benchUser, p plan) error {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(p.rounds)*(p.thr+10*time.Second)+2*time.Minute)
	defer cancel()
	base := "http://" + r.gw.addr
	hc := httpClient(r.sessions + 8)
	tokens := make([]string, r.sessions)
	for i := range tokens {
		g, err := loginRetry(ctx, hc, base, users[i%len(users)])
		if err != nil {
			return fmt.Errorf("refresh set-up: %w", err)
		}
		tokens[i] = g.refresh
	}
	progress("== refresh-%s: %d sessions × %d rounds of %s, each refresh with the token the last one returned",
		r.alg, r.sessions, p.rounds, p.thr)
	for round := 1; round <= p.rounds; round++ {
		sr, err := signingRate(st.keys[r.alg])
		if err != nil {
			return err
		}
		r.signing = append(r.signing, sr)
		l := refreshLeg(ctx, st, r.gw, hc, base, tokens, p.thr)
		l.round = round
		if err := r.gw.alive(); err != nil {
			return err
		}
		r.legs = append(r.legs, l)
		r.tokens = tokens
		progress("   %s round %d: %6.0f refresh/s (signing alone %.0f/s serial, %.0f/s parallel)  p99 %s  errors %d",
			r.alg, round, l.rps, sr.serial, sr.parallel, fmtDur(l.p99), l.errors+l.busy)
	}
	return nil
}

// refreshLeg runs one goroutine per session for d. A session whose refresh fails stops
// for the rest of the run (its token is no longer valid); the failure is counted.
func refreshLeg(ctx context.Context, st *stack, gw *proc, hc *http.Client, base string, tokens []string, d time.Duration) driverLeg {
	var (
		mu   sync.Mutex
		lats []time.Duration
		l    = driverLeg{statuses: map[int]int64{}, concurrency: len(tokens)}
	)
	resetPeaks([]*proc{gw})
	m0 := st.ps.snapshot()
	u0, db0 := sample([]*proc{gw}), sample(st.dbProcs())
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for i := range tokens {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			var mine []time.Duration
			for tokens[i] != "" && time.Now().Before(deadline) && ctx.Err() == nil {
				t0 := time.Now()
				a, err := do(ctx, hc, http.MethodGet, base+"/api/auth/refresh",
					http.Header{"Cookie": {"refresh_token=" + tokens[i]}}, nil)
				lat := time.Since(t0)
				next := a.cookie("refresh_token")
				mu.Lock()
				switch {
				case err != nil:
					l.errors++
					l.statuses[0]++
					l.note = err.Error()
				case a.status == http.StatusOK && next != "":
					l.ok++
					l.statuses[a.status]++
				default:
					l.statuses[a.status]++
					if a.status == http.StatusServiceUnavailable {
						l.busy++
					} else {
						l.errors++
					}
					l.note = fmt.Sprintf("%d %s", a.status, a.body)
				}
				mu.Unlock()
				if err != nil || a.status != http.StatusOK || next == "" {
					tokens[i] = "" // spent or revoked: this session stops for the rest of the run
					break
				}
				tokens[i] = next
				mine = append(mine, lat)
			}
			mu.Lock()
			lats = append(lats, mine...)
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	l.wall = time.Since(start)
	u1, db1 := sample([]*proc{gw}), sample(st.dbProcs())
	l.rps = float64(l.ok) / l.wall.Seconds()
	l.p50, l.p90, l.p99, l.max = percentile(lats, 50), percentile(lats, 90), percentile(lats, 99), percentile(lats, 100)
	l.cpuPerOp = perRequest(u1.cpu-u0.cpu, l.ok)
	if len(st.dbProcs()) > 0 {
		l.dbCPUPerOp = perRequest(db1.cpu-db0.cpu, l.ok)
	}
	l.peakKB = peakRSS([]*proc{gw})
	l.other, l.steal = foreign(m0, st.ps.snapshot(), runtime.NumCPU())
	return l
}

// dbProcs is the process serving MongoDB when it is the embedding gateway's FerretDB.
func (st *stack) dbProcs() []*proc {
	if st.gwEmbedded == nil || st.mongoURI != "mongodb://"+st.ferretAddr+"/" {
		return nil
	}
	return []*proc{st.gwEmbedded}
}
