package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"time"
)

// idle is a gateway's memory before any load.
type idle struct {
	rssKB, hwmKB int64
}

// up starts Redis, upstream-demo, the plain proxy and the four gateways.
func (st *stack) up(ctx context.Context) error {
	if err := st.startRedis(ctx); err != nil {
		return err
	}
	st.keys = map[string]keyPair{}
	for _, alg := range []string{algRS256, algEdDSA} {
		kp, err := newKeyPair(st.dir, alg)
		if err != nil {
			return err
		}
		st.keys[alg] = kp
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	st.ferretAddr = "127.0.0.1:" + strconv.Itoa(port)
	st.mongoDB = "authgate_bench"
	st.mongoURI, st.mongoNote = "mongodb://"+st.ferretAddr+"/",
		"FerretDB embedded in the first gateway (SQLite), used by the others as an external mongodb.uri"
	if u := os.Getenv("MONGODB_URI"); u != "" {
		st.mongoURI, st.mongoDB = u, "authgate_bench_"+st.runID
		st.mongoNote = "MONGODB_URI, database " + st.mongoDB + " (dropped afterwards)"
	}

	st.upstream, err = st.ps.start(ctx, spec{name: "upstream-demo", bin: st.bins.upstream, dir: st.dir, waitListening: true,
		args: []string{"--listen", "127.0.0.1:0", "--mongodb-uri", st.mongoURI, "--mongodb-database", st.mongoDB}})
	if err != nil {
		return err
	}
	st.plain, err = st.ps.start(ctx, spec{name: "plainproxy", bin: st.bins.plainproxy, dir: st.dir, waitListening: true,
		args: []string{"-listen", "127.0.0.1:0", "-upstream", "http://" + st.upstream.addr}})
	if err != nil {
		return err
	}
	progress("   upstream-demo %s, plainproxy %s", st.upstream.addr, st.plain.addr)

	st.gwEmbedded, err = st.startGateway(ctx, gwSpec{name: "embedded", embedded: true})
	if err != nil {
		return err
	}
	for _, g := range []struct {
		dst  **proc
		spec gwSpec
	}{
		{&st.gwRS, gwSpec{name: "rs256", alg: algRS256}},
		{&st.gwEd, gwSpec{name: "eddsa", alg: algEdDSA}},
		{&st.gwTTL, gwSpec{name: "ttl1s", alg: algRS256, extra: map[string]string{
			"AUTHGATE_TOKENS__ACCESS_TTL": "1s", "AUTHGATE_TOKENS__LEEWAY": "0s",
		}}},
	} {
		if *g.dst, err = st.startGateway(ctx, g.spec); err != nil {
			return err
		}
	}
	progress("   gateways: embedded FerretDB %s (mongo %s), rs256 %s, eddsa %s, ttl1s %s",
		st.gwEmbedded.addr, st.ferretAddr, st.gwRS.addr, st.gwEd.addr, st.gwTTL.addr)
	return nil
}

// idleRSS waits settle after start, touches /healthz once and reads the RSS of p.
func idleRSS(ctx context.Context, p *proc, settle time.Duration) (idle, error) {
	select {
	case <-time.After(settle):
	case <-ctx.Done():
		return idle{}, ctx.Err()
	}
	a, err := do(ctx, httpClient(1), http.MethodGet, "http://"+p.addr+"/healthz", nil, nil)
	if err != nil {
		return idle{}, err
	}
	if a.status != http.StatusOK {
		return idle{}, fmt.Errorf("%s /healthz: %d", p.name, a.status)
	}
	rss, err := statusKB(p.pid(), "VmRSS")
	if err != nil {
		return idle{}, err
	}
	hwm, err := statusKB(p.pid(), "VmHWM")
	if err != nil {
		return idle{}, err
	}
	return idle{rssKB: rss, hwmKB: hwm}, nil
}
