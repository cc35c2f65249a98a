package proxy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/authgate/gateway/internal/authz"
	"github.com/authgate/authgate/gateway/internal/forwarded"
	"github.com/authgate/authgate/gateway/internal/routing"
)

// wireRequest is a request as an upstream received it on the wire: the request line,
// the header lines sorted (their order is not part of HTTP's meaning), the body.
type wireRequest struct {
	line   string
	header []string
	body   string
}

func (w wireRequest) String() string {
	return fmt.Sprintf("%s\n%s\n\n%q", w.line, strings.Join(w.header, "\n"), w.body)
}

// rawUpstream reads requests off the wire as they arrive and answers each with answer
// (the whole raw response); it counts the connections it accepted.
type rawUpstream struct {
	ln       net.Listener
	accepted atomic.Int64
	got      chan wireRequest
	answer   func(req wireRequest) string // nil: 200 with an empty body
	closeAll bool                         // close the connection after each answer, without saying so
}

func newRawUpstream(t testing.TB) *rawUpstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &rawUpstream{ln: ln, got: make(chan wireRequest, 64)}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u.accepted.Add(1)
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() { u.serve(c) })
		}
	})
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return u
}

func (u *rawUpstream) URL() string { return "http://" + u.ln.Addr().String() }

func (u *rawUpstream) serve(c net.Conn) {
	defer func() { _ = c.Close() }()
	tp := textproto.NewReader(bufio.NewReader(c))
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return
		}
		req := wireRequest{line: line}
		length := 0
		for {
			h, err := tp.ReadLine()
			if err != nil {
				return
			}
			if h == "" {
				break
			}
			req.header = append(req.header, h)
			if k, v, _ := strings.Cut(h, ":"); strings.EqualFold(k, "Content-Length") {
				length, _ = strconv.Atoi(strings.TrimSpace(v))
			}
		}
		slices.Sort(req.header)
		body := make([]byte, length)
		if _, err := io.ReadFull(tp.R, body); err != nil {
			return
		}
		req.body = string(body)
		u.got <- req
		answer := "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
		if u.answer != nil {
			answer = u.answer(req)
		}
		if _, err := io.WriteString(c, answer); err != nil || u.closeAll {
			return
		}
	}
}

// next returns the next request the upstream received.
func (u *rawUpstream) next(t testing.TB) wireRequest {
	t.Helper()
	select {
	case r := <-u.got:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("the upstream received nothing")
	}
	return wireRequest{}
}

// twoPaths is one route served by two Proxies with the same options: one whose
// Transport gives it the direct path, one on the bare *http.Transport (ReverseProxy for
// everything). Each has its own front server.
type twoPaths struct {
	direct, std *httptest.Server
	directProxy *Proxy
}

func newTwoPaths(t testing.TB, route *routing.Route, id *Identity, opts Options) twoPaths {
	t.Helper()
	trust, err := forwarded.NewTrust([]string{"127.0.0.1/32"})
	if err != nil {
		t.Fatal(err)
	}
	opts.Trust = trust
	opts.Headers = authz.NewHeaders([]authz.Alias{{Header: "Remote-Email", Field: authz.FieldEmail}, {Header: "X-App-Name", Field: authz.FieldName}})
	opts.Aliases = []string{"X-Pomerium-*"}
	tr := NewTransport(5*time.Second, 2*time.Second)
	t.Cleanup(tr.CloseIdleConnections)
	withDirect := opts
	withDirect.Transport = tr
	withStd := opts
	withStd.Transport = tr.std
	pd, ps := newProxy(t, withDirect), newProxy(t, withStd)
	if pd.direct == nil || ps.direct != nil {
		t.Fatal("the two proxies do not take different paths")
	}
	front := func(p *Proxy) *httptest.Server {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("X-Request-Id") == "" {
				r.Header.Set("X-Request-Id", "rid-gateway")
			}
			w.Header().Set("X-Request-Id", r.Header.Get("X-Request-Id"))
			p.Forward(w, r, decision(route, id))
		}))
		t.Cleanup(s.Close)
		return s
	}
	return twoPaths{direct: front(pd), std: front(ps), directProxy: pd}
}

// sendRaw writes raw (a whole request) to addr and returns the response.
func sendRaw(t testing.TB, url, raw string) *http.Response {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("reading the answer to %q: %v", raw, err)
	}
	return res
}

// requestCases are raw requests, each sent to both paths.
var requestCases = []struct{ name, raw string }{
	{"plain get", "GET /app/x HTTP/1.1\r\nHost: gw\r\nAccept: */*\r\n\r\n"},
	{"query and escaped path", "GET /app/a%2Fb/%7Ec?q=1&r=%20 HTTP/1.1\r\nHost: gw\r\n\r\n"},
	{"empty query", "GET /app/x? HTTP/1.1\r\nHost: gw\r\n\r\n"},
	{"identity spoofing", "GET /app/x HTTP/1.1\r\nHost: gw\r\nX-User-Id: admin\r\nx_user_role: admin\r\nRemote-Email: a@b\r\nX-App-Name: spoof\r\n" +
		"X-Pomerium-Claim-Sub: s\r\nX-Forwarded-User: u\r\nX-Real-Ip: 1.2.3.4\r\nForwarded: for=1.2.3.4\r\nTrue-Client-Ip: 1.1.1.1\r\n\r\n"},
	{"forwarded chain from a trusted peer", "GET /app/x HTTP/1.1\r\nHost: gw\r\nX-Forwarded-For: 203.0.113.9, 10.0.0.1\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: app.example.com\r\n\r\n"},
	{"hop-by-hop", "GET /app/x HTTP/1.1\r\nHost: gw\r\nConnection: keep-alive, X-Secret, x-other\r\nX-Secret: 1\r\nX-Other: 2\r\nKeep-Alive: timeout=5\r\n" +
		"Proxy-Authorization: Basic eA==\r\nProxy-Connection: keep-alive\r\nTe: trailers, deflate\r\nUpgrade-Insecure-Requests: 1\r\n\r\n"},
	{"te without trailers", "GET /app/x HTTP/1.1\r\nHost: gw\r\nTe: gzip\r\n\r\n"},
	{"cookies", "GET /app/x HTTP/1.1\r\nHost: gw\r\nCookie: access_token=a; theme=dark\r\nCookie: refresh_token=r;logged_in=true\r\n\r\n"},
	{"only gateway cookies", "GET /app/x HTTP/1.1\r\nHost: gw\r\nCookie: access_token=a; logged_in=true\r\n\r\n"},
	{"other cookies only", "GET /app/x HTTP/1.1\r\nHost: gw\r\nCookie: a=1;b=2\r\n\r\n"},
	{"authorization", "GET /app/x HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer t\r\n\r\n"},
	{"overrides", "GET /app/x HTTP/1.1\r\nHost: gw\r\nX-Original-Url: /admin\r\nX-Rewrite-Url: /admin\r\nX-Http-Method-Override: DELETE\r\nX-Method-Override: PUT\r\n\r\n"},
	{"user agent", "GET /app/x HTTP/1.1\r\nHost: gw\r\nUser-Agent: curl/8\r\nUser-Agent: second\r\n\r\n"},
	{"empty user agent", "GET /app/x HTTP/1.1\r\nHost: gw\r\nUser-Agent:\r\n\r\n"},
	{"client request id", "GET /app/x HTTP/1.1\r\nHost: gw\r\nX-Request-Id: abc-123\r\n\r\n"},
	{"post with body", "POST /app/x HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"a\":\"b\"}\r\n"},
	{"post without body", "POST /app/x HTTP/1.1\r\nHost: gw\r\nContent-Length: 0\r\n\r\n"},
	{"delete without body", "DELETE /app/x HTTP/1.1\r\nHost: gw\r\n\r\n"},
	{"extension method", "MKCOL /app/dir HTTP/1.1\r\nHost: gw\r\n\r\n"},
	{"head", "HEAD /app/x HTTP/1.1\r\nHost: gw\r\n\r\n"},
	{"http/1.0 client", "GET /app/x HTTP/1.0\r\nHost: gw\r\n\r\n"},
	{"absolute form", "GET http://gw/app/x?y=2 HTTP/1.1\r\nHost: gw\r\n\r\n"},
	{"repeated and odd headers", "GET /app/x HTTP/1.1\r\nHost: gw\r\nAccept: a\r\nAccept: b\r\nX-Empty:\r\nX-Spaces:   padded   \r\nX_Under: u\r\nVia: 1.1 other\r\n\r\n"},
}

// routeCases are the routes every request case is sent on.
var routeCases = []struct {
	name string
	rule routing.Rule
	id   *Identity
}{
	{"public, target with a path", routing.Rule{Path: "/app", Upstream: "/base/", Access: routing.Public}, nil},
	{"authenticated", routing.Rule{Path: "/app", Upstream: "", Access: routing.Authenticated},
		&Identity{UserID: "u1", Role: "user", Email: "u1@example.com", Name: "Ünïcode Name"}},
	{"restricted methods, passes cookies and authorization", routing.Rule{Path: "/app", Upstream: "/base", Access: routing.Authenticated,
		Methods: []string{"GET", "HEAD", "POST", "DELETE", "MKCOL"}, PassCookies: true, PassAuthorization: true},
		&Identity{UserID: "u2", Role: "admin", Name: "bad\nname"}},
}

// TestDirectMatchesReverseProxy: for every request and route case, the upstream
// receives the same request line, header lines and body by the direct path as through
// httputil.ReverseProxy, and the client gets the same status.
func TestDirectMatchesReverseProxy(t *testing.T) {
	t.Parallel()
	for _, rc := range routeCases {
		t.Run(rc.name, func(t *testing.T) {
			t.Parallel()
			up := newRawUpstream(t)
			rule := rc.rule
			rule.Upstream = up.URL() + rule.Upstream
			paths := newTwoPaths(t, mustRoute(t, rule), rc.id, Options{})
			for _, tc := range requestCases {
				viaDirect, viaStd := exchangeBoth(t, paths, up, tc.raw)
				if viaDirect.String() != viaStd.String() {
					t.Errorf("%s: the upstream received\ndirect:\n%s\nReverseProxy:\n%s", tc.name, viaDirect, viaStd)
				}
			}
		})
	}
}

// exchangeBoth sends raw through both paths and returns what the upstream received
// from each (a zero wireRequest when nothing reached it: both must then agree).
func exchangeBoth(t testing.TB, paths twoPaths, up *rawUpstream, raw string) (viaDirect, viaStd wireRequest) {
	t.Helper()
	get := func(front string) (wireRequest, int) {
		res := sendRaw(t, front, raw)
		_, _ = io.Copy(io.Discard, res.Body)
		_ = res.Body.Close()
		select {
		case r := <-up.got:
			return r, res.StatusCode
		default:
			return wireRequest{line: fmt.Sprintf("(nothing; status %d)", res.StatusCode)}, res.StatusCode
		}
	}
	viaDirect, sd := get(paths.direct.URL)
	viaStd, ss := get(paths.std.URL)
	if sd != ss {
		t.Errorf("status %d by the direct path, %d through ReverseProxy, for %q", sd, ss, raw)
	}
	return viaDirect, viaStd
}

// answer is what a client saw: status, header lines (sorted, without Date), body,
// trailers.
type answer struct {
	status  int
	header  []string
	body    string
	trailer []string
	err     string
}

func (a answer) String() string {
	return fmt.Sprintf("%d %s\n%s\n\n%q\ntrailer %v", a.status, a.err, strings.Join(a.header, "\n"), a.body, a.trailer)
}

func lines(h http.Header) []string {
	var out []string
	for k, vv := range h {
		if k == "Date" {
			continue
		}
		for _, v := range vv {
			out = append(out, k+": "+v)
		}
	}
	slices.Sort(out)
	return out
}

// responseCases are raw upstream answers; each is read by both paths.
var responseCases = []struct{ name, raw string }{
	{"plain", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"},
	{"hop-by-hop and connection-listed", "HTTP/1.1 200 OK\r\nConnection: X-Internal, keep-alive\r\nX-Internal: secret\r\nKeep-Alive: timeout=5\r\n" +
		"Proxy-Authenticate: Basic\r\nUpgrade: h2c\r\nX-Kept: yes\r\nContent-Length: 2\r\n\r\nok"},
	{"gateway cookies and CORS", "HTTP/1.1 201 Created\r\nSet-Cookie: access_token=forged; Path=/\r\nSet-Cookie: theme=dark\r\n" +
		"Set-Cookie: refresh_token=x\r\nAccess-Control-Allow-Origin: *\r\nAccess-Control-Allow-Credentials: true\r\nContent-Length: 0\r\n\r\n"},
	{"chunked with trailers", "HTTP/1.1 200 OK\r\nTrailer: X-Checksum\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\nX-Checksum: 42\r\n\r\n"},
	{"chunked with an unannounced trailer", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\nX-Late: 1\r\n\r\n"},
	{"no content", "HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n"},
	{"not modified", "HTTP/1.1 304 Not Modified\r\nEtag: \"x\"\r\n\r\n"},
	{"close delimited", "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end"},
	{"http/1.0 upstream", "HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nold"},
	{"error status", "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nContent-Length: 4\r\n\r\nbusy"},
	{"early hints", "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"},
	{"continue", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"},
	{"switching protocols unasked", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"},
	{"several 1xx", strings.Repeat("HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n", 8) + "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"},
	{"garbage", "NOT HTTP AT ALL\r\n\r\n"},
	{"bad content length", "HTTP/1.1 200 OK\r\nContent-Length: nope\r\n\r\n"},
	{"short body", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"},
	{"duplicate content length", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc"},
	{"header too large", "HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("a", 2<<20) + "\r\nContent-Length: 0\r\n\r\n"},
}

// TestDirectAnswersLikeReverseProxy: for every upstream answer, the client gets the same
// status, headers, body and trailers by either path (or the same kind of failure).
func TestDirectAnswersLikeReverseProxy(t *testing.T) {
	t.Parallel()
	for _, rc := range responseCases {
		t.Run(rc.name, func(t *testing.T) {
			t.Parallel()
			up := newRawUpstream(t)
			up.answer = func(wireRequest) string { return rc.raw }
			up.closeAll = true // the close-delimited and broken answers end with the connection
			route := mustRoute(t, routing.Rule{Path: "/", Upstream: up.URL(), Access: routing.Authenticated})
			paths := newTwoPaths(t, route, &Identity{UserID: "u1", Role: "user"}, Options{})
			get := func(front string) answer {
				res, err := http.Get(front + "/x")
				if err != nil {
					return answer{err: "transport error"}
				}
				defer func() { _ = res.Body.Close() }()
				body, err := io.ReadAll(res.Body)
				a := answer{status: res.StatusCode, header: lines(res.Header), body: string(body), trailer: lines(res.Trailer)}
				if err != nil {
					a.err = "body cut short"
				}
				if res.StatusCode == http.StatusBadGateway {
					// the error text names each path's own error
					a.body = ""
					a.header = slices.DeleteFunc(a.header, func(l string) bool { return strings.HasPrefix(l, "Content-Length:") })
				}
				if !strings.Contains(rc.raw, "Content-Type") {
					// Whether the Go server sniffs a type depends on whether the header
					// was flushed before the first write (ReverseProxy races a timer).
					a.header = slices.DeleteFunc(a.header, func(l string) bool { return strings.HasPrefix(l, "Content-Type: text/plain") })
				}
				if strings.HasPrefix(rc.raw, "HTTP/1.1 1") {
					// After an informational answer ReverseProxy clears the header the
					// gateway had set (net/http's 1xx quirk); the direct path keeps it.
					if !slices.Contains(a.header, "X-Request-Id: rid-gateway") && front == paths.direct.URL {
						a.err += " (the direct path lost the gateway's X-Request-Id)"
					}
					a.header = slices.DeleteFunc(a.header, func(l string) bool { return strings.HasPrefix(l, "X-Request-Id:") })
				}
				return a
			}
			d, s := get(paths.direct.URL), get(paths.std.URL)
			if d.String() != s.String() {
				t.Errorf("the client saw\ndirect:\n%s\nReverseProxy:\n%s", d, s)
			}
		})
	}
}

// TestDirectBoundsInformational: an upstream that sends informational answers without
// end gets a 502 after max1xx of them (ReverseProxy sets no bound).
func TestDirectBoundsInformational(t *testing.T) {
	t.Parallel()
	up := newRawUpstream(t)
	up.answer = func(wireRequest) string {
		return strings.Repeat("HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n", max1xx+1) + "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
	}
	paths := newTwoPaths(t, mustRoute(t, routing.Rule{Path: "/", Upstream: up.URL()}), nil, Options{})
	res, err := http.Get(paths.direct.URL + "/x")
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.StatusCode != http.StatusBadGateway {
		t.Errorf("status %d after %d informational answers, want 502", res.StatusCode, max1xx+1)
	}
}

// FuzzDirectMatchesReverseProxy: any header name and value, method and path a client
// can send reach the upstream the same way by both paths.
func FuzzDirectMatchesReverseProxy(f *testing.F) {
	f.Add("GET", "/app/x", "X-User-Id", "admin", "Connection", "x-user-id")
	f.Add("POST", "/app/a%2F?b", "Cookie", "access_token=1; x=2", "Te", "trailers")
	f.Add("PUT", "/app/", "X-Forwarded-For", "1.2.3.4", "Authorization", "Bearer x")
	f.Add("GET", "/app/x", "remote_user", "a", "X-Http-Method-Override", "DELETE")
	up := newRawUpstream(f)
	route := mustRoute(f, routing.Rule{Path: "/app", Upstream: up.URL() + "/base", Access: routing.Authenticated, Methods: []string{"GET", "POST"}})
	paths := newTwoPaths(f, route, &Identity{UserID: "u1", Role: "user", Email: "e@x"}, Options{})
	f.Fuzz(func(t *testing.T, method, path, k1, v1, k2, v2 string) {
		raw := method + " " + path + " HTTP/1.1\r\nHost: gw\r\n" + k1 + ": " + v1 + "\r\n" + k2 + ": " + v2 + "\r\n\r\n"
		if strings.ContainsAny(method+path+k1+k2, "\r\n \t:") || strings.ContainsAny(v1+v2, "\r\n") ||
			!strings.HasPrefix(path, "/app") || method == "" || method == http.MethodConnect {
			t.Skip()
		}
		if _, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw))); err != nil {
			t.Skip() // the front server would refuse it before any proxying
		}
		for _, k := range []string{k1, k2} {
			switch textproto.CanonicalMIMEHeaderKey(k) {
			case "Content-Length", "Transfer-Encoding", "Expect", "Upgrade", "Host", "Trailer":
				t.Skip() // framing: another path, or refused by the front server
			}
		}
		d, s := exchangeBoth(t, paths, up, raw)
		if d.String() != s.String() {
			t.Fatalf("for %q the upstream received\ndirect:\n%s\nReverseProxy:\n%s", raw, d, s)
		}
	})
}

// TestDirectReusesConnections: sequential requests share one upstream connection.
func TestDirectReusesConnections(t *testing.T) {
	t.Parallel()
	up := newRawUpstream(t)
	paths := newTwoPaths(t, mustRoute(t, routing.Rule{Path: "/", Upstream: up.URL()}), nil, Options{})
	for range 20 {
		res := sendRaw(t, paths.direct.URL, "GET /x HTTP/1.1\r\nHost: gw\r\n\r\n")
		_ = res.Body.Close()
		up.next(t)
	}
	if n := up.accepted.Load(); n != 1 {
		t.Errorf("%d upstream connections for 20 sequential requests, want 1", n)
	}
}

// TestDirectUpstreamClosedIdle: an upstream that closed a kept-alive connection (as
// Node.js does after 5 s idle) costs no request: a POST after the close is sent on a
// new connection (the idle one fails its liveness check), and a GET on a connection the
// upstream closed just after answering is sent again.
func TestDirectUpstreamClosedIdle(t *testing.T) {
	t.Parallel()
	t.Run("idle close seen before reuse", func(t *testing.T) {
		t.Parallel()
		up := newRawUpstream(t)
		up.closeAll = true
		paths := newTwoPaths(t, mustRoute(t, routing.Rule{Path: "/", Upstream: up.URL()}), nil, Options{})
		for i := range 3 {
			res := sendRaw(t, paths.direct.URL, "POST /x HTTP/1.1\r\nHost: gw\r\nContent-Length: 1\r\n\r\nx")
			_ = res.Body.Close()
			if res.StatusCode != http.StatusOK {
				t.Fatalf("POST %d after an idle close: status %d", i, res.StatusCode)
			}
			up.next(t)
			time.Sleep(livenessAfter + 100*time.Millisecond)
		}
		if n := up.accepted.Load(); n != 3 {
			t.Errorf("%d upstream connections, want 3 (each closed by the upstream)", n)
		}
	})
	t.Run("close just after answering", func(t *testing.T) {
		t.Parallel()
		up := newRawUpstream(t)
		up.closeAll = true
		paths := newTwoPaths(t, mustRoute(t, routing.Rule{Path: "/", Upstream: up.URL()}), nil, Options{})
		for i := range 5 {
			res := sendRaw(t, paths.direct.URL, "GET /x HTTP/1.1\r\nHost: gw\r\n\r\n")
			_ = res.Body.Close()
			if res.StatusCode != http.StatusOK {
				t.Fatalf("GET %d: status %d", i, res.StatusCode)
			}
			up.next(t)
		}
		// A POST is not replayable: on a connection the upstream closed unseen it fails
		// with 502 rather than being sent twice (net/http's rule).
		time.Sleep(20 * time.Millisecond)
		res := sendRaw(t, paths.direct.URL, "POST /x HTTP/1.1\r\nHost: gw\r\nContent-Length: 1\r\n\r\nx")
		_ = res.Body.Close()
		if res.StatusCode != http.StatusOK && res.StatusCode != http.StatusBadGateway {
			t.Errorf("POST on a closed connection: status %d", res.StatusCode)
		}
	})
}

// TestDirectIdleExpiry: idle connections are closed after the idle timeout, and at most
// maxIdle are kept.
func TestDirectIdleExpiry(t *testing.T) {
	t.Parallel()
	up := newRawUpstream(t)
	d := &direct{dialer: &net.Dialer{Timeout: time.Second}, maxIdle: 2, idleTimeout: 150 * time.Millisecond, maxHeaderBytes: 1 << 20}
	pool := d.pool(strings.TrimPrefix(up.URL(), "http://"))
	var conns []*upConn
	for range 4 {
		c, reused, err := pool.get(t.Context())
		if err != nil || reused {
			t.Fatalf("get: %v, reused %v", err, reused)
		}
		conns = append(conns, c)
	}
	for _, c := range conns {
		pool.put(c)
	}
	pool.mu.Lock()
	kept := len(pool.idle)
	pool.mu.Unlock()
	if kept != 2 {
		t.Errorf("%d idle connections kept, want maxIdle 2", kept)
	}
	if _, err := conns[0].conn.Write([]byte("x")); err == nil {
		// conns[0] and [1] were put first and kept; [2] and [3] closed. Check one closed.
		if _, err := conns[3].conn.Write([]byte("x")); err == nil {
			t.Error("a connection past maxIdle is still open")
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		pool.mu.Lock()
		kept = len(pool.idle)
		pool.mu.Unlock()
		if kept == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d idle connections left after the idle timeout", kept)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := conns[0].conn.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Errorf("an expired connection is still open: %v", err)
	}
}

// TestDirectStreams: an event stream reaches the client event by event.
func TestDirectStreams(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "data: one\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
		_, _ = io.WriteString(w, "data: two\n\n")
	}))
	t.Cleanup(up.Close)
	t.Cleanup(func() { close(release) })
	paths := newTwoPaths(t, mustRoute(t, routing.Rule{Path: "/", Upstream: up.URL}), nil, Options{})
	res, err := http.Get(paths.direct.URL + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }()
	got := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(res.Body).ReadString('\n')
		got <- line
	}()
	select {
	case line := <-got:
		if line != "data: one\n" {
			t.Errorf("first line %q", line)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the first event did not arrive while the stream stayed open")
	}
}

// TestDirectFallsBack: what the direct path does not take still works through
// ReverseProxy: a chunked request body, one over maxDirectBody, Expect: 100-continue.
func TestDirectFallsBack(t *testing.T) {
	t.Parallel()
	up := newUpstream(t)
	paths := newTwoPaths(t, mustRoute(t, routing.Rule{Path: "/", Upstream: up.URL}), nil, Options{})
	big := strings.Repeat("b", maxDirectBody+1)
	for _, tc := range []struct {
		name string
		req  func() *http.Request
	}{
		{"chunked body", func() *http.Request {
			r := newRequest(t, http.MethodPost, paths.direct.URL+"/x", nil)
			r.Body = io.NopCloser(strings.NewReader("chunked"))
			r.ContentLength = -1
			return r
		}},
		{"large body", func() *http.Request {
			r, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, paths.direct.URL+"/x", strings.NewReader(big))
			return r
		}},
		{"expect continue", func() *http.Request {
			r, _ := http.NewRequestWithContext(t.Context(), http.MethodPut, paths.direct.URL+"/x", strings.NewReader("body"))
			r.Header.Set("Expect", "100-continue")
			return r
		}},
	} {
		if takesDirect(tc.req()) {
			t.Errorf("%s: taken by the direct path", tc.name)
		}
		e := do(t, tc.req())
		if e.Method == "" {
			t.Errorf("%s: not forwarded", tc.name)
		}
	}
	if !takesDirect(httptest.NewRequest(http.MethodGet, "/x", nil)) {
		t.Error("a plain GET does not take the direct path")
	}
}

// TestDirectExtraBytesNotReused: an upstream that sends more than its Content-Length
// does not get its connection back for the next request.
func TestDirectExtraBytesNotReused(t *testing.T) {
	t.Parallel()
	up := newRawUpstream(t)
	up.answer = func(wireRequest) string { return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA" }
	paths := newTwoPaths(t, mustRoute(t, routing.Rule{Path: "/", Upstream: up.URL()}), nil, Options{})
	for range 3 {
		res := sendRaw(t, paths.direct.URL, "GET /x HTTP/1.1\r\nHost: gw\r\n\r\n")
		body, _ := io.ReadAll(res.Body)
		_ = res.Body.Close()
		if string(body) != "ok" {
			t.Fatalf("body %q", body)
		}
		up.next(t)
	}
	if n := up.accepted.Load(); n != 3 {
		t.Errorf("%d connections for 3 requests, want 3 (none reusable)", n)
	}
}

// TestDirectClientAbortFreesUpstream: a client gone mid-answer does not leave the
// upstream connection in the pool, and the next request works.
func TestDirectClientAbortFreesUpstream(t *testing.T) {
	t.Parallel()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			w.Header().Set("Content-Length", "100000")
			_, _ = io.WriteString(w, strings.Repeat("p", 16<<10)) // past the gateway's write buffer
			w.(http.Flusher).Flush()
			<-r.Context().Done()
			return
		}
		_, _ = io.WriteString(w, "fine")
	}))
	t.Cleanup(up.Close)
	paths := newTwoPaths(t, mustRoute(t, routing.Rule{Path: "/", Upstream: up.URL}), nil, Options{})
	ctx, cancel := context.WithCancel(t.Context())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, paths.direct.URL+"/slow", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1024)
	if _, err := io.ReadFull(res.Body, buf); err != nil {
		t.Fatal(err)
	}
	cancel()
	_ = res.Body.Close()
	res2, err := http.Get(paths.direct.URL + "/next")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res2.Body)
	_ = res2.Body.Close()
	if string(body) != "fine" {
		t.Errorf("next request got %q", body)
	}
}

// quietUpstream answers every request on its connections with the same bytes,
// allocating nothing per request, so that AllocsPerRun counts the proxy's allocations.
func quietUpstream(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	answer := []byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer func() { _ = c.Close() }()
				buf := make([]byte, 64<<10)
				have := 0
				for {
					n, err := c.Read(buf[have:])
					if err != nil {
						return
					}
					have += n
					for {
						end := bytes.Index(buf[:have], []byte("\r\n\r\n"))
						if end < 0 {
							break
						}
						have = copy(buf, buf[end+4:have])
						if _, err := c.Write(answer); err != nil {
							return
						}
					}
				}
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

// TestDirectAllocations keeps the direct path lean: a proxied GET allocates less than
// half of what the same GET costs through ReverseProxy (the request and recorder of
// the test included).
func TestDirectAllocations(t *testing.T) {
	route := mustRoute(t, routing.Rule{Path: "/", Upstream: quietUpstream(t), Access: routing.Authenticated})
	tr := NewTransport(5*time.Second, 5*time.Second)
	t.Cleanup(tr.CloseIdleConnections)
	allocs := func(transport http.RoundTripper) float64 {
		p := newProxy(t, Options{Transport: transport})
		d := decision(route, &Identity{UserID: "u1", Role: "user"})
		return testing.AllocsPerRun(200, func() {
			r := httptest.NewRequest(http.MethodGet, "/x", nil)
			r.Header.Set("Accept", "*/*")
			w := httptest.NewRecorder()
			p.Forward(w, r, d)
			if w.Code != http.StatusOK {
				t.Fatalf("status %d", w.Code)
			}
		})
	}
	viaDirect, viaStd := allocs(tr), allocs(tr.std)
	t.Logf("allocations per proxied GET: direct %.0f, ReverseProxy %.0f", viaDirect, viaStd)
	if viaDirect*2 > viaStd {
		t.Errorf("direct path allocates %.0f times, ReverseProxy %.0f: want under half", viaDirect, viaStd)
	}
}
