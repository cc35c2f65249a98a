package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// resultsDir creates and returns the directory of the report, chart and profiles.
func (s *suite) resultsDir() (string, error) {
	dir := s.opts.out
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(s.root, dir)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", fmt.Errorf("results dir: %w", err)
	}
	return dir, nil
}

// stem is the file name of this run's results without an extension: <date>-<host>.
func (s *suite) stem() string { return s.info.date.Format("2006-01-02") + "-" + s.info.host }

// write renders the report and the chart into dir and returns the report's path.
func (s *suite) write(dir string) (string, error) {
	name := s.stem()
	chart := name + "." + s.opts.chartFormat
	chartNote := ""
	if err := s.chart(filepath.Join(dir, chart)); err != nil {
		chartNote = "chart not written: " + err.Error()
		chart = ""
	}
	var b strings.Builder
	s.renderHeader(&b, chart, chartNote)
	s.renderTargets(&b)
	s.renderSummary(&b)
	for _, g := range s.groups {
		s.renderGroup(&b, g)
	}
	s.renderRefresh(&b)
	s.renderLogin(&b)
	s.renderIdle(&b)
	s.renderProfiles(&b)
	path := filepath.Join(dir, name+".md")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil { //nolint:gosec // G306: a report to commit
		return "", fmt.Errorf("report: %w", err)
	}
	return path, nil
}

func (s *suite) renderHeader(b *strings.Builder, chart, chartNote string) {
	in, p := s.info, s.opts.plan
	fmt.Fprintf(b, "# authgate benchmark: %s, %s\n\n", in.date.Format("2006-01-02"), in.host)
	if in.command != in.runner {
		fmt.Fprintf(b, "Reproduce from the repository root: `%s` (equivalently: `%s`).\n\n", in.command, in.runner)
	} else {
		fmt.Fprintf(b, "Reproduce from the repository root: `%s`.\n\n", in.command)
	}
	if s.other > 0.10 {
		fmt.Fprintf(b, "**Warning:** processes outside this run used %s of the machine while it measured: the numbers are disturbed; rerun on a quieter machine before comparing them.\n\n", fmtShare(s.other, s.steal))
	}
	fmt.Fprintf(b, "| | |\n| --- | --- |\n")
	rows := [][2]string{
		{"date", in.date.UTC().Format(time.RFC3339)},
		{"git commit", in.commit},
		{"Go", in.goVersion},
		{"CPUs", fmt.Sprintf("%d × %s (load generator, stores and servers share them)", in.cpus, in.cpuModel)},
		{"kernel", in.kernel},
		{"wall-clock time of this run", s.wall.Round(time.Second).String()},
		{"other load", fmt.Sprintf("%s of the machine's CPU went to processes outside this run while it measured (the machine is shared; each leg's share is in its row)", fmtShare(s.other, s.steal))},
		{"throughput load", fmt.Sprintf("%s, %d connections, %s per leg (closed loop: fixed concurrency)", s.gen.name(), p.conns, p.thr)},
		{"latency load", fmt.Sprintf("%s at a fixed %d req/s, %s per leg (open loop: queueing shows in the percentiles)", s.vg.name(), p.rate, p.lat)},
		{"interleaving", fmt.Sprintf("%d rounds; each round measures the baseline, then each scenario of its group, in the same order (A B C, A B C); ratios are taken within a round; %s warm-up per scenario first", p.rounds, p.warm)},
		{"Redis", s.st.redisNote},
		{"MongoDB", s.st.mongoNote + " (the proxied path never reads it)"},
		{"gateways", "production mode with external stores (the shape to deploy); RS256 (RSA 2048) unless noted, keys generated for the run; access log on (one JSON line per request, read and discarded by the runner)"},
		{"nginx", s.nginxNote},
		{"oauth2-proxy", s.peerNote},
		{"CPU/req", "user+system CPU of the serving processes (the column says which) from /proc/<pid>/stat over the leg, divided by the requests it served; the upstream, Redis and the load generator are not included"},
		{"peak RSS", peakNote(s.groups)},
	}
	for _, r := range rows {
		fmt.Fprintf(b, "| %s | %s |\n", r[0], strings.ReplaceAll(r[1], "|", "\\|"))
	}
	b.WriteString("\n")
	if chart != "" {
		fmt.Fprintf(b, "Chart of throughput and latency per scenario: [%s](%s)\n\n![throughput and latency per scenario](%s)\n\n", chart, chart, chart)
	} else if chartNote != "" {
		fmt.Fprintf(b, "(%s)\n\n", chartNote)
	}
}

func peakNote(gs []*group) string {
	for _, g := range gs {
		if g.skip == "" && len(g.baseline.legs) > 0 && !g.peakReset {
			return "VmHWM from /proc/<pid>/status; it could not be reset between legs here, so it is the process's peak so far"
		}
	}
	return "VmHWM from /proc/<pid>/status, reset (clear_refs 5) before each leg: the peak of that leg"
}

func (s *suite) renderTargets(b *strings.Builder) {
	b.WriteString("## Targets\n\n")
	for _, v := range s.targets() {
		fmt.Fprintf(b, "- **%s** %s\n", v.state, v.text)
	}
	b.WriteString("\n")
}

// renderSummary is the table of ratios: every scenario against its baseline.
func (s *suite) renderSummary(b *strings.Builder) {
	fmt.Fprintf(b, "## Ratios\n\nMean of the per-round ratios, the rounds in parentheses; p99 at %d req/s; CPU/req of the serving processes (each scenario's own: the gateway, nginx, …) over its baseline's.\n\n", s.opts.plan.rate)
	b.WriteString("| scenario | baseline | req/s ratio | scenario req/s | baseline req/s | p99 scenario | p99 baseline | CPU/req ratio |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, g := range s.groups {
		for _, v := range g.variants {
			if v.skip != "" || len(v.legs) == 0 || len(g.baseline.legs) == 0 {
				continue
			}
			fmt.Fprintf(b, "| `%s` | `%s` | %s | %.0f | %.0f | %s | %s | %s |\n", v.key, g.baseline.key,
				fmtRatio(ratios(v, g.baseline, thrRPS)), meanOf(v, thrRPS), meanOf(g.baseline, thrRPS),
				fmtDur(meanDur(v, func(l leg) time.Duration { return l.lat.p99 })),
				fmtDur(meanDur(g.baseline, func(l leg) time.Duration { return l.lat.p99 })),
				fmtRatio(ratios(v, g.baseline, func(l leg) float64 { return float64(l.cpuPerReq) })))
		}
	}
	for _, r := range s.refresh {
		if len(r.legs) > 0 {
			fmt.Fprintf(b, "| `refresh-%s` | %s signing alone (1 goroutine) | %s | %.0f | %.0f | %s | | |\n", r.alg, r.alg,
				fmtRatio(r.ratios()), meanDriver(r.legs, func(l driverLeg) float64 { return l.rps }),
				meanRate(r.signing, false), fmtDur(time.Duration(meanDriver(r.legs, func(l driverLeg) float64 { return float64(l.p99) }))))
		}
	}
	if l := s.login; l != nil && len(l.legs) > 0 {
		var rs []float64
		for i, g := range l.legs {
			if i < len(l.hashing) && l.hashing[i].parallel > 0 {
				rs = append(rs, g.rps/l.hashing[i].parallel)
			}
		}
		fmt.Fprintf(b, "| `login` | argon2id alone (%d goroutines) | %s | %.1f | %.1f | %s | | |\n", s.info.cpus,
			fmtRatio(rs), meanDriver(l.legs, func(g driverLeg) float64 { return g.rps }), meanRate(l.hashing, true),
			fmtDur(time.Duration(meanDriver(l.legs, func(g driverLeg) float64 { return float64(g.p99) }))))
	}
	b.WriteString("\n")
}

func meanDriver(ls []driverLeg, f func(driverLeg) float64) float64 {
	xs := make([]float64, 0, len(ls))
	for _, l := range ls {
		xs = append(xs, f(l))
	}
	return mean(xs)
}

func meanRate(rs []rate, parallel bool) float64 {
	xs := make([]float64, 0, len(rs))
	for _, r := range rs {
		if parallel {
			xs = append(xs, r.parallel)
		} else {
			xs = append(xs, r.serial)
		}
	}
	return mean(xs)
}
