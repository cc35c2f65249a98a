package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func fakeLeg(round int, rps float64, p99 time.Duration) leg {
	return leg{round: round, thr: result{rps: rps, requests: int64(rps) * 5, p99: 4 * p99},
		lat: result{rps: 1000, requests: 3000, p50: p99 / 4, p90: p99 / 2, p99: p99}, cpuPerReq: 100 * time.Microsecond, peakKB: 30000}
}

// fakeSuite is a run with every kind of outcome: measured, skipped, failed.
func fakeSuite(t *testing.T) *suite {
	plain := &variant{key: "plain-proxy", what: "baseline", sutName: "plainproxy",
		legs: []leg{fakeLeg(1, 10000, 2*time.Millisecond), fakeLeg(2, 9000, 2*time.Millisecond)}}
	gw := &variant{key: "gateway-bearer", what: "gateway", sutName: "gateway",
		legs: []leg{fakeLeg(1, 11000, 2500*time.Microsecond), fakeLeg(2, 9500, 2500*time.Microsecond)}}
	peer := &variant{key: "peer-proxy", what: "peer", skip: "skipped: oauth2-proxy could not be built"}
	healthz := &variant{key: "gateway-healthz", what: "healthz"}
	ar := &variant{key: "auth-request", what: "endpoint", skip: "skipped: endpoint not available (404)"}
	kp, err := newKeyPair(t.TempDir(), algEdDSA)
	if err != nil {
		t.Fatal(err)
	}
	return &suite{
		opts: options{out: t.TempDir(), chartFormat: "svg", sessions: 64, logins: 200,
			plan: plan{rounds: 2, thr: 5 * time.Second, lat: 3 * time.Second, warm: time.Second, conns: 64, rate: 1000}},
		info: info{command: "make bench", runner: "go run ./bench/run", goVersion: "go1.26", cpus: 2, date: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), host: "box", commit: "abc"},
		st:   &stack{redisNote: "own redis-server", mongoNote: "FerretDB", keys: map[string]keyPair{algEdDSA: kp}},
		gen:  vegetaGen{},
		groups: []*group{
			{key: "proxied", title: "Proxied", baseline: plain, variants: []*variant{gw, peer}, peakReset: true},
			{key: "forward-auth", title: "Forward auth", baseline: healthz, variants: []*variant{ar}, skip: "every scenario of this group was skipped"},
		},
		refresh: []*refreshRun{
			{alg: algRS256, sessions: 64, err: "gateway died"},
			{alg: algEdDSA, sessions: 64, signing: []rate{{serial: 40000, parallel: 70000}},
				legs: []driverLeg{{round: 1, ok: 5000, rps: 1000, p99: 100 * time.Millisecond, statuses: map[int]int64{200: 5000}}}},
		},
		login: &loginRun{users: 200, maxHashes: 4, hashing: []rate{{serial: 26, parallel: 50}},
			legs: []driverLeg{{round: 1, ok: 160, busy: 40, rps: 30, wall: 5 * time.Second, peakKB: 250000, statuses: map[int]int64{200: 160, 503: 40}}}},
		idleExternal: idle{rssKB: 30000, hwmKB: 32000},
		nginxNote:    "skipped: nginx is not installed",
		peerNote:     "skipped: oauth2-proxy could not be built",
	}
}

func TestReportRendersEveryOutcome(t *testing.T) {
	s := fakeSuite(t)
	s.profiles = []profile{
		{key: "gateway-cookie", file: "2026-01-02-box-gateway-cookie.pprof", top: "flat  flat%\n  1s 50% main.work"},
		{key: "refresh-EdDSA", err: "no refresh session is left to profile with"},
	}
	dir, err := s.resultsDir()
	if err != nil {
		t.Fatal(err)
	}
	path, err := s.write(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	md := string(b)
	if filepath.Base(path) != "2026-01-02-box.md" {
		t.Errorf("report name %s", filepath.Base(path))
	}
	for _, want := range []string{
		"Reproduce from the repository root: `make bench`",
		"| git commit | abc |",
		"**PASS** `gateway-bearer` req/s vs `plain-proxy`: 1.08× (1.10, 1.06)",
		"**PASS** `gateway-bearer` p99 at 1000 req/s: 2.50 ms vs `plain-proxy` 2.00 ms, difference +500 µs",
		"**N/A** `gateway-bearer` req/s vs `peer-proxy` (oauth2-proxy): peer-proxy skipped: oauth2-proxy could not be built",
		"**N/A** `auth-request` endpoint req/s vs gateway `/healthz`: auth-request skipped: endpoint not available (404)",
		"**N/A** refresh RS256",
		"**MISS** refresh EdDSA vs the signing rate of EdDSA alone (one goroutine): 2%",
		"**MISS** login: 200 concurrent without errors: 160 of 200 ok over 1 rounds, 40 × 503",
		"**PASS** login: 200 concurrent: gateway peak RSS 256.0 MB",
		"**PASS** idle RSS with external stores: 30.7 MB",
		"| `gateway-bearer` | `plain-proxy` | 1.08× (1.10, 1.06) | 10250 | 9500 |",
		"![throughput and latency per scenario](2026-01-02-box.svg)",
		"every scenario of this group was skipped",
		"## Profiles of missed targets",
		"### `gateway-cookie`: [2026-01-02-box-gateway-cookie.pprof](2026-01-02-box-gateway-cookie.pprof)\n\n```\nflat  flat%\n  1s 50% main.work\n```",
		"### `refresh-EdDSA`\n\nNo profile: no refresh session is left to profile with",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	svg, err := os.ReadFile(filepath.Join(filepath.Dir(path), "2026-01-02-box.svg"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(svg), "<svg") || !strings.Contains(string(svg), "gateway-bearer") {
		t.Error("chart is not an SVG naming the scenarios")
	}
}
