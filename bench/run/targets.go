package main

import (
	"fmt"
	"time"
)

// verdict is one target line of the report.
type verdict struct {
	state string // PASS, MISS or N/A
	text  string
	key   string // the scenario to profile when the target is missed ("": none)
}

// of names the scenario a verdict is about.
func (v verdict) of(key string) verdict { v.key = key; return v }

func judge(ok bool, format string, args ...any) verdict {
	s := "MISS"
	if ok {
		s = "PASS"
	}
	return verdict{state: s, text: fmt.Sprintf(format, args...)}
}

func notApplicable(what, why string) verdict {
	return verdict{state: "N/A", text: what + ": " + why}
}

// measured returns v when it ran, else the reason it did not.
func measured(gs []*group, key string) (*variant, string) {
	v := find(gs, key)
	switch {
	case v == nil:
		return nil, "not in this run"
	case v.skip != "":
		return nil, v.skip
	case len(v.legs) == 0:
		return nil, "not measured (see its group)"
	}
	return v, ""
}

// ratioTarget checks mean(a/b per round) ≥ min.
func ratioTarget(gs []*group, a, b string, minRatio float64, label string) verdict {
	va, why := measured(gs, a)
	if va == nil {
		return notApplicable(label, a+" "+why)
	}
	vb, why := measured(gs, b)
	if vb == nil {
		return notApplicable(label, b+" "+why)
	}
	rs := ratios(va, vb, thrRPS)
	return judge(mean(rs) >= minRatio, "%s: %s (target ≥ %.1f×)", label, fmtRatio(rs), minRatio).of(a)
}

// targets evaluates every target of issue 7 against this run's numbers.
func (s *suite) targets() []verdict {
	gs := s.groups
	var out []verdict
	for _, k := range []string{"gateway-bearer", "gateway-cookie"} {
		out = append(out, ratioTarget(gs, k, "plain-proxy", 1.0, "`"+k+"` req/s vs `plain-proxy`"))
		va, why := measured(gs, k)
		vb, why2 := measured(gs, "plain-proxy")
		if va == nil || vb == nil {
			out = append(out, notApplicable("`"+k+"` p99 vs `plain-proxy` p99 + 1 ms", why+why2))
			continue
		}
		d := time.Duration(mean(diffs(va, vb, latP99)))
		out = append(out, judge(d <= time.Millisecond,
			"`%s` p99 at %d req/s: %s vs `plain-proxy` %s, difference %s (target ≤ +1 ms)",
			k, s.opts.plan.rate, fmtDur(meanDur(va, func(l leg) time.Duration { return l.lat.p99 })),
			fmtDur(meanDur(vb, func(l leg) time.Duration { return l.lat.p99 })), signed(d)).of(k))
	}
	for _, k := range []string{"gateway-bearer", "gateway-cookie"} {
		out = append(out, ratioTarget(gs, k, "peer-proxy", 2.5, "`"+k+"` req/s vs `peer-proxy` (oauth2-proxy)"))
	}
	for _, k := range []string{"auth-request", "forward-auth"} {
		out = append(out, ratioTarget(gs, k, "gateway-healthz", 0.8, "`"+k+"` endpoint req/s vs gateway `/healthz`"))
	}
	out = append(out, ratioTarget(gs, "nginx+authgate", "nginx+oauth2-proxy", 2.0,
		"nginx auth_request → authgate req/s vs nginx auth_request → oauth2-proxy"))
	for _, r := range s.refresh {
		label := "refresh " + r.alg + " vs the signing rate of " + r.alg + " alone (one goroutine)"
		if r.err != "" || len(r.legs) == 0 {
			out = append(out, notApplicable(label, "failed: "+r.err))
			continue
		}
		rs := r.ratios()
		out = append(out, judge(mean(rs) >= 0.5, "%s: %.0f%% (per round: %s) (target ≥ 50%%)", label, 100*mean(rs), percents(rs)).of("refresh-"+r.alg))
	}
	out = append(out, s.loginTargets()...)
	if s.idleErr != "" {
		out = append(out, notApplicable("idle RSS with external stores", s.idleErr))
	} else {
		out = append(out, judge(float64(s.idleExternal.rssKB)*1024 < 40e6,
			"idle RSS with external stores: %s (target < 40 MB)", fmtMB(s.idleExternal.rssKB)))
	}
	return out
}

func (s *suite) loginTargets() []verdict {
	l := s.login
	label := fmt.Sprintf("login: %d concurrent", s.opts.logins)
	if l == nil || l.err != "" || len(l.legs) == 0 {
		why := "not run"
		if l != nil {
			why = "failed: " + l.err
		}
		return []verdict{notApplicable(label, why)}
	}
	var ok, busy, other, peak int64
	for _, g := range l.legs {
		ok, busy, other, peak = ok+g.ok, busy+g.busy, other+g.errors, max(peak, g.peakKB)
	}
	total := int64(len(l.legs) * l.users)
	return []verdict{
		judge(busy == 0 && other == 0, "%s without errors: %d of %d ok over %d rounds, %d × 503 (no hashing slot within passwords.max_wait), %d other errors",
			label, ok, total, len(l.legs), busy, other),
		judge(float64(peak)*1024 < 300e6, "%s: gateway peak RSS %s (target < 300 MB)", label, fmtMB(peak)),
	}
}

// ratios are refresh/s over the serial signing rate measured just before, per round.
func (r *refreshRun) ratios() []float64 {
	var out []float64
	for i, l := range r.legs {
		if i < len(r.signing) && r.signing[i].serial > 0 {
			out = append(out, l.rps/r.signing[i].serial)
		}
	}
	return out
}

func percents(rs []float64) string {
	s := ""
	for i, r := range rs {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%.0f%%", 100*r)
	}
	return s
}

func signed(d time.Duration) string {
	if d == 0 {
		return "±0"
	}
	if d < 0 {
		return "−" + fmtDur(-d)
	}
	return "+" + fmtDur(d)
}
