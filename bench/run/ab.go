package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"time"
)

// variant is one scenario of a group: a target and the processes that serve it (whose
// CPU time and peak RSS are reported).
type variant struct {
	key     string // short name used in the report and chart, e.g. "gateway-bearer"
	what    string // one line: what is measured
	t       target
	sut     []*proc // the system under test (nginx counts with its workers)
	sutName string  // how the CPU column names it
	skip    string  // non-empty: not measured, and why
	legs    []leg
}

// leg is one measurement of a variant in one round: a fixed-concurrency run, then a
// fixed-rate run, with the SUT's CPU time per request of each and its peak RSS.
type leg struct {
	round        int
	thr, lat     result
	cpuPerReq    time.Duration // SUT CPU during the throughput run / its requests
	latCPUPerReq time.Duration // the same during the fixed-rate run
	peakKB       int64         // largest VmHWM of the SUT processes at the end of the leg
	other, steal float64       // share of the machine used outside this run / stolen, over the leg
}

// group is a baseline and the variants compared with it. Legs run interleaved:
// baseline, v1, v2, …, then again in the same order for each round (A B A B), so every
// ratio is taken between legs of the same round, seconds apart.
type group struct {
	key, title string
	baseline   *variant
	variants   []*variant
	skip       string // the whole group was not run, and why
	err        string // the group failed part-way
	peakReset  bool   // VmHWM could be reset before each leg (else it is the process's lifetime peak)
}

// plan is how long and how hard each leg runs.
type plan struct {
	rounds int
	thr    time.Duration // fixed-concurrency run per leg
	lat    time.Duration // fixed-rate run per leg
	warm   time.Duration // per variant, before the first round, not recorded
	conns  int
	rate   int
}

// active returns the baseline and the variants that are not skipped.
func (g *group) active() []*variant {
	out := []*variant{g.baseline}
	for _, v := range g.variants {
		if v.skip == "" {
			out = append(out, v)
		}
	}
	return out
}

// budget is the longest a group may take: its nominal time twice over, plus a minute.
func (p plan) budget(n int) time.Duration {
	perLeg := p.thr + p.lat + 4*time.Second
	return 2*(time.Duration(n)*(p.warm+time.Duration(p.rounds)*perLeg)) + time.Minute
}

// runGroup measures g. A group whose every variant is skipped is not run.
func runGroup(ctx context.Context, ps *procs, g *group, p plan, gen throughputGen, vg vegetaGen) error {
	if g.skip != "" {
		progress("== %s: %s", g.key, g.skip)
		return nil
	}
	for _, v := range g.variants {
		if v.skip != "" {
			progress("   %s: %s", v.key, v.skip)
		}
	}
	vs := g.active()
	if len(vs) < 2 {
		g.skip = "every scenario of this group was skipped (see below)"
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, p.budget(len(vs)))
	defer cancel()
	progress("== %s: %d scenarios × %d rounds (%s at c=%d, then %s at %d req/s)",
		g.key, len(vs), p.rounds, p.thr, p.conns, p.lat, p.rate)
	for _, v := range vs {
		if _, err := gen.throughput(ctx, v.t, p.conns, p.warm); err != nil {
			return fmt.Errorf("%s warm-up: %w", v.key, err)
		}
	}
	g.peakReset = true
	for r := 1; r <= p.rounds; r++ {
		for _, v := range vs {
			m0 := ps.snapshot()
			l, reset, err := measure(ctx, v, r, p, gen, vg)
			if err != nil {
				return fmt.Errorf("%s round %d: %w", v.key, r, err)
			}
			l.other, l.steal = foreign(m0, ps.snapshot(), runtime.NumCPU())
			g.peakReset = g.peakReset && reset
			v.legs = append(v.legs, l)
			progress("   %-26s round %d: %8.0f req/s  p99@%d/s %7s  errors %d/%d  cpu %s/req  other load %s",
				v.key, r, l.thr.rps, p.rate, fmtDur(l.lat.p99), l.thr.errors+l.lat.errors,
				l.thr.requests+l.lat.requests, fmtDur(l.cpuPerReq), fmtShare(l.other, l.steal))
		}
	}
	return nil
}

// measure runs one leg of v.
func measure(ctx context.Context, v *variant, round int, p plan, gen throughputGen, vg vegetaGen) (leg, bool, error) {
	l := leg{round: round}
	reset := resetPeaks(v.sut)
	u0 := sample(v.sut)
	thr, err := gen.throughput(ctx, v.t, p.conns, p.thr)
	if err != nil {
		return l, reset, err
	}
	u1 := sample(v.sut)
	// A moment for the closed connections and the collector to settle, so that the
	// fixed-rate run does not pay for the throughput run's tail.
	if err := sleep(ctx, 300*time.Millisecond); err != nil {
		return l, reset, err
	}
	u1 = sample(v.sut)
	lat, err := vg.atRate(ctx, v.t, p.rate, p.lat)
	if err != nil {
		return l, reset, err
	}
	u2 := sample(v.sut)
	for _, s := range v.sut {
		if err := s.alive(); err != nil {
			return l, reset, err
		}
	}
	l.thr, l.lat, l.peakKB = thr, lat, peakRSS(v.sut)
	l.cpuPerReq = perRequest(u1.cpu-u0.cpu, thr.requests)
	l.latCPUPerReq = perRequest(u2.cpu-u1.cpu, lat.requests)
	return l, reset, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("interrupted: %w", ctx.Err())
	}
}

func perRequest(d time.Duration, n int64) time.Duration {
	if n <= 0 {
		return 0
	}
	return d / time.Duration(n)
}

// fmtShare renders the machine's foreign load over a leg: "3%" or "3% + 2% steal".
func fmtShare(other, steal float64) string {
	s := fmt.Sprintf("%.0f%%", 100*other)
	if steal >= 0.005 {
		s += fmt.Sprintf(" + %.0f%% steal", 100*steal)
	}
	return s
}

// progress prints one line of the runner's progress on stderr.
func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
}
