package main

import (
	"encoding/base64"
	"math"
	"strings"
	"testing"
	"time"
)

// wrkOutput is wrk 4.1's report followed by the BENCH_* lines of wrkScript.
const wrkOutput = `Running 5s test @ http://127.0.0.1:40000/api/whoami
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     3.10ms    1.20ms  40.00ms   90.00%
    Req/Sec    20.00k     1.00k   22.00k    70.00%
  100000 requests in 5.00s, 20.00MB read
  Non-2xx or 3xx responses: 7
Requests/sec:  20000.00
Transfer/sec:      4.00MB
BENCH_SUMMARY 100000 5000000 0 2 0 1 7
BENCH_LATENCY 2900 4100 9000 40000
`

func TestParseWrk(t *testing.T) {
	r, err := parseWrk(wrkOutput, 200, false)
	if err != nil {
		t.Fatal(err)
	}
	if r.requests != 100000 || r.duration != 5*time.Second || math.Abs(r.rps-20000) > 0.01 {
		t.Errorf("requests %d duration %s rps %f", r.requests, r.duration, r.rps)
	}
	if r.p50 != 2900*time.Microsecond || r.p90 != 4100*time.Microsecond || r.p99 != 9*time.Millisecond || r.max != 40*time.Millisecond {
		t.Errorf("latencies %s %s %s %s", r.p50, r.p90, r.p99, r.max)
	}
	// 3 socket errors (read 2 + timeout 1) and 7 non-2xx answers.
	if r.errors != 10 || r.statuses[0] != 3 || r.statuses[200] != 99993 || r.statuses[-1] != 7 {
		t.Errorf("errors %d statuses %v", r.errors, r.statuses)
	}
	if got := statusText(r.statuses); got != "non-2xx/3xx×7 socket-error×3 200×99993" {
		t.Errorf("statusText %q", got)
	}
}

func TestParseWrkCountedStatuses(t *testing.T) {
	out := "BENCH_SUMMARY 10 1000000 0 0 0 0 10\nBENCH_LATENCY 1 2 3 4\nBENCH_STATUS 401 6\nBENCH_STATUS 401 3\nBENCH_STATUS 500 1\n"
	r, err := parseWrk(out, 401, true)
	if err != nil {
		t.Fatal(err)
	}
	if r.statuses[401] != 9 || r.errors != 1 {
		t.Errorf("statuses %v errors %d, want 401×9 and 1 error (the 500)", r.statuses, r.errors)
	}
	if _, err := parseWrk("Requests/sec: 1\n", 200, false); err == nil {
		t.Error("output without BENCH lines parsed")
	}
}

func TestWrkScriptCountsOnlyWhenAsked(t *testing.T) {
	if s := wrkScript(false); strings.Contains(s, "function response") {
		t.Error("response() makes wrk parse every answer; it must be defined only to count statuses")
	}
	if s := wrkScript(true); !strings.Contains(s, "function response") || !strings.Contains(s, `t:get("counts")`) {
		t.Error("status counting script lacks response() or the per-thread totals")
	}
}

func TestParseStatCPU(t *testing.T) {
	// The command name may hold spaces and parentheses.
	line := "4242 (gate way) (x)) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 50 0 0 20 0 8 0 100 0 0"
	d, err := parseStatCPU([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	if d != 3*time.Second { // (250 + 50) ticks at 100 Hz
		t.Errorf("cpu %s, want 3s", d)
	}
	if _, err := parseStatCPU([]byte("garbage")); err == nil {
		t.Error("malformed stat parsed")
	}
}

func TestListeningAddr(t *testing.T) {
	for line, want := range map[string]string{
		`{"time":"x","level":"INFO","msg":"listening","addr":"127.0.0.1:4000","mode":"production"}`: "127.0.0.1:4000",
		`{"msg":"request","path":"/listening","addr":"x"}`:                                          "",
		`not json "listening"`: "",
	} {
		got, ok := listeningAddr([]byte(line))
		if got != want || ok != (want != "") {
			t.Errorf("%s: got %q %t", line, got, ok)
		}
	}
}

func TestForgeKeepsShapeChangesSignature(t *testing.T) {
	sig := base64.RawURLEncoding.EncodeToString([]byte("a real signature of some length"))
	tok := "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0." + sig
	f := forge(tok)
	i := strings.LastIndexByte(f, '.')
	if f[:i] != tok[:strings.LastIndexByte(tok, '.')] || f == tok {
		t.Fatalf("forge(%q) = %q", tok, f)
	}
	if _, err := base64.RawURLEncoding.DecodeString(f[i+1:]); err != nil {
		t.Errorf("forged signature is not base64url: %v", err)
	}
}

func TestCleanEnv(t *testing.T) {
	got := cleanEnv([]string{"PATH=/bin", "AUTHGATE_LISTEN=:1", "MONGODB_URI=x", "REDIS_URL=y", "REDIS_URLS=z", "HOME=/root", "ACCESS_TOKEN_PRIVATE_KEY=k"})
	if strings.Join(got, " ") != "PATH=/bin REDIS_URLS=z HOME=/root" {
		t.Errorf("cleanEnv = %v", got)
	}
}

func TestProcStat(t *testing.T) {
	busy, steal := parseProcStat([]byte("cpu  100 20 30 1000 5 6 7 8 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n"))
	if busy != (100+20+30)*10*time.Millisecond || steal != 80*time.Millisecond {
		t.Errorf("busy %s steal %s", busy, steal)
	}
	self := parseSelfCPU([]byte("7 (bench) S 1 7 7 0 -1 0 0 0 0 0 10 20 30 40 20 0 1 0"))
	if self != 100*10*time.Millisecond {
		t.Errorf("self %s", self)
	}
	a := machine{at: time.Unix(0, 0), busy: 0, own: 0}
	b := machine{at: time.Unix(10, 0), busy: 12 * time.Second, own: 8 * time.Second, steal: time.Second}
	if o, s := foreign(a, b, 2); math.Abs(o-0.2) > 1e-9 || math.Abs(s-0.05) > 1e-9 {
		t.Errorf("foreign = %v, %v; want 0.2, 0.05", o, s)
	}
}
