package proxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/http/httpguts"
)

// The direct path. net/http's Transport hands every request to two goroutines of the
// connection (one writes the request, one reads the response) and back; on loopback
// that hand-off, and the copy of the whole header ReverseProxy makes first, cost about
// as much as the proxying itself (bench/README.md). For the requests that need none of
// ReverseProxy's machinery, the direct path writes the request from the inbound header
// straight onto a kept-alive HTTP/1.1 connection and reads the answer with net/http's
// own parser (http.ReadResponse), in the handler's goroutine. It sends exactly what
// ReverseProxy would send (the same dropsClient, added and filterResponse rules; see
// TestDirectMatchesReverseProxy and FuzzDirectMatchesReverseProxy) and answers failures
// through the same error handler.
//
// Everything else goes through ReverseProxy: https upstreams, upgrades (WebSockets),
// Expect: 100-continue, request bodies of unknown length, with trailers or larger than
// maxDirectBody (an upstream may answer before it has read a large body, which only the
// Transport's concurrent reader sees).

// maxDirectBody is the largest request body the direct path sends (it writes the whole
// request before it reads the answer).
const maxDirectBody = 64 << 10

// livenessAfter is how long a connection may sit idle before it is checked for a close
// by the upstream before reuse (Node.js closes idle connections after 5 s, gunicorn
// after 2 s): the Transport notices such a close with its reading goroutine, the direct
// path with one non-blocking peek (alive_unix.go).
const livenessAfter = 200 * time.Millisecond

// max1xx bounds the informational responses before the final one (net/http leaves the
// bound to ReverseProxy, which sets none; their headers also count against the one
// header budget with the final answer's).
const max1xx = 32

// takesDirect reports whether r can go by the direct path (given an http upstream).
func takesDirect(r *http.Request) bool {
	if r.ContentLength < 0 || r.ContentLength > maxDirectBody || r.Trailer != nil || r.Method == http.MethodConnect {
		return false
	}
	h := r.Header
	return len(h["Upgrade"]) == 0 && len(h["Expect"]) == 0
}

// direct holds the connection pools of the direct path, one per upstream host:port,
// shared by every Proxy built on the same Transport.
type direct struct {
	dialer         *net.Dialer
	headerTimeout  time.Duration // 0: none
	maxIdle        int
	idleTimeout    time.Duration
	maxHeaderBytes int64
	pools          sync.Map // host:port → *connPool
}

func (d *direct) pool(addr string) *connPool {
	if p, ok := d.pools.Load(addr); ok {
		if cp, ok := p.(*connPool); ok {
			return cp
		}
	}
	p, _ := d.pools.LoadOrStore(addr, &connPool{d: d, addr: addr})
	cp, _ := p.(*connPool)
	return cp
}

func (d *direct) closeIdle() {
	d.pools.Range(func(_, v any) bool {
		if cp, ok := v.(*connPool); ok {
			cp.closeIdle()
		}
		return true
	})
}

// hostPort is the address to dial for an http URL (port 80 when it names none).
func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	return net.JoinHostPort(u.Hostname(), "80")
}

// connPool keeps the idle connections to one upstream, most recently used last.
type connPool struct {
	d    *direct
	addr string

	mu    sync.Mutex
	idle  []*upConn
	sweep *time.Timer // closes connections idle for idleTimeout; nil when none is idle
}

// get returns an idle connection (reused true) or dials a new one.
func (p *connPool) get(ctx context.Context) (c *upConn, reused bool, err error) {
	now := time.Now()
	p.mu.Lock()
	for n := len(p.idle); n > 0; n = len(p.idle) {
		c = p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		idle := now.Sub(c.idleAt)
		if idle < p.d.idleTimeout && (idle < livenessAfter || alive(c.conn)) {
			return c, true, nil
		}
		_ = c.conn.Close()
		p.mu.Lock()
	}
	p.mu.Unlock()
	conn, err := p.d.dialer.DialContext(ctx, "tcp", p.addr)
	if err != nil {
		return nil, false, err
	}
	return newUpConn(conn), false, nil
}

// put keeps c for the next request, or closes it when the pool is full.
func (p *connPool) put(c *upConn) {
	c.idleAt = time.Now()
	p.mu.Lock()
	if len(p.idle) >= p.d.maxIdle {
		p.mu.Unlock()
		_ = c.conn.Close()
		return
	}
	p.idle = append(p.idle, c)
	if p.sweep == nil {
		p.sweep = time.AfterFunc(p.d.idleTimeout, p.expire)
	}
	p.mu.Unlock()
}

// expire closes the connections idle for idleTimeout (the oldest come first) and runs
// again when the next one is due.
func (p *connPool) expire() {
	now := time.Now()
	p.mu.Lock()
	n := 0
	for n < len(p.idle) && now.Sub(p.idle[n].idleAt) >= p.d.idleTimeout {
		n++
	}
	old := make([]*upConn, n)
	copy(old, p.idle[:n])
	rest := copy(p.idle, p.idle[n:])
	clear(p.idle[rest:])
	p.idle = p.idle[:rest]
	if rest > 0 {
		p.sweep.Reset(p.d.idleTimeout - now.Sub(p.idle[0].idleAt))
	} else {
		p.sweep = nil
	}
	p.mu.Unlock()
	for _, c := range old {
		_ = c.conn.Close()
	}
}

func (p *connPool) closeIdle() {
	p.mu.Lock()
	old := p.idle
	p.idle = nil
	if p.sweep != nil {
		p.sweep.Stop()
		p.sweep = nil
	}
	p.mu.Unlock()
	for _, c := range old {
		_ = c.conn.Close()
	}
}

// upConn is one kept-alive connection to an upstream.
type upConn struct {
	conn   net.Conn
	in     budgetReader // conn, with a byte budget while a response header is read
	br     *bufio.Reader
	bw     *bufio.Writer
	idleAt time.Time

	mu      sync.Mutex
	aborted bool // the request's context ended: deadlines stay in the past
}

func newUpConn(conn net.Conn) *upConn {
	c := &upConn{conn: conn, in: budgetReader{r: conn, n: -1}}
	c.br = bufio.NewReaderSize(&c.in, 4<<10)
	c.bw = bufio.NewWriterSize(conn, 4<<10)
	return c
}

// abort makes every read and write on c fail at once: the request's context ended.
func (c *upConn) abort() {
	c.mu.Lock()
	c.aborted = true
	_ = c.conn.SetDeadline(time.Unix(1, 0))
	c.mu.Unlock()
}

// setReadDeadline sets the read deadline unless c was aborted.
func (c *upConn) setReadDeadline(t time.Time) {
	c.mu.Lock()
	if !c.aborted {
		_ = c.conn.SetReadDeadline(t)
	}
	c.mu.Unlock()
}

// budgetReader reads from r, at most n more bytes when n ≥ 0.
type budgetReader struct {
	r io.Reader
	n int64
}

var errHeaderTooLarge = errors.New("upstream response header too large")

func (b *budgetReader) Read(p []byte) (int, error) {
	if b.n < 0 {
		return b.r.Read(p)
	}
	if b.n == 0 {
		return 0, errHeaderTooLarge
	}
	if int64(len(p)) > b.n {
		p = p[:b.n]
	}
	n, err := b.r.Read(p)
	b.n -= int64(n)
	return n, err
}

// errNothingReceived wraps a failure before the upstream sent a byte of its answer: on a
// reused connection, the upstream had closed it, and a replayable request is sent again
// on another.
type errNothingReceived struct{ err error }

// nothingReceived marks err as errNothingReceived unless it is a timeout (an upstream
// too slow to answer is not asked again).
func nothingReceived(err error) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return err
	}
	return errNothingReceived{err}
}

func (e errNothingReceived) Error() string { return e.err.Error() }
func (e errNothingReceived) Unwrap() error { return e.err }

// forwardDirect forwards r on a pooled connection and copies the answer to w.
func (p *Proxy) forwardDirect(w http.ResponseWriter, r *http.Request, h *routeProxy, f *forwarding) {
	ctx := r.Context()
	var (
		c   *upConn
		res *http.Response
		err error
	)
	stop := func() bool { return true }
	for attempt := 0; ; attempt++ {
		var reused bool
		c, reused, err = h.pool.get(ctx)
		if err != nil {
			break
		}
		stop = context.AfterFunc(ctx, c.abort)
		res, err = p.exchange(w, r, c, h, f)
		if err == nil {
			break
		}
		stop()
		_ = c.conn.Close()
		var nothing errNothingReceived
		if !reused || !errors.As(err, &nothing) || !replayable(r) || attempt == 2 || ctx.Err() != nil {
			break
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			err = context.Cause(ctx) // the client went away (or the server is shutting down)
		}
		p.errorHandler(w, r, newUpstreamError(h.route.Index, h.route.Target.Host, err))
		return
	}

	removeHopByHop(res.Header)
	p.filterResponse(res.Header, f)
	out := w.Header()
	copyHeader(out, res.Header)
	announced := len(res.Trailer)
	if announced > 0 {
		keys := make([]string, 0, announced)
		for k := range res.Trailer {
			keys = append(keys, k)
		}
		out.Add("Trailer", strings.Join(keys, ", "))
	}
	w.WriteHeader(res.StatusCode)
	stream := streams(res)
	if stream {
		// The header goes out at once (a client of an event stream waits for it), as
		// ReverseProxy's immediate first flush sends it: no content-type sniffing.
		_ = http.NewResponseController(w).Flush()
	}
	copyErr := p.copyBody(w, res.Body, stream)
	if copyErr != nil {
		stop()
		_ = c.conn.Close() // first, so that closing the body does not read the rest of it
		_ = res.Body.Close()
		panic(http.ErrAbortHandler) // as ReverseProxy: the client sees the answer cut short
	}
	_ = res.Body.Close() // at EOF: reads nothing more; the trailers are in res.Trailer
	if !stop() || res.Close || c.br.Buffered() > 0 {
		_ = c.conn.Close() // aborted, closed by the upstream, or it sent more than it said
	} else {
		h.pool.put(c)
	}
	if len(res.Trailer) > 0 {
		_ = http.NewResponseController(w).Flush() // chunked, so the trailers can follow
	}
	if len(res.Trailer) == announced {
		copyHeader(out, res.Trailer)
		return
	}
	for k, vv := range res.Trailer {
		for _, v := range vv {
			out.Add(http.TrailerPrefix+k, v)
		}
	}
}

// exchange writes r on c and reads the upstream's final answer (forwarding its
// informational ones to w). The body is left to read.
func (p *Proxy) exchange(w http.ResponseWriter, r *http.Request, c *upConn, h *routeProxy, f *forwarding) (*http.Response, error) {
	if err := p.writeRequest(c.bw, r, h, f); err != nil {
		c.bw.Reset(c.conn)
		return nil, err
	}
	d := h.pool.d
	if err := c.bw.Flush(); err != nil {
		return nil, nothingReceived(err)
	}
	if d.headerTimeout > 0 {
		c.setReadDeadline(time.Now().Add(d.headerTimeout))
	}
	c.in.n = d.maxHeaderBytes
	if _, err := c.br.Peek(1); err != nil {
		return nil, nothingReceived(err)
	}
	var res *http.Response
	for n1xx := 0; ; n1xx++ {
		var err error
		res, err = http.ReadResponse(c.br, r)
		if err != nil {
			return nil, err
		}
		if res.StatusCode == http.StatusSwitchingProtocols {
			return nil, errors.New("upstream switched protocols without being asked to")
		}
		if res.StatusCode >= 200 {
			break
		}
		if n1xx == max1xx {
			return nil, errors.New("too many informational responses from the upstream")
		}
		p.forward1xx(w, res)
	}
	c.in.n = -1
	if d.headerTimeout > 0 {
		c.setReadDeadline(time.Time{})
	}
	return res, nil
}

// forward1xx passes an informational answer (103 Early Hints) to the client with its
// own headers, keeping those already set for the final answer.
func (p *Proxy) forward1xx(w http.ResponseWriter, res *http.Response) {
	h := w.Header()
	saved := h.Clone()
	clear(h)
	dropSetCookies(res.Header, p.cookieNames)
	copyHeader(h, res.Header)
	w.WriteHeader(res.StatusCode)
	clear(h)
	copyHeader(h, saved)
}

// replayable reports whether r may be sent again after the upstream closed a reused
// connection without answering: net/http's rule (no body, and a method that is
// idempotent, or an idempotency key).
func replayable(r *http.Request) bool {
	if r.ContentLength != 0 {
		return false
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	_, key := r.Header["Idempotency-Key"]
	_, xkey := r.Header["X-Idempotency-Key"]
	return key || xkey
}

// streams reports whether the answer is flushed after every read, as ReverseProxy does:
// an event stream, or a body of unknown length.
func streams(res *http.Response) bool {
	if res.ContentLength == -1 {
		return true
	}
	ct, _, _ := strings.Cut(res.Header.Get("Content-Type"), ";")
	return strings.EqualFold(strings.TrimSpace(ct), "text/event-stream")
}

// copyBody copies the upstream's body to w with a pooled buffer, flushing after every
// write when flush is set. A failed read from the upstream is logged (a failed write
// means the client went away).
func (p *Proxy) copyBody(w http.ResponseWriter, body io.Reader, flush bool) error {
	buf := p.buffers.Get()
	defer p.buffers.Put(buf)
	var rc *http.ResponseController
	if flush {
		rc = http.NewResponseController(w)
	}
	for {
		n, rerr := body.Read(buf)
		if n > 0 {
			if _, err := w.Write(buf[:n]); err != nil {
				return err
			}
			if rc != nil {
				if err := rc.Flush(); err != nil {
					return err
				}
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			if !errors.Is(rerr, context.Canceled) && !errors.Is(rerr, net.ErrClosed) {
				p.logger.Warn("proxy: upstream body read failed", "error", rerr.Error())
			}
			return rerr
		}
	}
}

// writeRequest writes r's request line and header for the upstream, and its body.
// The header is r's own with the same removals and additions as ReverseProxy's (hop-by-
// hop headers and those listed in Connection; dropsClient; the gateway's cookies unless
// the route passes them; added), without a copy of it. Errors: a header net/http would
// refuse to send (the Transport's check), or a failed body read.
func (p *Proxy) writeRequest(bw *bufio.Writer, r *http.Request, h *routeProxy, f *forwarding) error {
	route := h.route
	t := route.Target
	u := url.URL{RawQuery: t.RawQuery, ForceQuery: r.URL.ForceQuery}
	u.Path, u.RawPath = joinURLPath(t, r.URL)
	switch {
	case t.RawQuery == "":
		u.RawQuery = r.URL.RawQuery
	case r.URL.RawQuery != "":
		u.RawQuery = t.RawQuery + "&" + r.URL.RawQuery
	}
	if !validMethod(r.Method) {
		return fmt.Errorf("invalid method %q", r.Method)
	}
	_, _ = bw.WriteString(r.Method)
	_ = bw.WriteByte(' ')
	_, _ = bw.WriteString(u.RequestURI())
	_, _ = bw.WriteString(" HTTP/1.1\r\nHost: ")
	_, _ = bw.WriteString(t.Host)
	_, _ = bw.WriteString("\r\n")
	wr := wireHeader{bw: bw}
	in := r.Header
	if ua := in["User-Agent"]; len(ua) > 0 && ua[0] != "" {
		wr.set("User-Agent", ua[0])
	}
	switch {
	case r.ContentLength > 0:
		wr.set("Content-Length", strconv.FormatInt(r.ContentLength, 10))
	case r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodPatch:
		wr.set("Content-Length", "0")
	}
	conn := in["Connection"]
	for k, vv := range in {
		ck := textproto.CanonicalMIMEHeaderKey(k)
		if hopByHop(ck) || (len(conn) > 0 && listedIn(conn, ck)) || p.dropsClient(ck, route) {
			continue
		}
		switch ck {
		case "Host", "User-Agent", "Content-Length":
			continue
		case "Cookie":
			if !route.PassCookies {
				if v, changed := filterCookies(vv, p.cookieNames); changed {
					if v != "" {
						wr.set(ck, v)
					}
					continue
				}
			}
		}
		for _, v := range vv {
			wr.set(ck, v)
		}
	}
	if httpguts.HeaderValuesContainsToken(in["Te"], "trailers") {
		wr.set("Te", "trailers")
	}
	p.added(r, route, f, wr.set)
	if wr.err != nil {
		return wr.err
	}
	_, _ = bw.WriteString("\r\n")
	if r.ContentLength > 0 {
		if _, err := io.CopyN(bw, r.Body, r.ContentLength); err != nil {
			return fmt.Errorf("reading the request body: %w", err)
		}
	}
	return nil
}

// wireHeader writes header fields, checked as net/http's Transport checks them.
type wireHeader struct {
	bw  *bufio.Writer
	err error
}

func (w *wireHeader) set(k, v string) {
	if w.err != nil {
		return
	}
	if !httpguts.ValidHeaderFieldName(k) {
		w.err = fmt.Errorf("invalid header field name %q", k)
		return
	}
	if !httpguts.ValidHeaderFieldValue(v) {
		w.err = fmt.Errorf("invalid header field value for %q", k)
		return
	}
	_, _ = w.bw.WriteString(k)
	_, _ = w.bw.WriteString(": ")
	_, _ = w.bw.WriteString(textproto.TrimString(v))
	_, _ = w.bw.WriteString("\r\n")
}

// validMethod reports whether m is a token, as net/http requires of a method.
func validMethod(m string) bool {
	return m != "" && strings.IndexFunc(m, func(r rune) bool { return !httpguts.IsTokenRune(r) }) < 0
}

// hopByHop reports whether k (canonical) is a hop-by-hop header (RFC 9110 7.6.1, and
// those ReverseProxy removes).
func hopByHop(k string) bool {
	switch k {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
		"Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	return false
}

// listedIn reports whether the Connection header values conn name k (ASCII case-
// insensitive, as textproto canonicalisation compares).
func listedIn(conn []string, k string) bool {
	for _, v := range conn {
		for v != "" {
			var tok string
			tok, v, _ = strings.Cut(v, ",")
			if asciiEqualFold(textproto.TrimString(tok), k) {
				return true
			}
		}
	}
	return false
}

func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range len(a) {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// removeHopByHop deletes the hop-by-hop headers of an upstream's answer, those its
// Connection header lists included, as ReverseProxy does.
func removeHopByHop(h http.Header) {
	for _, f := range h["Connection"] {
		for sf := range strings.SplitSeq(f, ",") {
			if sf = textproto.TrimString(sf); sf != "" {
				h.Del(sf)
			}
		}
	}
	for _, k := range [...]string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
		"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"} {
		delete(h, k)
	}
}

// copyHeader adds every value of src to dst.
func copyHeader(dst, src http.Header) {
	for k, vv := range src {
		dst[k] = append(dst[k], vv...)
	}
}

// joinURLPath joins the target's path and the request's as ReverseProxy's SetURL does:
// one slash between them, and the escaped forms kept when either has one.
func joinURLPath(a, b *url.URL) (path, rawpath string) {
	if a.RawPath == "" && b.RawPath == "" {
		return singleJoiningSlash(a.Path, b.Path), ""
	}
	apath, bpath := a.EscapedPath(), b.EscapedPath()
	aslash, bslash := strings.HasSuffix(apath, "/"), strings.HasPrefix(bpath, "/")
	switch {
	case aslash && bslash:
		return a.Path + b.Path[1:], apath + bpath[1:]
	case !aslash && !bslash:
		return a.Path + "/" + b.Path, apath + "/" + bpath
	}
	return a.Path + b.Path, apath + bpath
}

func singleJoiningSlash(a, b string) string {
	aslash, bslash := strings.HasSuffix(a, "/"), strings.HasPrefix(b, "/")
	switch {
	case aslash && bslash:
		return a + b[1:]
	case !aslash && !bslash:
		return a + "/" + b
	}
	return a + b
}
