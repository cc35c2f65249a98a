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
	// Transport sends requests upstream (required; see NewTransport).
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
// the Transport) when the route table changes.
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
	handlers     sync.Map // *routing.Route → *httputil.ReverseProxy
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
	if p.requestID == "" {
		p.requestID = "X-Request-Id"
	}
	if p.logger == nil {
		p.logger = slog.New(slog.DiscardHandler)
	}
	return p, nil
}

// forwarding is what one forwarded request carries through ReverseProxy to Rewrite and
// ModifyResponse.
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
	f := &forwarding{decision: d, gatewayCORS: w.Header().Get("Access-Control-Allow-Origin") != ""}
	r = r.WithContext(context.WithValue(r.Context(), forwardingKey{}, f))
	if p.sockets != nil && r.Header.Get("Upgrade") != "" {
		tw := &trackedUpgrade{ResponseWriter: w, sockets: p.sockets, identity: d.Identity}
		defer tw.forget()
		w = tw
	}
	p.handler(route).ServeHTTP(w, r)
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
func (p *Proxy) handler(route *routing.Route) *httputil.ReverseProxy {
	if h, ok := p.handlers.Load(route); ok {
		if rp, ok := h.(*httputil.ReverseProxy); ok {
			return rp
		}
	}
	h, _ := p.handlers.LoadOrStore(route, p.newReverseProxy(route))
	rp, _ := h.(*httputil.ReverseProxy)
	return rp
}

func (p *Proxy) newReverseProxy(route *routing.Route) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite:        func(pr *httputil.ProxyRequest) { p.rewrite(pr, route) },
		ModifyResponse: p.modifyResponse,
		Transport:      p.transport,
		BufferPool:     p.buffers,
		ErrorLog:       slog.NewLogLogger(p.logger.Handler(), slog.LevelWarn),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			p.errorHandler(w, r, newUpstreamError(route.Index, route.Target.Host, err))
		},
	}
}

// rewrite builds the outbound request. ReverseProxy has already removed the
// hop-by-hop headers (including any the client listed in Connection) and the
// Forwarded/X-Forwarded-* headers, so nothing set here can be removed by the
// client (SECURITY.md H2).
func (p *Proxy) rewrite(pr *httputil.ProxyRequest, route *routing.Route) {
	pr.SetURL(route.Target)
	out, in := pr.Out.Header, pr.In

	canonicalizeKeys(out)
	StripIdentityHeaders(out, p.aliases)
	stripOverrides(out, len(route.Methods) > 0)
	if pr.Out.Trailer != nil {
		StripIdentityHeaders(pr.Out.Trailer, p.aliases)
	}
	if f, ok := in.Context().Value(forwardingKey{}).(*forwarding); ok && f.decision.Authenticated {
		p.headers.Set(out, f.decision.Identity)
		if route.Assertion {
			p.setAssertion(out, route, f.decision.Identity)
		}
	}

	// A trusted proxy's view of the client is kept (chain, scheme, host), as Caddy does;
	// anyone else's is replaced by what the gateway saw (SECURITY.md H3).
	if xff := p.trust.ForwardedFor(in); xff != "" {
		out["X-Forwarded-For"] = []string{xff}
	}
	if ip := p.trust.ClientIP(in); ip != "" {
		out["X-Real-Ip"] = []string{ip}
	}
	if host := p.trust.Host(in); host != "" {
		out["X-Forwarded-Host"] = []string{host}
	}
	out["X-Forwarded-Proto"] = []string{p.trust.Scheme(in)}

	delete(out, p.requestID)
	if rid := in.Header.Get(p.requestID); rid != "" {
		out[p.requestID] = []string{rid}
	}
	if !route.PassAuthorization {
		delete(out, "Authorization")
	}
	if !route.PassCookies {
		stripCookies(out, p.cookieNames)
	}
}

// modifyResponse keeps an upstream from speaking for the gateway: it cannot set the
// gateway's own cookies, and its CORS headers give way to the gateway's answer on
// gateway-authenticated routes (and wherever the gateway already answered), so a
// browser never sees two Access-Control-Allow-Origin values.
func (p *Proxy) modifyResponse(res *http.Response) error {
	h := res.Header
	dropSetCookies(h, p.cookieNames)
	f, _ := res.Request.Context().Value(forwardingKey{}).(*forwarding)
	if f == nil || f.gatewayCORS || !f.decision.Match.Public() {
		for k := range h {
			if len(k) > len("Access-Control-") && strings.EqualFold(k[:len("Access-Control-")], "Access-Control-") {
				delete(h, k)
			}
		}
	}
	return nil
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
	values := h["Cookie"]
	if len(values) == 0 || !slices.ContainsFunc(values, func(v string) bool { return hasCookie(v, names) }) {
		return
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
	if b.Len() == 0 {
		delete(h, "Cookie")
		return
	}
	h["Cookie"] = []string{b.String()}
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
