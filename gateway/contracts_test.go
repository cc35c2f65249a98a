package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"go.yaml.in/yaml/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/authgate/authgate/gateway/internal/forwardauth"
)

// Traefik and Envoy are not packaged here, so their contracts are tested by sending
// the running gateway exactly the requests their documentation describes, shaped by
// the example files themselves (configs/traefik/dynamic.yml, configs/envoy/*.yaml):
// Traefik forwardAuth (X-Forwarded-Method, -Proto, -Host, -Uri, -For and the client's
// headers; authResponseHeaders and addAuthCookiesToResponse applied to the answer),
// Envoy's HTTP ext_authz (path_prefix + the original path, the original method and
// Host, the allowed headers; allowed_upstream_headers and
// x-envoy-auth-headers-to-remove applied) and the gRPC Check (a real gRPC client,
// go-control-plane's CheckRequest as Envoy fills it).
//
// The gateway trusts 127.0.0.2 only: a "trusted" proxy dials from 127.0.0.2, an
// untrusted one from 127.0.0.1 (Linux routes all of 127/8 to lo).

const (
	trustedSource   = "127.0.0.2"
	untrustedSource = "127.0.0.1"
	clientIP        = "192.0.2.10" // the original client, as a proxy reports it
)

// yamlFile decodes configs/<dir>/<name>.
func yamlFile(t *testing.T, dir, name string) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(repoFile("configs", dir, name))
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := yaml.Unmarshal(raw, &out); err != nil {
		t.Fatalf("configs/%s/%s: %v", dir, name, err)
	}
	return out
}

// dig follows keys through nested maps; nil when a key is missing.
func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// findKey returns the first value under key anywhere in v (depth first).
func findKey(v any, key string) any {
	switch x := v.(type) {
	case map[string]any:
		if got, ok := x[key]; ok {
			return got
		}
		for _, child := range x {
			if got := findKey(child, key); got != nil {
				return got
			}
		}
	case []any:
		for _, child := range x {
			if got := findKey(child, key); got != nil {
				return got
			}
		}
	}
	return nil
}

func stringList(t *testing.T, v any, what string) []string {
	t.Helper()
	list, ok := v.([]any)
	if !ok || len(list) == 0 {
		t.Fatalf("%s: not a list: %v", what, v)
	}
	out := make([]string, len(list))
	for i, x := range list {
		out[i] = fmt.Sprint(x)
	}
	return out
}

// envoyPatterns is an Envoy StringMatcher list (exact / prefix), matched on lower-case
// header names as Envoy does.
type envoyPatterns []map[string]any

func patternsAt(t *testing.T, v any, what string) envoyPatterns {
	t.Helper()
	list, ok := dig(v, "patterns").([]any)
	if !ok || len(list) == 0 {
		t.Fatalf("%s: no patterns in %v", what, v)
	}
	var out envoyPatterns
	for _, p := range list {
		out = append(out, p.(map[string]any))
	}
	return out
}

func (ps envoyPatterns) match(name string) bool {
	name = strings.ToLower(name)
	for _, p := range ps {
		if e, ok := p["exact"].(string); ok && name == e {
			return true
		}
		if pre, ok := p["prefix"].(string); ok && strings.HasPrefix(name, pre) {
			return true
		}
	}
	return false
}

// sourceClient is an HTTP client whose connections come from the loopback address src.
func sourceClient(t *testing.T, src string) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	tr := &http.Transport{DialContext: d.DialContext}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// contractStack is the gateway on configs/envoy/gateway.yaml (the forward-auth keys of
// every example plus grpc_listen), trusting 127.0.0.2.
type contractStack struct {
	base, grpc string
	signIn     string // the sign-in URL browsers are sent to
	// credentials: the headers each identity's requests carry
	aliceID, adminID string
	cred             map[string][]string
}

func startContractStack(t *testing.T) *contractStack {
	t.Helper()
	db := fmt.Sprintf("contract_%d", time.Now().UnixNano())
	env := gatewayEnv(t, db)
	env["AUTHGATE_TRUSTED_PROXIES"] = trustedSource
	env["AUTHGATE_AUTHZ__GRPC_LISTEN"] = "127.0.0.1:0"
	env["AUTHGATE_BOOTSTRAP__ADMIN_EMAIL"] = proxyAdminEmail
	env["AUTHGATE_BOOTSTRAP__ADMIN_PASSWORD"] = proxyAdminPassword
	base, grpcAddr := gatewayOn(t, "envoy", map[string]string{"PUBLIC_SCHEME": "https", "PUBLIC_PORT": ""}, env)
	if grpcAddr == "" {
		t.Fatal("no gRPC listener")
	}
	s := &contractStack{base: base, grpc: grpcAddr, signIn: "https://auth.example.com/login", cred: map[string][]string{}}
	c := newClient(t, base)
	r := c.do("POST", "/api/auth/register", map[string]string{"name": "Alice", "email": "alice@example.com",
		"password": "alice-password", "passwordConfirm": "alice-password"})
	expect(t, r, 201, "")
	s.aliceID = r.Body["data"].(map[string]any)["user"].(map[string]any)["id"].(string)
	login := func(email, password string) map[string]*http.Cookie {
		r := newClient(t, base).do("POST", "/api/auth/login", map[string]string{"email": email, "password": password})
		expect(t, r, 200, "")
		return setCookies(t, r) // Domain=example.com: a jar for 127.0.0.1 would drop them
	}
	alice := login("alice@example.com", "alice-password")
	s.cred["alice"] = []string{"access_token=" + alice["access_token"].Value}
	s.cred["alice-refresh"] = []string{"refresh_token=" + alice["refresh_token"].Value}
	admin := login(proxyAdminEmail, proxyAdminPassword)
	tok := admin["access_token"].Value
	me := newClient(t, base).do("GET", "/api/auth/me", nil, "Authorization", "Bearer "+tok)
	expect(t, me, 200, "")
	s.adminID = me.Body["data"].(map[string]any)["user"].(map[string]any)["id"].(string)
	s.cred["admin"] = []string{"Bearer " + tok}
	return s
}

// original is the client's request a proxy asks about.
type originalRequest struct {
	method, url string
	header      http.Header
}

// credHeaders adds identity cred's credential to h ("" none).
func (s *contractStack) credHeaders(h http.Header, cred string) {
	switch cred {
	case "":
	case "admin":
		h.Set("Authorization", s.cred["admin"][0])
	case "garbage":
		h.Set("Authorization", "Bearer garbage")
	default:
		h.Set("Cookie", s.cred[cred][0])
	}
}

// verdict is what a proxy does with the gateway's answer, the same shape for every
// adapter: the status the client gets (200: the request went to the app), the
// identity the app sees, what the client was told.
type verdict struct {
	status   int
	code     string              // X-Authgate-Error of a refusal
	location string              // a redirect's target
	upstream http.Header         // the headers the app receives (status 200)
	cookies  map[string]bool     // cookies set on the client's response
	raw      map[string][]string // the gateway's answer headers, for messages
}

// proxyContract is one proxy's way of asking the gateway.
type proxyContract interface {
	ask(t *testing.T, src string, o originalRequest) verdict
}

// --- Traefik forwardAuth ---

type traefikContract struct {
	s            *contractStack
	address      string
	respHeaders  []string
	authCookies  []string
	trustForward bool
	mutate       func(h http.Header) // malformed-header cases change the check here
}

func newTraefik(t *testing.T, s *contractStack) *traefikContract {
	cfg := yamlFile(t, "traefik", "dynamic.yml")
	fa := dig(cfg, "http", "middlewares", "authgate", "forwardAuth")
	if fa == nil {
		t.Fatal("configs/traefik/dynamic.yml: no http.middlewares.authgate.forwardAuth")
	}
	addr, err := url.Parse(fmt.Sprint(dig(fa, "address")))
	if err != nil || addr.Path != "/api/authz/forward-auth" {
		t.Fatalf("forwardAuth.address %v", dig(fa, "address"))
	}
	trust, _ := dig(fa, "trustForwardHeader").(bool)
	return &traefikContract{
		s: s, address: s.base + addr.Path, trustForward: trust,
		respHeaders: stringList(t, dig(fa, "authResponseHeaders"), "authResponseHeaders"),
		authCookies: stringList(t, dig(fa, "addAuthCookiesToResponse"), "addAuthCookiesToResponse"),
	}
}

var hopHeaders = []string{"Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

func (tr *traefikContract) ask(t *testing.T, src string, o originalRequest) verdict {
	t.Helper()
	u := mustParse(t, o.url)
	req, _ := http.NewRequest(http.MethodGet, tr.address, nil)
	// Traefik: every client header (less hop-by-hop ones), then the X-Forwarded-* set
	// describing the request it received (trustForwardHeader false).
	for k, vs := range o.header {
		req.Header[k] = append([]string(nil), vs...)
	}
	for _, h := range hopHeaders {
		req.Header.Del(h)
	}
	req.Header.Set("X-Forwarded-For", clientIP)
	req.Header.Set("X-Forwarded-Method", o.method)
	req.Header.Set("X-Forwarded-Proto", u.Scheme)
	req.Header.Set("X-Forwarded-Host", u.Host)
	req.Header.Set("X-Forwarded-Uri", u.RequestURI())
	if tr.mutate != nil {
		tr.mutate(req.Header)
	}
	res, err := sourceClient(t, src).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, res.Body)
	v := verdict{status: res.StatusCode, raw: res.Header, cookies: map[string]bool{}}
	if res.StatusCode < 200 || res.StatusCode > 299 {
		v.code, v.location = res.Header.Get("X-Authgate-Error"), res.Header.Get("Location")
		return v
	}
	v.status = 200
	up := o.header.Clone()
	for _, name := range tr.respHeaders { // replace the client's copies, absent ones removed
		k := http.CanonicalHeaderKey(name)
		up.Del(k)
		if vs := res.Header[k]; len(vs) > 0 {
			up[k] = append([]string(nil), vs...)
		}
	}
	v.upstream = up
	for _, line := range res.Header.Values("Set-Cookie") {
		ck, err := http.ParseSetCookie(line)
		if err != nil {
			t.Fatalf("Set-Cookie %q: %v", line, err)
		}
		for _, name := range tr.authCookies {
			if ck.Name == name {
				v.cookies[ck.Name] = true
			}
		}
	}
	return v
}

// --- Envoy HTTP ext_authz ---

type envoyHTTPContract struct {
	s                  *contractStack
	prefix             string
	allowed            envoyPatterns // authorization_request.allowed_headers
	upstream           envoyPatterns // authorization_response.allowed_upstream_headers
	clientOnSuccess    envoyPatterns // authorization_response.allowed_client_headers_on_success
	pathOverride, host string        // malformed cases
	mutate             func(h http.Header)
}

func newEnvoyHTTP(t *testing.T, s *contractStack) *envoyHTTPContract {
	cfg := yamlFile(t, "envoy", "envoy.yaml")
	hs := findKey(cfg, "http_service")
	if hs == nil {
		t.Fatal("configs/envoy/envoy.yaml: no http_service")
	}
	if uri := fmt.Sprint(dig(hs, "server_uri", "uri")); !strings.HasPrefix(uri, "http://") {
		t.Fatalf("server_uri.uri %q", uri)
	}
	if fmt.Sprint(findKey(cfg, "failure_mode_allow")) != "false" {
		t.Fatal("envoy.yaml: failure_mode_allow must be false")
	}
	prefix := fmt.Sprint(dig(hs, "path_prefix"))
	if prefix != forwardauth.ExtAuthzPrefix {
		t.Fatalf("path_prefix %q, the gateway serves %q", prefix, forwardauth.ExtAuthzPrefix)
	}
	return &envoyHTTPContract{
		s: s, prefix: prefix,
		allowed:         patternsAt(t, dig(hs, "authorization_request", "allowed_headers"), "allowed_headers"),
		upstream:        patternsAt(t, dig(hs, "authorization_response", "allowed_upstream_headers"), "allowed_upstream_headers"),
		clientOnSuccess: patternsAt(t, dig(hs, "authorization_response", "allowed_client_headers_on_success"), "allowed_client_headers_on_success"),
	}
}

func (e *envoyHTTPContract) ask(t *testing.T, src string, o originalRequest) verdict {
	t.Helper()
	u := mustParse(t, o.url)
	path := e.prefix + u.RequestURI()
	if e.pathOverride != "" {
		path = e.pathOverride
	}
	req, err := http.NewRequest(o.method, e.s.base+path, http.NoBody)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = u.Host
	if e.host != "" {
		req.Host = e.host
	}
	// Envoy: the allowed client headers (Authorization always), and the
	// x-forwarded-proto its connection manager set.
	for k, vs := range o.header {
		if e.allowed.match(k) || strings.EqualFold(k, "Authorization") {
			req.Header[k] = append([]string(nil), vs...)
		}
	}
	req.Header.Set("X-Forwarded-Proto", u.Scheme)
	req.ContentLength = 0
	if e.mutate != nil {
		e.mutate(req.Header)
	}
	res, err := sourceClient(t, src).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, res.Body)
	v := verdict{status: res.StatusCode, raw: res.Header, cookies: map[string]bool{}}
	if res.StatusCode != http.StatusOK { // Envoy: only 200 is OK
		v.code, v.location = res.Header.Get("X-Authgate-Error"), res.Header.Get("Location")
		return v
	}
	up := o.header.Clone()
	for k, vs := range res.Header {
		if e.upstream.match(k) {
			up[k] = append([]string(nil), vs...)
		}
	}
	for _, name := range strings.Split(res.Header.Get(forwardauth.HeaderEnvoyRemove), ",") {
		if name = strings.TrimSpace(name); name != "" {
			if res.Header.Get(name) != "" {
				t.Fatalf("%s is set and removed: Envoy removes after setting, the app would not see it", name)
			}
			up.Del(name)
		}
	}
	v.upstream = up
	if e.clientOnSuccess.match("set-cookie") {
		for _, line := range res.Header.Values("Set-Cookie") {
			if ck, err := http.ParseSetCookie(line); err == nil {
				v.cookies[ck.Name] = true
			}
		}
	}
	return v
}

// --- Envoy gRPC ext_authz ---

type envoyGRPCContract struct {
	s       *contractStack
	allowed envoyPatterns
	clients map[string]authv3.AuthorizationClient
	shape   func(*authv3.CheckRequest) // malformed cases
}

func newEnvoyGRPC(t *testing.T, s *contractStack) *envoyGRPCContract {
	cfg := yamlFile(t, "envoy", "envoy-grpc.yaml")
	if findKey(cfg, "grpc_service") == nil {
		t.Fatal("configs/envoy/envoy-grpc.yaml: no grpc_service")
	}
	if fmt.Sprint(findKey(cfg, "failure_mode_allow")) != "false" {
		t.Fatal("envoy-grpc.yaml: failure_mode_allow must be false")
	}
	ea := findKey(cfg, "typed_config") // the HCM; the filter's allowed_headers are below it
	g := &envoyGRPCContract{s: s, allowed: patternsAt(t, findKey(ea, "allowed_headers"), "allowed_headers"),
		clients: map[string]authv3.AuthorizationClient{}}
	for _, src := range []string{trustedSource, untrustedSource} {
		d := &net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
		conn, err := grpc.NewClient("passthrough:///"+s.grpc,
			grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
				return d.DialContext(ctx, "tcp", addr)
			}))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = conn.Close() })
		g.clients[src] = authv3.NewAuthorizationClient(conn)
	}
	return g
}

// checkRequest is the CheckRequest Envoy sends for o: attributes.request.http with
// method, host, path, scheme, protocol and the allowed headers (lower-case keys, the
// pseudo-headers too); source and destination addresses.
func (g *envoyGRPCContract) checkRequest(o originalRequest) *authv3.CheckRequest {
	u, _ := url.Parse(o.url)
	headers := map[string]string{
		":authority": u.Host, ":method": o.method, ":path": u.RequestURI(), ":scheme": u.Scheme,
		"x-forwarded-proto": u.Scheme, "x-request-id": "6f1e2d3c-0000-4000-8000-000000000001",
	}
	for k, vs := range o.header {
		if g.allowed.match(k) {
			headers[strings.ToLower(k)] = strings.Join(vs, ",")
		}
	}
	addr := func(ip string, port uint32) *corev3.Address {
		return &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
			Address: ip, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: port}}}}
	}
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source:      &authv3.AttributeContext_Peer{Address: addr(clientIP, 51234)},
		Destination: &authv3.AttributeContext_Peer{Address: addr("127.0.0.1", 8080)},
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Id: "6f1e2d3c-0000-4000-8000-000000000001", Method: o.method, Headers: headers,
			Path: u.RequestURI(), Host: u.Host, Scheme: u.Scheme, Protocol: "HTTP/1.1",
		}},
	}}
}

func (g *envoyGRPCContract) ask(t *testing.T, src string, o originalRequest) verdict {
	t.Helper()
	req := g.checkRequest(o)
	if g.shape != nil {
		g.shape(req)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := g.clients[src].Check(ctx, req)
	if err != nil {
		t.Fatalf("Check: %v (a gRPC error would let failure_mode_allow decide)", err)
	}
	raw := http.Header{}
	v := verdict{raw: raw, cookies: map[string]bool{}}
	switch hr := res.GetHttpResponse().(type) {
	case *authv3.CheckResponse_OkResponse:
		if codes.Code(res.GetStatus().GetCode()) != codes.OK {
			t.Fatalf("OkResponse with status %v", res.GetStatus())
		}
		v.status = 200
		up := o.header.Clone()
		for _, h := range hr.OkResponse.GetHeaders() { // Envoy: set, then remove
			k := h.GetHeader().GetKey()
			raw.Add(k, h.GetHeader().GetValue())
			if h.GetAppendAction() != corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD {
				t.Fatalf("identity header %s appended to the client's copy (action %v)", k, h.GetAppendAction())
			}
			up.Set(k, h.GetHeader().GetValue())
		}
		for _, name := range hr.OkResponse.GetHeadersToRemove() {
			if raw.Get(name) != "" {
				t.Fatalf("%s is set and removed: Envoy removes after setting, the app would not see it", name)
			}
			up.Del(name)
		}
		v.upstream = up
		for _, h := range hr.OkResponse.GetResponseHeadersToAdd() {
			if strings.EqualFold(h.GetHeader().GetKey(), "set-cookie") {
				if ck, err := http.ParseSetCookie(h.GetHeader().GetValue()); err == nil {
					v.cookies[ck.Name] = true
				}
			}
		}
	case *authv3.CheckResponse_DeniedResponse:
		d := hr.DeniedResponse
		v.status = int(d.GetStatus().GetCode())
		for _, h := range d.GetHeaders() {
			raw.Add(h.GetHeader().GetKey(), h.GetHeader().GetValue())
		}
		v.code, v.location = raw.Get("X-Authgate-Error"), raw.Get("Location")
		want := codes.PermissionDenied
		if v.status == 401 || v.status == 302 {
			want = codes.Unauthenticated
		}
		if c := codes.Code(res.GetStatus().GetCode()); c != want {
			t.Errorf("denial %d with gRPC status %v, want %v", v.status, c, want)
		}
		if v.status != 302 && !strings.Contains(d.GetBody(), `"status":"fail"`) && !strings.Contains(d.GetBody(), `"status":"error"`) {
			t.Errorf("denial body %q", d.GetBody())
		}
	default:
		t.Fatalf("CheckResponse without an HTTP answer: %v", res)
	}
	return v
}

// --- the table ---

// expectation is what every adapter must answer for one original request.
type expectation struct {
	status   int
	code     string
	user     string // X-User-Id the app sees; "" none
	role     string
	location string
}

// decide is the expected decision for the route table of the example gateway.yaml.
func (s *contractStack) decide(o originalRequest, cred string, browser bool) expectation {
	u, _ := url.Parse(o.url)
	id, role := map[string]string{"alice": s.aliceID, "alice-refresh": s.aliceID, "admin": s.adminID}[cred],
		map[string]string{"alice": "user", "alice-refresh": "user", "admin": "admin"}[cred]
	if cred == "alice-refresh" && !browser {
		id = "" // only a page load may be proved by the refresh cookie
	}
	signIn := expectation{status: 401, code: "not_logged_in"}
	if cred == "garbage" {
		signIn.code = "invalid_token"
	}
	if browser {
		signIn = expectation{status: 302, location: forwardauth.SignInURL(s.signIn, o.url)}
	}
	switch {
	case u.Hostname() == "app.example.com" && (u.Path == "/public" || strings.HasPrefix(u.Path, "/public/")):
		return expectation{status: 200}
	case u.Hostname() == "app.example.com":
		if id == "" {
			return signIn
		}
		return expectation{status: 200, user: id, role: role}
	case u.Hostname() == "admin.example.com":
		if id == "" {
			return signIn
		}
		if role != "admin" {
			return expectation{status: 403, code: "forbidden"}
		}
		return expectation{status: 200, user: id, role: role}
	}
	return expectation{status: 403, code: "forbidden"} // no rule for the host
}

// check compares a verdict with an expectation; nginx-only rules aside, every adapter
// must agree.
func check(t *testing.T, v verdict, want expectation) {
	t.Helper()
	if v.status != want.status || (want.code != "" && v.code != want.code) || v.location != want.location {
		t.Fatalf("got %d code %q location %q\nwant %d code %q location %q\nanswer headers %v",
			v.status, v.code, v.location, want.status, want.code, want.location, v.raw)
	}
	if v.status != 200 {
		return
	}
	if got := v.upstream.Get("X-User-Id"); got != want.user || v.upstream.Get("X-User-Role") != want.role {
		t.Fatalf("app sees X-User-Id %q X-User-Role %q, want %q %q", got, v.upstream.Get("X-User-Role"), want.user, want.role)
	}
	if want.user != "" && (v.upstream.Get("Remote-User") != "alice@example.com" && v.upstream.Get("Remote-User") != proxyAdminEmail ||
		v.upstream.Get("X-Auth-Request-User") != want.user || v.upstream.Get("Remote-Groups") != want.role) {
		t.Fatalf("aliases %v", v.upstream)
	}
}

// withSpoofs is h with the client's own identity headers added.
func withSpoofs(h http.Header) http.Header {
	h = h.Clone()
	sp := spoofed()
	for i := 0; i+1 < len(sp); i += 2 {
		h[sp[i]] = []string{sp[i+1]} // as sent, not canonicalised
	}
	return h
}

// noSpoofs fails when the app would see any of the client's identity headers.
func noSpoofs(t *testing.T, v verdict) {
	t.Helper()
	if v.status != 200 {
		return
	}
	for k, vs := range v.upstream {
		for _, x := range vs {
			if strings.Contains(x, "spoofed") && !strings.Contains(k, "_") {
				t.Fatalf("the app would see the client's %s: %q", k, x)
			}
		}
	}
}

func TestForwardAuthContracts(t *testing.T) {
	s := startContractStack(t)
	adapters := []struct {
		name string
		p    proxyContract
	}{
		{"traefik", newTraefik(t, s)},
		{"envoy-http", newEnvoyHTTP(t, s)},
		{"envoy-grpc", newEnvoyGRPC(t, s)},
	}
	methods := []string{"GET", "HEAD", "POST", "DELETE", "PROPFIND"}
	urls := []string{
		"https://app.example.com/dashboard?tab=1",
		"https://app.example.com/public/readme",
		"https://admin.example.com/api/users",
		"https://other.example.com/x",
		"http://app.example.com:8080/a/b%20c",
	}
	creds := []string{"", "alice", "admin", "garbage"}

	for _, a := range adapters {
		t.Run(a.name, func(t *testing.T) {
			t.Run("methods × URLs × credentials × trusted/untrusted source", func(t *testing.T) {
				for _, m := range methods {
					for _, u := range urls {
						for _, cred := range creds {
							o := originalRequest{method: m, url: u, header: http.Header{"Accept": {"application/json"}}}
							s.credHeaders(o.header, cred)
							t.Run(fmt.Sprintf("%s %s as %q", m, u, cred), func(t *testing.T) {
								o.header = withSpoofs(o.header)
								v := a.p.ask(t, trustedSource, o)
								check(t, v, s.decide(o, cred, false))
								noSpoofs(t, v)
								check(t, a.p.ask(t, untrustedSource, o), expectation{status: 401, code: "forwarded_request"})
							})
						}
					}
				}
			})

			t.Run("browser page loads", func(t *testing.T) {
				nav := http.Header{"Accept": {"text/html,application/xhtml+xml"}, "Sec-Fetch-Mode": {"navigate"}, "Sec-Fetch-Site": {"none"}}
				for _, u := range urls {
					for _, cred := range []string{"", "alice", "alice-refresh", "garbage"} {
						o := originalRequest{method: "GET", url: u, header: nav.Clone()}
						s.credHeaders(o.header, cred)
						t.Run(fmt.Sprintf("%s as %q", u, cred), func(t *testing.T) {
							v := a.p.ask(t, trustedSource, o)
							check(t, v, s.decide(o, cred, true))
							// A page load let through on the refresh cookie renews the
							// access cookie, where the proxy passes cookies on.
							if cred == "alice-refresh" && v.status == 200 && s.decide(o, cred, true).user != "" && !v.cookies["access_token"] {
								t.Fatalf("no new access cookie passed to the browser: %v", v.raw)
							}
						})
					}
				}
			})

			t.Run("cross-site unsafe request riding a cookie", func(t *testing.T) {
				for _, m := range []string{"POST", "DELETE"} {
					o := originalRequest{method: m, url: "https://app.example.com/dashboard", header: http.Header{
						"Accept": {"application/json"}, "Origin": {"https://evil.example"}, "Sec-Fetch-Site": {"cross-site"}}}
					s.credHeaders(o.header, "alice")
					check(t, a.p.ask(t, trustedSource, o), expectation{status: 403, code: "cross_site"})
					o.header.Del("Cookie")
					s.credHeaders(o.header, "admin") // a Bearer token is no ambient credential
					check(t, a.p.ask(t, trustedSource, o), expectation{status: 200, user: s.adminID, role: "admin"})
				}
			})

			t.Run("paths the gateway refuses", func(t *testing.T) {
				for _, u := range []string{"https://app.example.com/public/..%2fadmin", "https://app.example.com/public/../dashboard",
					"https://app.example.com//dashboard", "https://app.example.com/public/%2e%2e/dashboard"} {
					o := originalRequest{method: "GET", url: u, header: http.Header{"Accept": {"application/json"}}}
					check(t, a.p.ask(t, trustedSource, o), expectation{status: 400, code: "bad_path"})
				}
			})
		})
	}

	t.Run("traefik missing or malformed headers", func(t *testing.T) {
		tr := newTraefik(t, s)
		o := originalRequest{method: "GET", url: "https://app.example.com/dashboard", header: http.Header{"Accept": {"application/json"}}}
		s.credHeaders(o.header, "alice")
		for name, mutate := range map[string]func(http.Header){
			"no X-Forwarded-Method":          func(h http.Header) { h.Del("X-Forwarded-Method") },
			"method with a space":            func(h http.Header) { h.Set("X-Forwarded-Method", "G ET") },
			"no X-Forwarded-Proto":           func(h http.Header) { h.Del("X-Forwarded-Proto") },
			"proto ftp":                      func(h http.Header) { h.Set("X-Forwarded-Proto", "ftp") },
			"no X-Forwarded-Host":            func(h http.Header) { h.Del("X-Forwarded-Host") },
			"host with a path":               func(h http.Header) { h.Set("X-Forwarded-Host", "app.example.com/x") },
			"host with user info":            func(h http.Header) { h.Set("X-Forwarded-Host", "a@app.example.com") },
			"host with a space":              func(h http.Header) { h.Set("X-Forwarded-Host", "app.example.com x") },
			"port not a number":              func(h http.Header) { h.Set("X-Forwarded-Host", "app.example.com:http") },
			"no X-Forwarded-Uri":             func(h http.Header) { h.Del("X-Forwarded-Uri") },
			"relative URI":                   func(h http.Header) { h.Set("X-Forwarded-Uri", "dashboard") },
			"absolute URI":                   func(h http.Header) { h.Set("X-Forwarded-Uri", "https://app.example.com/dashboard") },
			"URI with a fragment":            func(h http.Header) { h.Set("X-Forwarded-Uri", "/dashboard#x") },
			"URI with a tab":                 func(h http.Header) { h.Set("X-Forwarded-Uri", "/dash\tboard") },
			"no X-Forwarded-* at all":        func(h http.Header) { h.Del("X-Forwarded-Method"); h.Del("X-Forwarded-Host"); h.Del("X-Forwarded-Uri") },
			"an nginx check on this address": func(h http.Header) { h.Del("X-Forwarded-Uri"); h.Set("X-Original-URI", "/dashboard") },
		} {
			t.Run(name, func(t *testing.T) {
				tr.mutate = mutate
				check(t, tr.ask(t, trustedSource, o), expectation{status: 401, code: "forwarded_request"})
			})
		}
	})

	t.Run("envoy-http missing or malformed", func(t *testing.T) {
		e := newEnvoyHTTP(t, s)
		o := originalRequest{method: "GET", url: "https://app.example.com/dashboard", header: http.Header{"Accept": {"application/json"}}}
		s.credHeaders(o.header, "alice")
		cases := []struct {
			name       string
			path, host string
			mutate     func(http.Header)
			status     int
			code       string
		}{
			{name: "no original path", path: e.prefix, status: 401, code: "forwarded_request"},
			{name: "prefix without its slash", path: e.prefix + "dashboard", status: 404},
			{name: "proto ftp", mutate: func(h http.Header) { h.Set("X-Forwarded-Proto", "ftp") }, status: 401, code: "forwarded_request"},
			{name: "host with user info", host: "a@app.example.com", status: 401, code: "forwarded_request"},
			{name: "port not a number", host: "app.example.com:http", status: 401, code: "forwarded_request"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				e.pathOverride, e.host, e.mutate = c.path, c.host, c.mutate
				v := e.ask(t, trustedSource, o)
				if v.status != c.status || (c.code != "" && v.code != c.code) {
					t.Fatalf("got %d %q, want %d %q", v.status, v.code, c.status, c.code)
				}
			})
		}
	})

	t.Run("envoy-grpc missing or malformed", func(t *testing.T) {
		g := newEnvoyGRPC(t, s)
		o := originalRequest{method: "GET", url: "https://app.example.com/dashboard", header: http.Header{"Accept": {"application/json"}}}
		s.credHeaders(o.header, "alice")
		for name, shape := range map[string]func(*authv3.CheckRequest){
			"no attributes":      func(r *authv3.CheckRequest) { r.Attributes = nil },
			"no http request":    func(r *authv3.CheckRequest) { r.Attributes.Request.Http = nil },
			"no method":          func(r *authv3.CheckRequest) { r.Attributes.Request.Http.Method = "" },
			"method with space":  func(r *authv3.CheckRequest) { r.Attributes.Request.Http.Method = "G ET" },
			"no host":            func(r *authv3.CheckRequest) { r.Attributes.Request.Http.Host = "" },
			"host with a path":   func(r *authv3.CheckRequest) { r.Attributes.Request.Http.Host = "app.example.com/x" },
			"scheme ftp":         func(r *authv3.CheckRequest) { r.Attributes.Request.Http.Scheme = "ftp" },
			"no path":            func(r *authv3.CheckRequest) { r.Attributes.Request.Http.Path = "" },
			"relative path":      func(r *authv3.CheckRequest) { r.Attributes.Request.Http.Path = "dashboard" },
			"absolute-form path": func(r *authv3.CheckRequest) { r.Attributes.Request.Http.Path = "https://app.example.com/dashboard" },
			"path with fragment": func(r *authv3.CheckRequest) { r.Attributes.Request.Http.Path = "/dashboard#x" },
			"path with a NUL":    func(r *authv3.CheckRequest) { r.Attributes.Request.Http.Path = "/dash\x00board" },
		} {
			t.Run(name, func(t *testing.T) {
				g.shape = shape
				check(t, g.ask(t, trustedSource, o), expectation{status: 401, code: "forwarded_request"})
			})
		}
	})
}

// TestExampleGatewayConfigs: every example gateway.yaml is a valid configuration
// (`gateway config check`), and they all describe the same deployment, so the one the
// Traefik and Envoy contracts run on speaks for all.
func TestExampleGatewayConfigs(t *testing.T) {
	var first map[string]any
	for _, dir := range []string{"nginx", "caddy", "traefik", "envoy"} {
		raw := render(t, dir, "gateway.yaml", map[string]string{"PUBLIC_SCHEME": "https", "PUBLIC_PORT": ""})
		cfg := t.TempDir() + "/gateway.yaml"
		if err := os.WriteFile(cfg, raw, 0o600); err != nil {
			t.Fatal(err)
		}
		var out strings.Builder
		env := map[string]string{"AUTHGATE_DATA_DIR": t.TempDir()}
		if err := run(context.Background(), []string{"--config", cfg, "config", "check"}, func(k string) string { return env[k] }, &out, &out); err != nil {
			t.Fatalf("configs/%s/gateway.yaml: %v\n%s", dir, err, out.String())
		}
		var doc map[string]any
		if err := yaml.Unmarshal(raw, &doc); err != nil {
			t.Fatal(err)
		}
		if authz, ok := doc["authz"].(map[string]any); ok {
			delete(authz, "grpc_listen")
		}
		if first == nil {
			first = doc
			continue
		}
		if fmt.Sprint(doc) != fmt.Sprint(first) {
			t.Errorf("configs/%s/gateway.yaml differs from configs/nginx/gateway.yaml:\n%v\n%v", dir, doc, first)
		}
	}
}
