package main

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// mean of xs (NaN when empty).
func mean(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// ratios returns, round by round, a's value over b's for legs of the same round.
func ratios(a, b *variant, f func(leg) float64) []float64 {
	var out []float64
	for _, la := range a.legs {
		for _, lb := range b.legs {
			if la.round == lb.round && f(lb) > 0 {
				out = append(out, f(la)/f(lb))
			}
		}
	}
	return out
}

// diffs returns, round by round, a's value minus b's.
func diffs(a, b *variant, f func(leg) float64) []float64 {
	var out []float64
	for _, la := range a.legs {
		for _, lb := range b.legs {
			if la.round == lb.round {
				out = append(out, f(la)-f(lb))
			}
		}
	}
	return out
}

func thrRPS(l leg) float64 { return l.thr.rps }
func latP99(l leg) float64 { return float64(l.lat.p99) }

// meanOf averages f over v's legs.
func meanOf(v *variant, f func(leg) float64) float64 {
	xs := make([]float64, 0, len(v.legs))
	for _, l := range v.legs {
		xs = append(xs, f(l))
	}
	return mean(xs)
}

// meanDur averages a duration field over v's legs.
func meanDur(v *variant, f func(leg) time.Duration) time.Duration {
	return time.Duration(meanOf(v, func(l leg) float64 { return float64(f(l)) }))
}

// percentile returns the p-th percentile (0–100) of sorted-in-place ds, nearest rank.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	i := int(math.Ceil(p/100*float64(len(ds)))) - 1
	return ds[min(max(i, 0), len(ds)-1)]
}

// fmtDur renders a latency for tables: µs below 1 ms, ms with two decimals above.
func fmtDur(d time.Duration) string {
	switch {
	case d <= 0:
		return "–"
	case d < time.Millisecond:
		return fmt.Sprintf("%d µs", d.Microseconds())
	case d < time.Second:
		return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.2f s", d.Seconds())
	}
}

// fmtRatio renders a mean ratio with its per-round values: "1.04× (1.01, 1.07)".
func fmtRatio(rs []float64) string {
	if len(rs) == 0 {
		return "–"
	}
	s := fmt.Sprintf("%.2f× (", mean(rs))
	for i, r := range rs {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%.2f", r)
	}
	return s + ")"
}

// fmtMB renders KiB as MB (10^6 bytes, as the targets are written).
func fmtMB(kb int64) string {
	if kb <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f MB", float64(kb)*1024/1e6)
}
