package main

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"sync"
	"time"
)

// loginRun is the login scenario: bursts of N simultaneous logins of N distinct,
// pre-registered users, interleaved with the in-process argon2id rate.
type loginRun struct {
	gw        *proc
	users     int
	maxHashes int
	legs      []driverLeg
	hashing   []rate
	err       string
}

// registerUsers creates n users through base, a few at a time (each registration hashes
// a password; the gateway's slots are not the thing measured here).
func registerUsers(ctx context.Context, base, runID string, n, parallel int) ([]benchUser, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	users := make([]benchUser, n)
	for i := range users {
		users[i] = userN(runID, i)
	}
	hc := httpClient(parallel)
	jobs := make(chan benchUser)
	errc := make(chan error, parallel)
	var wg sync.WaitGroup
	for range parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for u := range jobs {
				if err := register(ctx, hc, base, u); err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	var err error
feed:
	for _, u := range users {
		select {
		case jobs <- u:
		case err = <-errc:
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	close(errc)
	if err == nil {
		err = <-errc
	}
	if err != nil {
		return nil, fmt.Errorf("register users: %w", err)
	}
	return users, nil
}

// runLogin measures rounds of one burst each.
func runLogin(ctx context.Context, st *stack, r *loginRun, users []benchUser, rounds int) error {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(rounds)*2*time.Minute)
	defer cancel()
	progress("== login: %d simultaneous logins of distinct users × %d rounds (max_concurrent_hashes %d)",
		r.users, rounds, r.maxHashes)
	hc := httpClient(r.users + 8)
	for round := 1; round <= rounds; round++ {
		hr := hashRate()
		r.hashing = append(r.hashing, hr)
		time.Sleep(500 * time.Millisecond) // let the benchmark's memory settle
		l, err := loginBurst(ctx, st, r.gw, hc, users[:r.users])
		if err != nil {
			return err
		}
		l.round = round
		r.legs = append(r.legs, l)
		progress("   round %d: %d ok, %d × 503, %d other errors in %s (%.0f logins/s; argon2id alone %.1f/s serial, %.1f/s parallel); peak RSS %s",
			round, l.ok, l.busy, l.errors, l.wall.Round(time.Millisecond), l.rps, hr.serial, hr.parallel, fmtMB(l.peakKB))
		time.Sleep(time.Second)
	}
	return nil
}

// loginBurst releases one login per user at the same instant and waits for all of them.
func loginBurst(ctx context.Context, st *stack, gw *proc, hc *http.Client, users []benchUser) (driverLeg, error) {
	base := "http://" + gw.addr
	l := driverLeg{statuses: map[int]int64{}, concurrency: len(users)}
	// Open the connections first, so that the burst measures logins, not TCP handshakes.
	var warm sync.WaitGroup
	for range users {
		warm.Add(1)
		go func() {
			defer warm.Done()
			_, _ = do(ctx, hc, http.MethodGet, base+"/healthz", nil, nil)
		}()
	}
	warm.Wait()
	if err := ctx.Err(); err != nil {
		return l, fmt.Errorf("login: %w", err)
	}

	resetPeaks([]*proc{gw})
	m0 := st.ps.snapshot()
	u0, db0 := sample([]*proc{gw}), sample(st.dbProcs())
	var (
		mu   sync.Mutex
		lats []time.Duration
		wg   sync.WaitGroup
	)
	startc := make(chan struct{})
	for _, u := range users {
		wg.Add(1)
		go func(u benchUser) {
			defer wg.Done()
			<-startc
			t0 := time.Now()
			_, a, err := login(ctx, hc, base, u)
			lat := time.Since(t0)
			mu.Lock()
			defer mu.Unlock()
			lats = append(lats, lat)
			switch {
			case err == nil:
				l.ok++
				l.statuses[http.StatusOK]++
			case a.status == http.StatusServiceUnavailable:
				l.busy++
				l.statuses[a.status]++
			default:
				l.errors++
				l.statuses[a.status]++
				if l.note == "" {
					l.note = err.Error()
				}
			}
		}(u)
	}
	start := time.Now()
	close(startc)
	wg.Wait()
	l.wall = time.Since(start)
	u1, db1 := sample([]*proc{gw}), sample(st.dbProcs())
	l.rps = float64(l.ok) / l.wall.Seconds()
	l.p50, l.p90, l.p99, l.max = percentile(lats, 50), percentile(lats, 90), percentile(lats, 99), percentile(lats, 100)
	l.cpuPerOp = perRequest(u1.cpu-u0.cpu, l.ok+l.busy+l.errors)
	if len(st.dbProcs()) > 0 {
		l.dbCPUPerOp = perRequest(db1.cpu-db0.cpu, l.ok+l.busy+l.errors)
	}
	l.peakKB = peakRSS([]*proc{gw})
	l.other, l.steal = foreign(m0, st.ps.snapshot(), runtime.NumCPU())
	if err := gw.alive(); err != nil {
		return l, err
	}
	return l, nil
}
