package main

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRatiosPairRounds(t *testing.T) {
	a := &variant{legs: []leg{{round: 1, thr: result{rps: 90}}, {round: 2, thr: result{rps: 120}}}}
	b := &variant{legs: []leg{{round: 2, thr: result{rps: 100}}, {round: 1, thr: result{rps: 100}}}}
	rs := ratios(a, b, thrRPS)
	if len(rs) != 2 || rs[0] != 0.9 || rs[1] != 1.2 {
		t.Fatalf("ratios = %v", rs)
	}
	if got := fmtRatio(rs); got != "1.05× (0.90, 1.20)" {
		t.Errorf("fmtRatio = %q", got)
	}
	if !math.IsNaN(mean(nil)) {
		t.Error("mean of nothing is not NaN")
	}
}

func TestPercentile(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	for p, want := range map[float64]time.Duration{50: 50 * time.Millisecond, 99: 99 * time.Millisecond, 100: 100 * time.Millisecond} {
		if got := percentile(ds, p); got != want {
			t.Errorf("p%v = %s, want %s", p, got, want)
		}
	}
	if percentile(nil, 99) != 0 {
		t.Error("percentile of nothing")
	}
}

func TestRenderNginx(t *testing.T) {
	site := nginxSite{Dir: t.TempDir(), Upstream: "127.0.0.1:1", Gateway: "127.0.0.1:2",
		ProxyAddr: "127.0.0.1:10", GatewayAddr: "127.0.0.1:11", PeerAddr: "127.0.0.1:12"}
	path, err := renderNginx(site)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	conf := string(b)
	for _, want := range []string{"listen 127.0.0.1:10;", "listen 127.0.0.1:11;", "auth_request /_authgate;",
		"proxy_pass http://authgate/api/authz/auth-request;", "keepalive 128;", "pid " + filepath.Join(site.Dir, "nginx.pid")} {
		if !strings.Contains(conf, want) {
			t.Errorf("nginx.conf lacks %q", want)
		}
	}
	if strings.Contains(conf, "oauth2proxy") || strings.Contains(conf, "127.0.0.1:12") {
		t.Error("nginx.conf has the peer's server though no peer was given")
	}
}
