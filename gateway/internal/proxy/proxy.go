// Package proxy forwards a request to its route's upstream with the gateway's identity
// headers, after removing anything the client sent that could pass for them
// (SECURITY.md H1, H2, H7). It makes no access decision: callers pass the decision
// authz.Decide made, and the proxy only carries it out.
package proxy

import (
	"bufio"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"slices"
	"strings"
	"sync"

	"github.com/authgate/authgate/authsvc"
	"github.com/authgate/authgate/gateway/internal/authz"
	"github.com/authgate/authgate/gateway/internal/forwarded"
	"github.com/authgate/authgate/gateway/internal/routing"
	"github.com/authgate/authgate/gateway/internal/sockets"
)

// Options configures a Proxy.
type Options struct {
	// Transport sends requests upstream (required). A *Transport (NewTransport) also
	// gives the Proxy its direct path to plain-http upstreams.
	Transport http.RoundTripper
	// Trust says whose X-Forwarded-* headers are believed; nil trusts nobody
	// (SECURITY.md H3).
	Trust *forwarded.Trust
	// Headers maps the decision's identity to upstream headers; nil sets X-User-Id and
	// X-User-Role only.
	Headers *authz.Headers
	// ErrorHandler answers when the request cannot be forwarded (required), with an
	// error wrapping routing.ErrNoRoute or ErrUpstream (and ErrUpstreamTimeout for
	// timeouts).
	ErrorHandler func(http.ResponseWriter, *http.Request, error)
	// Aliases are extra identity header names to strip (see IsIdentityHeader).
	Aliases []string
	// CookieNames are the gateway's own cookies (required): removed from the forwarded
	// Cookie header unless the route has PassCookies, and never accepted from an
	// upstream's Set-Cookie.
	CookieNames []string
	// RequestIDHeader is copied from the inbound request; "" means X-Request-Id.
	RequestIDHeader string
	// Logger receives ReverseProxy's own reports (body copy errors after the response
	// has started); nil discards them.
	Logger *slog.Logger
	// Sockets, when set, tracks upgraded connections (WebSockets), so that those of a
	// signed-in session are closed when the session ends, and all at shutdown.
	Sockets *sockets.Watcher
	// Assertions, when set, signs the X-Auth-Assertion of routes with Assertion; nil
	// sends none.
	Assertions Assertions
}

// Proxy forwards requests to routes. It is safe for concurrent use. It keeps one
// httputil.ReverseProxy per *routing.Route for its lifetime: build a new Proxy (sharing
// the Transport) when the route table changes. With a *Transport from NewTransport, the
// requests a plain-http upstream can take directly skip ReverseProxy (direct.go); both
// paths send the same request (TestDirectMatchesReverseProxy).
type Proxy struct {
	transport    http.RoundTripper
	trust        *forwarded.Trust
	headers      *authz.Headers
	errorHandler func(http.ResponseWriter, *http.Request, error)
	aliases      []string
	cookieNames  []string
	requestID    string
	logger       *slog.Logger
	sockets      *sockets.Watcher
	assertions   Assertions
	buffers      *bufferPool
	direct       *direct  // nil: every request through httputil.ReverseProxy
	handlers     sync.Map // *routing.Route → *routeProxy
}

// routeProxy is what the Proxy keeps per route: the ReverseProxy, and the route's
// connection pool for the direct path (nil when the upstream is not plain http, or the
// transport is not this package's).
type routeProxy struct {
	route *routing.Route
	rp    *httputil.ReverseProxy
	pool  *connPool
}

// New returns a Proxy configured by opts. Errors: a required option is missing.
func New(opts Options) (*Proxy, error) {
	if opts.Transport == nil || opts.ErrorHandler == nil || len(opts.CookieNames) == 0 {
		return nil, errors.New("proxy: Transport, ErrorHandler and CookieNames are required")
	}
	p := &Proxy{
		transport:    opts.Transport,
		trust:        opts.Trust,
		headers:      opts.Headers,
		errorHandler: opts.ErrorHandler,
		aliases:      slices.Clone(opts.Aliases),
		cookieNames:  slices.Clone(opts.CookieNames),
		requestID:    textproto.CanonicalMIMEHeaderKey(opts.RequestIDHeader),
		logger:       opts.Logger,
		sockets:      opts.Sockets,
		assertions:   opts.Assertions,
		buffers:      newBufferPool(),
	}
	if p.trust == nil {
		p.trust = &forwarded.Trust{}
	}
	if p.headers == nil {
		p.headers = &authz.Headers{}
	}
	// The identity headers are the gateway's to set: a copy under any of their names
	// that reached the proxy (an alias outside the built-in reserved names) is dropped.
	p.aliases = append(p.aliases, p.headers.Names()...)
	if t, ok := opts.Transport.(*Transport); ok {
		p.direct = t.direct
	}
	if p.requestID == "" {
		p.requestID = "X-Request-Id"
	}
	if p.logger == nil {
		p.logger = slog.New(slog.DiscardHandler)
	}
	return p, nil
}

// forwarding is what one forwarded request carries through ReverseProxy to Rewrite and
// ModifyResponse (or through the direct path).
type forwarding struct {
	decision    authz.Decision
	gatewayCORS bool // the gateway already answered CORS on this response
}

type forwardingKey struct{}

// Forward sends r to the upstream of the decision's route, with the decision's identity
// (when it is Authenticated) as headers. A route without an upstream answers
// routing.ErrNoRoute through the error handler; upstream failures arrive there wrapping
// ErrUpstream.
func (p *Proxy) Forward(w http.ResponseWriter, r *http.Request, d authz.Decision) {
	route := d.Route()
	if route == nil || route.Target == nil {
		p.errorHandler(w, r, routing.ErrNoRoute)
		return
	}
	h := p.handler(route)
	f := &forwarding{decision: d, gatewayCORS: w.Header().Get("Access-Control-Allow-Origin") != ""}
	if h.pool != nil && takesDirect(r) {
		p.forwardDirect(w, r, h, f)
		return
	}
	r = r.WithContext(context.WithValue(r.Context(), forwardingKey{}, f))
	if p.sockets != nil && r.Header.Get("Upgrade") != "" {
		tw := &trackedUpgrade{ResponseWriter: w, sockets: p.sockets, identity: d.Identity}
		defer tw.forget()
		w = tw
	}
	h.rp.ServeHTTP(w, r)
}

// trackedUpgrade hands the connection ReverseProxy hijacks for an upgrade (a WebSocket)
// to the socket watcher, so that it is closed when the session ends.
type trackedUpgrade struct {
	http.ResponseWriter
	sockets  *sockets.Watcher
	identity authsvc.Identity
	untrack  func()
}

// Hijack takes over the client connection (ReverseProxy does it once the upstream
// answered 101) and tracks it.
func (t *trackedUpgrade) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(t.ResponseWriter).Hijack()
	if err == nil {
		t.untrack = t.sockets.Track(t.identity, conn)
	}
	return conn, brw, err
}

// Unwrap gives http.ResponseController the writer underneath (Flush, deadlines).
func (t *trackedUpgrade) Unwrap() http.ResponseWriter { return t.ResponseWriter }

func (t *trackedUpgrade) forget() {
	if t.untrack != nil {
		t.untrack()
	}
}

// Prepare builds the reverse proxies of routes now instead of on their first request;
// call it at start-up with routing.Table.Routes().
func (p *Proxy) Prepare(routes []*routing.Route) {
	for _, r := range routes {
		if r != nil && r.Target != nil {
			p.handler(r)
		}
	}
}

// handler returns the cached reverse proxy for route, building it on first use.
// The hot path is one lock-free sync.Map load.
func (p *Proxy) handler(route *routing.Route) *routeProxy {
	if h, ok := p.handlers.Load(route); ok {
		if rp, ok := h.(*routeProxy); ok {
			return rp
		}
	}
	h, _ := p.handlers.LoadOrStore(route, p.newRouteProxy(route))
	rp, _ := h.(*routeProxy)
	return rp
}

func (p *Proxy) newRouteProxy(route *routing.Route) *routeProxy {
	h := &routeProxy{route: route, rp: &httputil.ReverseProxy{
		Rewrite:        func(pr *httputil.ProxyRequest) { p.rewrite(pr, route) },
		ModifyResponse: p.modifyResponse,
		Transport:      p.transport,
		BufferPool:     p.buffers,
		ErrorLog:       slog.NewLogLogger(p.logger.Handler(), slog.LevelWarn),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			p.errorHandler(w, r, newUpstreamError(route.Index, route.Target.Host, err))
		},
	}}
	if p.direct != nil && route.Target.Scheme == "http" {
		h.pool = p.direct.pool(hostPort(route.Target))
	}
	return h
}

// rewrite builds the outbound request. ReverseProxy has already removed the
// hop-by-hop headers (including any the client listed in Connection) and the
// Forwarded/X-Forwarded-* headers, so nothing set here can be removed by the
// client (SECURITY.md H2).
func (p *Proxy) rewrite(pr *httputil.ProxyRequest, route *routing.Route) {
	pr.SetURL(route.Target)
	out, in := pr.Out.Header, pr.In

	canonicalizeKeys(out)
	for k := range out {
		if p.dropsClient(k, route) {
			delete(out, k)
		}
	}
	if pr.Out.Trailer != nil {
		StripIdentityHeaders(pr.Out.Trailer, p.aliases)
	}
	if !route.PassCookies {
		stripCookies(out, p.cookieNames)
	}
	f, _ := in.Context().Value(forwardingKey{}).(*forwarding)
	p.added(in, route, f, func(k, v string) { out[k] = []string{v} })
}

// dropsClient reports whether the client's header k (canonical) stays behind on the
// way upstream: identity and client-address headers (the gateway sets its own), the
// X-Forwarded-* the gateway rewrites, the request id (set from the inbound one), the
// headers that would tell an upstream to read another path or method than the one
// decided on (the method ones only where the route restricts methods; elsewhere an API
// may rely on them), and Authorization unless the route passes it.
func (p *Proxy) dropsClient(k string, route *routing.Route) bool {
	switch k {
	case "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Real-Ip", "Forwarded",
		"X-Original-Url", "X-Original-Uri", "X-Rewrite-Url", "X-Override-Url", "X-Original-Method":
		return true
	case "X-Http-Method-Override", "X-Http-Method", "X-Method-Override":
		return len(route.Methods) > 0
	case "Authorization":
		return !route.PassAuthorization
	}
	return k == p.requestID || IsIdentityHeader(k, p.aliases)
}

// added calls set with every header the gateway itself sends upstream: the identity
// of an authenticated decision (and the route's signed assertion of it), the client as the gateway saw it (a trusted proxy's
// view of the client is kept: chain, scheme, host, as Caddy does; anyone else's is
// replaced, SECURITY.md H3), and the request id.
func (p *Proxy) added(in *http.Request, route *routing.Route, f *forwarding, set func(k, v string)) {
	if f != nil && f.decision.Authenticated {
		p.headers.Each(f.decision.Identity, set)
		if route.Assertion {
			if tok, ok := p.assertion(route, f.decision.Identity); ok {
				set(HeaderAssertion, tok)
			}
		}
	}
	if xff := p.trust.ForwardedFor(in); xff != "" {
		set("X-Forwarded-For", xff)
	}
	if ip := p.trust.ClientIP(in); ip != "" {
		set("X-Real-Ip", ip)
	}
	if host := p.trust.Host(in); host != "" {
		set("X-Forwarded-Host", host)
	}
	set("X-Forwarded-Proto", p.trust.Scheme(in))
	if rid := in.Header.Get(p.requestID); rid != "" {
		set(p.requestID, rid)
	}
}

// modifyResponse is ReverseProxy's hook for filterResponse.
func (p *Proxy) modifyResponse(res *http.Response) error {
	f, _ := res.Request.Context().Value(forwardingKey{}).(*forwarding)
	p.filterResponse(res.Header, f)
	return nil
}

// filterResponse keeps an upstream from speaking for the gateway: it cannot set the
// gateway's own cookies, and its CORS headers give way to the gateway's answer on
// gateway-authenticated routes (and wherever the gateway already answered), so a
// browser never sees two Access-Control-Allow-Origin values.
func (p *Proxy) filterResponse(h http.Header, f *forwarding) {
	dropSetCookies(h, p.cookieNames)
	if f == nil || f.gatewayCORS || !f.decision.Match.Public() {
		for k := range h {
			if len(k) > len("Access-Control-") && strings.EqualFold(k[:len("Access-Control-")], "Access-Control-") {
				delete(h, k)
			}
		}
	}
}

// dropSetCookies removes Set-Cookie lines that set one of names (any case of the
// __Host-/__Secure- prefixed forms included).
func dropSetCookies(h http.Header, names []string) {
	lines := h["Set-Cookie"]
	if len(lines) == 0 {
		return
	}
	kept := lines[:0:0]
	for _, line := range lines {
		name, _, _ := strings.Cut(line, "=")
		name = textproto.TrimString(name)
		if slices.Contains(names, name) {
			continue
		}
		kept = append(kept, line)
	}
	if len(kept) == 0 {
		delete(h, "Set-Cookie")
		return
	}
	h["Set-Cookie"] = kept
}

// canonicalizeKeys merges every key into its canonical form, so that the exact
// key look-ups below (Authorization, Cookie, the request id) cannot miss an
// "authorization" set by a handler in front. net/http itself only produces
// canonical keys, so this normally changes nothing and does not allocate.
func canonicalizeKeys(h http.Header) {
	for k, v := range h {
		if c := textproto.CanonicalMIMEHeaderKey(k); c != k {
			delete(h, k)
			h[c] = append(h[c], v...)
		}
	}
}

// stripCookies removes the named cookies from the Cookie header(s), keeping the
// others in one header. It allocates only when there is something to remove.
func stripCookies(h http.Header, names []string) {
	v, changed := filterCookies(h["Cookie"], names)
	switch {
	case !changed:
	case v == "":
		delete(h, "Cookie")
	default:
		h["Cookie"] = []string{v}
	}
}

// filterCookies returns the Cookie header values without the named cookies, as one
// value ("" when none is left), and whether anything was removed (when not, the value
// is "" and the header goes on as it came).
func filterCookies(values []string, names []string) (string, bool) {
	if len(values) == 0 || !slices.ContainsFunc(values, func(v string) bool { return hasCookie(v, names) }) {
		return "", false
	}
	var b strings.Builder
	for _, v := range values {
		for pair := range strings.SplitSeq(v, ";") {
			pair = textproto.TrimString(pair)
			name, _, _ := strings.Cut(pair, "=")
			if pair == "" || slices.Contains(names, textproto.TrimString(name)) {
				continue
			}
			if b.Len() > 0 {
				b.WriteString("; ")
			}
			b.WriteString(pair)
		}
	}
	return b.String(), true
}

// hasCookie reports whether the Cookie header value v names one of names.
func hasCookie(v string, names []string) bool {
	for pair := range strings.SplitSeq(v, ";") {
		name, _, _ := strings.Cut(pair, "=")
		if slices.Contains(names, textproto.TrimString(name)) {
			return true
		}
	}
	return false
}
