package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
)

// creds are the tokens the scenarios send.
type creds struct {
	access  string // valid access token of a signed-in user on the RS256 gateway
	expired string // access token of the TTL gateway, past its 1 s lifetime
	forged  string // access's header and claims with a signature nobody made
}

func bearer(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }

func get(url string, h http.Header, expect int) target {
	return target{url: url, header: h, expect: expect}
}

// layout lays out every fixed-concurrency/fixed-rate comparison of the suite.
func (s *suite) layout(c creds) []*group {
	st := s.st
	gw, up, plain := "http://"+st.gwRS.addr, "http://"+st.upstream.addr, "http://"+st.plain.addr
	const path = "/api/whoami"
	ngx := func(addr string) string { return "http://" + addr + path }

	proxied := &group{key: "proxied", title: "Authenticated proxied GET (gateway vs plain proxy, nginx, direct, peer)",
		baseline: &variant{key: "plain-proxy", what: "bench/plainproxy (Echo v4 + httputil.ReverseProxy, no auth) → upstream-demo",
			t: get(plain+path, nil, 200), sut: []*proc{st.plain}, sutName: "plainproxy"}}
	proxied.variants = []*variant{
		{key: "direct", what: "upstream-demo itself, no proxy", t: get(up+path, nil, 200), sut: []*proc{st.upstream}, sutName: "upstream-demo"},
		s.nginxVariant("nginx-proxy", "nginx → upstream-demo (keep-alive upstream), no auth: the ceiling", ngx(s.site.ProxyAddr), nil, 200),
		{key: "gateway-bearer", what: "authgate → upstream-demo, access token as Authorization: Bearer",
			t: get(gw+path, bearer(c.access), 200), sut: []*proc{st.gwRS}, sutName: "gateway"},
		{key: "gateway-cookie", what: "authgate → upstream-demo, access token as the access_token cookie",
			t: get(gw+path, http.Header{"Cookie": {"access_token=" + c.access}}, 200), sut: []*proc{st.gwRS}, sutName: "gateway"},
		s.peerVariant("peer-proxy", "oauth2-proxy (proxy mode, Redis sessions) → upstream-demo", "http://"+s.peerAddr()+path, nil),
	}

	healthz := &variant{key: "gateway-healthz", what: "authgate's own GET /healthz (no auth, no upstream)",
		t: get(gw+"/healthz", nil, 200), sut: []*proc{st.gwRS}, sutName: "gateway"}
	orig := "http://" + st.gwRS.addr + path
	fwd := &group{key: "forward-auth", title: "Forward-auth endpoints alone (vs the gateway's /healthz)", baseline: healthz}
	fwd.variants = []*variant{
		{key: "auth-request", what: "GET /api/authz/auth-request (nginx auth_request: X-Original-URL/-Method)",
			t:   get(gw+"/api/authz/auth-request", withHeaders(bearer(c.access), "X-Original-URL", orig, "X-Original-Method", "GET"), 200),
			sut: []*proc{st.gwRS}, sutName: "gateway"},
		{key: "forward-auth", what: "GET /api/authz/forward-auth (Traefik/Caddy: X-Forwarded-Method/-Proto/-Host/-Uri)",
			t: get(gw+"/api/authz/forward-auth", withHeaders(bearer(c.access), "X-Forwarded-Method", "GET",
				"X-Forwarded-Proto", "http", "X-Forwarded-Host", st.gwRS.addr, "X-Forwarded-Uri", path), 200),
			sut: []*proc{st.gwRS}, sutName: "gateway"},
	}

	authReq := &group{key: "nginx-auth-request", title: "nginx auth_request in front of upstream-demo (vs nginx alone)",
		baseline: s.nginxVariant("nginx-proxy", "nginx → upstream-demo, no auth", ngx(s.site.ProxyAddr), nil, 200)}
	ag := s.nginxVariant("nginx+authgate", "nginx auth_request → authgate /api/authz/auth-request, then → upstream-demo",
		ngx(s.site.GatewayAddr), bearer(c.access), 200)
	ag.sut, ag.sutName = append(ag.sut, st.gwRS), "nginx + gateway"
	op := s.peerVariant("nginx+oauth2-proxy", "nginx auth_request → oauth2-proxy /oauth2/auth, then → upstream-demo",
		ngx(s.site.PeerAddr), nil)
	if s.nginx == nil && op.skip == "" {
		op.skip = s.nginxNote
	}
	if s.nginx != nil {
		op.sut, op.sutName = append(op.sut, s.nginx), "nginx + oauth2-proxy"
	}
	authReq.variants = []*variant{ag, op}
	if s.nginx == nil {
		authReq.skip = s.nginxNote
	}

	ttl := "http://" + st.gwTTL.addr
	rejected := &group{key: "rejected", title: "Rejected requests: saying no (vs the same gateway's /healthz)",
		baseline: &variant{key: "ttl-gateway-healthz", what: "GET /healthz of the gateway with access_ttl 1s",
			t: get(ttl+"/healthz", nil, 200), sut: []*proc{st.gwTTL}, sutName: "gateway"}}
	rejected.variants = []*variant{
		{key: "rejected-missing", what: "no token: 401 You are not logged in", t: get(ttl+path, nil, 401), sut: []*proc{st.gwTTL}, sutName: "gateway"},
		{key: "rejected-invalid", what: "a well-formed JWT with a forged signature: 401",
			t: get(ttl+path, bearer(c.forged), 401), sut: []*proc{st.gwTTL}, sutName: "gateway"},
		{key: "rejected-expired", what: "a validly signed access token past its exp (ttl 1s, leeway 0): 401",
			t: get(ttl+path, bearer(c.expired), 401), sut: []*proc{st.gwTTL}, sutName: "gateway"},
	}
	return []*group{proxied, fwd, authReq, rejected}
}

func withHeaders(h http.Header, kv ...string) http.Header {
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

// nginxVariant is a scenario served by nginx; skipped when nginx is not there.
func (s *suite) nginxVariant(key, what, url string, h http.Header, expect int) *variant {
	v := &variant{key: key, what: what, t: get(url, h, expect), sutName: "nginx"}
	if s.nginx == nil {
		v.skip = s.nginxNote
	} else {
		v.sut = []*proc{s.nginx}
	}
	return v
}

// peerVariant is a scenario with oauth2-proxy's session cookie; skipped without the peer.
func (s *suite) peerVariant(key, what, url string, h http.Header) *variant {
	v := &variant{key: key, what: what, sutName: "oauth2-proxy"}
	if s.peer == nil {
		v.skip = s.peerNote
		return v
	}
	if h == nil {
		h = http.Header{}
	}
	h.Set("Cookie", s.peer.cookie)
	v.t, v.sut = get(url, h, 200), []*proc{s.peer.p}
	return v
}

func (s *suite) peerAddr() string {
	if s.peer == nil {
		return "127.0.0.1:0"
	}
	return s.peer.addr
}

// probe sends one request of each scenario and skips those that do not answer as
// expected; an endpoint that answers 404 is one that does not exist (yet).
func probe(ctx context.Context, gs []*group) {
	hc := httpClient(2)
	for _, g := range gs {
		if g.skip != "" {
			continue
		}
		for _, v := range append([]*variant{g.baseline}, g.variants...) {
			if v.skip != "" {
				continue
			}
			a, err := do(ctx, hc, http.MethodGet, v.t.url, v.t.header.Clone(), nil)
			switch {
			case err != nil:
				v.skip = "skipped: probe failed: " + err.Error()
			case a.status == http.StatusNotFound && v.t.expect != http.StatusNotFound:
				v.skip = "skipped: endpoint not available (404)"
			case a.status != v.t.expect:
				v.skip = fmt.Sprintf("skipped: probe answered %d, want %d: %s", a.status, v.t.expect,
					strings.TrimSpace(string(a.body)))
			}
			if v == g.baseline && v.skip != "" {
				g.skip = "baseline " + v.key + " " + v.skip
			}
		}
	}
}

// find returns the variant with key in gs (nil if none).
func find(gs []*group, key string) *variant {
	for _, g := range gs {
		for _, v := range append([]*variant{g.baseline}, g.variants...) {
			if v.key == key {
				return v
			}
		}
	}
	return nil
}

// linkSkips carries the forward-auth endpoint's absence over to the nginx deployment
// that needs it (nginx itself would answer 500 for the missing subrequest).
func linkSkips(gs []*group) {
	ar, ng := find(gs, "auth-request"), find(gs, "nginx+authgate")
	if ar != nil && ng != nil && ar.skip != "" {
		ng.skip = ar.skip + " (authgate's /api/authz/auth-request, which nginx auth_request calls)"
	}
}
