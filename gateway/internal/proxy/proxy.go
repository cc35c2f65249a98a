// Package proxy forwards a request to its route's upstream with the gateway's
// identity headers, after removing anything the client sent that could pass for
// them (SECURITY.md H1, H2, H7).
package proxy

import (
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/authgate/authgate/gateway/internal/policy"
)

// Options configures a Proxy. Every field may be left zero.
type Options struct {
	// Transport sends requests upstream; nil means NewTransport(5s, 30s).
	Transport http.RoundTripper
	// ClientIP returns the client address written to X-Forwarded-For; nil means
	// the host of r.RemoteAddr. The server supplies a trusted-proxy-aware one
	// (SECURITY.md H3). An empty result sends no X-Forwarded-For.
	ClientIP func(*http.Request) string
	// ErrorHandler answers when the request cannot be forwarded, with an error
	// wrapping one of this package's sentinels; nil means a JSON envelope: 502
	// "Bad gateway", or 401/403 for ErrUnauthenticated/ErrForbidden.
	ErrorHandler func(http.ResponseWriter, *http.Request, error)
	// Aliases are extra identity header names to strip (see IsIdentityHeader).
	Aliases []string
	// CookieNames are the gateway's own cookies, removed from the forwarded
	// Cookie header unless the route has PassCookies; nil means access_token,
	// refresh_token and logged_in.
	CookieNames []string
	// RequestIDHeader is copied from the inbound request; "" means X-Request-Id.
	RequestIDHeader string
	// Logger receives ReverseProxy's own reports (body copy errors after the
	// response has started); nil discards them.
	Logger *slog.Logger
}

// Proxy forwards requests to policy routes. It is safe for concurrent use. It
// keeps one httputil.ReverseProxy per *policy.Route for its lifetime: build a
// new Proxy (sharing the Transport) when the route table is reloaded.
type Proxy struct {
	transport    http.RoundTripper
	clientIP     func(*http.Request) string
	errorHandler func(http.ResponseWriter, *http.Request, error)
	aliases      []string
	cookieNames  []string
	requestID    string
	logger       *slog.Logger
	buffers      *bufferPool
	handlers     sync.Map // *policy.Route → *httputil.ReverseProxy
}

// New returns a Proxy configured by opts, with the defaults documented on Options.
func New(opts Options) *Proxy {
	p := &Proxy{
		transport:    opts.Transport,
		clientIP:     opts.ClientIP,
		errorHandler: opts.ErrorHandler,
		aliases:      slices.Clone(opts.Aliases),
		cookieNames:  slices.Clone(opts.CookieNames),
		requestID:    textproto.CanonicalMIMEHeaderKey(opts.RequestIDHeader),
		logger:       opts.Logger,
		buffers:      newBufferPool(),
	}
	if p.transport == nil {
		p.transport = NewTransport(5*time.Second, 30*time.Second)
	}
	if p.clientIP == nil {
		p.clientIP = remoteHost
	}
	if p.errorHandler == nil {
		p.errorHandler = defaultErrorHandler
	}
	if p.cookieNames == nil {
		p.cookieNames = []string{"access_token", "refresh_token", "logged_in"}
	}
	if p.requestID == "" {
		p.requestID = "X-Request-Id"
	}
	if p.logger == nil {
		p.logger = slog.New(slog.DiscardHandler)
	}
	return p
}

// ServeRoute forwards r to route's upstream. It refuses, through the error
// handler, a nil or uncompiled route (ErrNoRoute), a non-public route without an
// identity in r's context (ErrUnauthenticated) and an identity whose role the
// route does not allow (ErrForbidden); upstream failures arrive there wrapping
// ErrUpstream (and ErrUpstreamTimeout for timeouts).
func (p *Proxy) ServeRoute(w http.ResponseWriter, r *http.Request, route *policy.Route) {
	if route == nil || route.Target == nil {
		p.errorHandler(w, r, ErrNoRoute)
		return
	}
	if !route.Public() {
		id, ok := IdentityFrom(r.Context())
		if !ok {
			p.errorHandler(w, r, ErrUnauthenticated)
			return
		}
		if !route.Allows(id.Role) {
			p.errorHandler(w, r, ErrForbidden)
			return
		}
	}
	p.handler(route).ServeHTTP(w, r)
}

// Prepare builds the reverse proxies of routes now instead of on their first
// request; call it at start-up with policy.Table.Routes().
func (p *Proxy) Prepare(routes []*policy.Route) {
	for _, r := range routes {
		if r != nil && r.Target != nil {
			p.handler(r)
		}
	}
}

// handler returns the cached reverse proxy for route, building it on first use.
// The hot path is one lock-free sync.Map load.
func (p *Proxy) handler(route *policy.Route) *httputil.ReverseProxy {
	if h, ok := p.handlers.Load(route); ok {
		if rp, ok := h.(*httputil.ReverseProxy); ok {
			return rp
		}
	}
	h, _ := p.handlers.LoadOrStore(route, p.newReverseProxy(route))
	rp, _ := h.(*httputil.ReverseProxy)
	return rp
}

func (p *Proxy) newReverseProxy(route *policy.Route) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite:    func(pr *httputil.ProxyRequest) { p.rewrite(pr, route) },
		Transport:  p.transport,
		BufferPool: p.buffers,
		ErrorLog:   slog.NewLogLogger(p.logger.Handler(), slog.LevelWarn),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			p.errorHandler(w, r, newUpstreamError(route.Index, route.Target.Host, err))
		},
	}
}

// rewrite builds the outbound request. ReverseProxy has already removed the
// hop-by-hop headers (including any the client listed in Connection) and the
// Forwarded/X-Forwarded-* headers, so nothing set here can be removed by the
// client (SECURITY.md H2).
func (p *Proxy) rewrite(pr *httputil.ProxyRequest, route *policy.Route) {
	pr.SetURL(route.Target)
	out, in := pr.Out.Header, pr.In

	canonicalizeKeys(out)
	StripIdentityHeaders(out, p.aliases)
	if pr.Out.Trailer != nil {
		StripIdentityHeaders(pr.Out.Trailer, p.aliases)
	}
	if id, ok := IdentityFrom(in.Context()); ok {
		out[HeaderUserID] = []string{id.UserID}
		if id.Role != "" {
			out[HeaderUserRole] = []string{id.Role}
		}
	}

	if ip := p.clientIP(in); ip != "" {
		out["X-Forwarded-For"] = []string{ip}
	}
	if in.Host != "" {
		out["X-Forwarded-Host"] = []string{in.Host}
	}
	if in.TLS != nil {
		out["X-Forwarded-Proto"] = []string{"https"}
	} else {
		out["X-Forwarded-Proto"] = []string{"http"}
	}

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

// remoteHost is the default ClientIP: the address of the socket peer.
func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return ""
	}
	return host
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
