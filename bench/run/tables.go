package main

import (
	"fmt"
	"strings"
	"time"
)

// renderGroup writes one table per scenario of g: its legs and its baseline's, round by
// round, then the means and the ratio.
func (s *suite) renderGroup(b *strings.Builder, g *group) {
	p := s.opts.plan
	fmt.Fprintf(b, "## %s\n\n", g.title)
	if g.skip != "" {
		fmt.Fprintf(b, "%s\n\n", g.skip)
	}
	if g.err != "" {
		fmt.Fprintf(b, "This group failed part-way: `%s`\n\n", oneLine(g.err))
	}
	fmt.Fprintf(b, "Baseline `%s`: %s.\n\n", g.baseline.key, g.baseline.what)
	for _, v := range g.variants {
		fmt.Fprintf(b, "### `%s`\n\n%s.\n\n", v.key, v.what)
		if v.skip != "" {
			fmt.Fprintf(b, "%s\n\n", v.skip)
			continue
		}
		if len(v.legs) == 0 {
			b.WriteString("Not measured.\n\n")
			continue
		}
		fmt.Fprintf(b, "| leg | req/s (c=%d) | p99 at c=%d | p50 at %d/s | p90 at %d/s | p99 at %d/s | errors | CPU/req | peak RSS | other load |\n",
			p.conns, p.conns, p.rate, p.rate, p.rate)
		b.WriteString("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
		for r := 1; r <= p.rounds; r++ {
			for _, x := range []*variant{g.baseline, v} {
				for _, l := range x.legs {
					if l.round == r {
						fmt.Fprintf(b, "| %s, round %d | %s |\n", x.key, r, legCells(l, x.sutName))
					}
				}
			}
		}
		for _, x := range []*variant{g.baseline, v} {
			fmt.Fprintf(b, "| **%s, mean** | **%.0f** | %s | %s | %s | **%s** | | %s | | |\n", x.key, meanOf(x, thrRPS),
				fmtDur(meanDur(x, func(l leg) time.Duration { return l.thr.p99 })),
				fmtDur(meanDur(x, func(l leg) time.Duration { return l.lat.p50 })),
				fmtDur(meanDur(x, func(l leg) time.Duration { return l.lat.p90 })),
				fmtDur(meanDur(x, func(l leg) time.Duration { return l.lat.p99 })),
				fmtDur(meanDur(x, func(l leg) time.Duration { return l.cpuPerReq })))
		}
		fmt.Fprintf(b, "\nRatio `%s` / `%s`: req/s %s; p99 at %d req/s %s.\n\n", v.key, g.baseline.key,
			fmtRatio(ratios(v, g.baseline, thrRPS)), p.rate, fmtRatio(ratios(v, g.baseline, latP99)))
		if notes := legNotes(v); notes != "" {
			fmt.Fprintf(b, "Answers: %s\n\n", notes)
		}
	}
}

// legCells renders one leg's columns after the first.
func legCells(l leg, sutName string) string {
	errs := l.thr.errors + l.lat.errors
	total := l.thr.requests + l.lat.requests
	return fmt.Sprintf("%.0f | %s | %s | %s | %s | %d of %d | %s (%s) | %s | %s",
		l.thr.rps, fmtDur(l.thr.p99), fmtDur(l.lat.p50), fmtDur(l.lat.p90), fmtDur(l.lat.p99),
		errs, total, fmtDur(l.cpuPerReq), sutName, fmtMB(l.peakKB), fmtShare(l.other, l.steal))
}

// legNotes lists the status counts of v's legs, and the first error seen.
func legNotes(v *variant) string {
	var parts []string
	for _, l := range v.legs {
		s := fmt.Sprintf("round %d: %s / %s", l.round, statusText(l.thr.statuses), statusText(l.lat.statuses))
		if n := l.thr.note + l.lat.note; n != "" {
			s += " (" + oneLine(n) + ")"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

func (s *suite) renderRefresh(b *strings.Builder) {
	b.WriteString("## Refresh with rotation\n\n")
	fmt.Fprintf(b, "%d sessions refresh in parallel for %s per round, each with the refresh token its previous refresh returned (a reuse would revoke the session). "+
		"The baseline is the signing rate of the gateway's algorithm alone, measured in-process (testing.Benchmark, one goroutine, and %d goroutines) just before each round. "+
		"A refresh signs two tokens (refresh and access), reads the user in MongoDB and rotates the session in Redis.\n\n",
		s.opts.sessions, s.opts.plan.thr, s.info.cpus)
	for _, r := range s.refresh {
		fmt.Fprintf(b, "### `refresh-%s`\n\n", r.alg)
		if r.err != "" {
			fmt.Fprintf(b, "Failed: `%s`\n\n", oneLine(r.err))
		}
		if len(r.legs) == 0 {
			continue
		}
		b.WriteString("| round | signing alone, 1 goroutine | signing alone, all CPUs | refresh/s | refresh / signing (1 goroutine) | p50 | p90 | p99 | 503 | other errors | gateway CPU/refresh | MongoDB (FerretDB) CPU/refresh | peak RSS | other load |\n")
		b.WriteString("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
		for i, l := range r.legs {
			sr := r.signing[i]
			fmt.Fprintf(b, "| %d | %.0f/s | %.0f/s | %.0f | %.0f%% | %s | %s | %s | %d | %d | %s | %s | %s | %s |\n",
				l.round, sr.serial, sr.parallel, l.rps, 100*l.rps/sr.serial, fmtDur(l.p50), fmtDur(l.p90), fmtDur(l.p99),
				l.busy, l.errors, fmtDur(l.cpuPerOp), fmtDur(l.dbCPUPerOp), fmtMB(l.peakKB), fmtShare(l.other, l.steal))
		}
		b.WriteString("\n")
		if notes := driverNotes(r.legs); notes != "" {
			fmt.Fprintf(b, "Answers: %s\n\n", notes)
		}
	}
}

func (s *suite) renderLogin(b *strings.Builder) {
	l := s.login
	b.WriteString("## Login\n\n")
	if l == nil {
		b.WriteString("Not run.\n\n")
		return
	}
	fmt.Fprintf(b, "%d distinct pre-registered users log in at the same instant (one burst per round; connections opened beforehand). "+
		"passwords.max_concurrent_hashes = %d; a login that waits more than 2 s for a hashing slot is answered 503 by design, so at most about "+
		"max_concurrent_hashes + 2 s × (hashes/s) of a burst can succeed. The baseline is argon2id (m=19456 KiB, t=2, p=1) alone, in-process, just before each round.\n\n",
		l.users, l.maxHashes)
	if l.err != "" {
		fmt.Fprintf(b, "Failed: `%s`\n\n", oneLine(l.err))
	}
	if len(l.legs) == 0 {
		return
	}
	b.WriteString("| round | argon2id alone, 1 goroutine | argon2id alone, all CPUs | ok | 503 | other errors | burst wall time | logins/s | logins/s / hashes/s (all CPUs) | p50 | p90 | p99 | gateway CPU/login | MongoDB (FerretDB) CPU/login | gateway peak RSS | other load |\n")
	b.WriteString("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for i, g := range l.legs {
		h := l.hashing[i]
		fmt.Fprintf(b, "| %d | %.1f/s | %.1f/s | %d | %d | %d | %s | %.1f | %.0f%% | %s | %s | %s | %s | %s | %s | %s |\n",
			g.round, h.serial, h.parallel, g.ok, g.busy, g.errors, g.wall.Round(time.Millisecond), g.rps, 100*g.rps/h.parallel,
			fmtDur(g.p50), fmtDur(g.p90), fmtDur(g.p99), fmtDur(g.cpuPerOp), fmtDur(g.dbCPUPerOp), fmtMB(g.peakKB), fmtShare(g.other, g.steal))
	}
	b.WriteString("\n")
	if notes := driverNotes(l.legs); notes != "" {
		fmt.Fprintf(b, "Answers: %s\n\n", notes)
	}
}

func driverNotes(ls []driverLeg) string {
	var parts []string
	for _, l := range ls {
		s := fmt.Sprintf("round %d: %s", l.round, statusText(l.statuses))
		if l.note != "" {
			s += " (last error: " + oneLine(l.note) + ")"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

func (s *suite) renderIdle(b *strings.Builder) {
	b.WriteString("## Idle memory\n\n")
	if s.idleErr != "" {
		fmt.Fprintf(b, "Not measured: `%s`\n\n", oneLine(s.idleErr))
		return
	}
	b.WriteString("3 s after start and one /healthz, before any load.\n\n| gateway | VmRSS | VmHWM (peak since start) |\n| --- | --- | --- |\n")
	fmt.Fprintf(b, "| external MongoDB and Redis (production shape) | %s | %s |\n", fmtMB(s.idleExternal.rssKB), fmtMB(s.idleExternal.hwmKB))
	fmt.Fprintf(b, "| FerretDB embedded (mongodb.uri empty), external Redis | %s | %s |\n\n", fmtMB(s.idleEmbedded.rssKB), fmtMB(s.idleEmbedded.hwmKB))
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 400 {
		s = s[:400] + "…"
	}
	return strings.ReplaceAll(s, "|", "\\|")
}
