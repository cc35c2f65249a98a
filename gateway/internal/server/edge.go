package server

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/authgate/authgate/gateway/internal/httperr"
	"github.com/authgate/authgate/gateway/internal/proxy"
)

// edge is the gateway's fixed middleware, built once per runtime in front of Echo (whose
// own middleware chains are assembled anew on every request): panics become a 500 in the
// envelope, an h2c upgrade is refused, client identity headers are stripped before any
// routing (SECURITY.md H1, H9), the request id is set, CORS is answered, and one access
// log line is written per request, panics included. It allocates nothing that can be
// pooled.
type edge struct {
	s       *Server
	next    http.Handler
	aliases []string
	cors    *cors
	scopes  sync.Pool // *scope
	lines   sync.Pool // *[]byte, access-log lines
}

func (s *Server) newEdge(next http.Handler) *edge {
	e := &edge{
		s:       s,
		next:    next,
		aliases: append(s.deps.Headers.Names(), s.deps.StripHeaders...),
		cors:    newCORS(s.deps.CORSOrigins),
	}
	e.scopes.New = func() any { return new(scope) }
	e.lines.New = func() any { b := make([]byte, 0, 512); return &b }
	return e
}

func (e *edge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sc, _ := e.scopes.Get().(*scope)
	*sc = scope{ResponseWriter: w, status: http.StatusOK}
	start := time.Now()
	defer func() {
		v := recover()
		abort := v == http.ErrAbortHandler //nolint:errorlint // sentinel compared as net/http does
		if v != nil && !abort {
			e.s.log.ErrorContext(r.Context(), "panic", "panic", fmt.Sprint(v), "request_id", r.Header.Get(headerRequestID))
			if !sc.wrote {
				e.s.deps.Errors.Write(sc, r, fmt.Errorf("panic: %v", v))
			}
			sc.status = http.StatusInternalServerError
		}
		e.logAccess(r, sc, start)
		*sc = scope{}
		e.scopes.Put(sc)
		if abort {
			panic(v) // a client gone mid-proxy: net/http handles it silently
		}
	}()
	h := r.Header
	if upgradesTo(h, "h2c") {
		e.s.deps.Errors.Write(sc, r, httperr.ErrUpgradeRefused)
		return
	}
	proxy.StripIdentityHeaders(h, e.aliases)
	id := h.Get(headerRequestID)
	if !validRequestID(id) {
		id = e.s.newRequestID()
		h.Set(headerRequestID, id)
	}
	sc.Header().Set(headerRequestID, id)
	if e.cors.handle(sc, r) {
		return // a preflight, answered
	}
	e.next.ServeHTTP(sc, r)
}

// scope is one request's response writer: it remembers the status for the access log
// and the user the request was decided for (setUserID).
type scope struct {
	http.ResponseWriter
	status int
	wrote  bool
	userID string
	path   string // logged in place of the request's path when set (setLogPath)
}

func (s *scope) WriteHeader(code int) {
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		s.ResponseWriter.WriteHeader(code) // informational: the final status is still to come
		return
	}
	if !s.wrote {
		s.status, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *scope) Write(b []byte) (int, error) {
	s.wrote = true
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (Flush for streams, Hijack
// for WebSockets, deadlines).
func (s *scope) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Hijack is here for callers that type-assert http.Hijacker (ResponseController uses
// Unwrap); the status is 101, for the log.
func (s *scope) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	s.status, s.wrote = http.StatusSwitchingProtocols, true
	return http.NewResponseController(s.ResponseWriter).Hijack()
}

// Flush passes a flush on.
func (s *scope) Flush() { _ = http.NewResponseController(s.ResponseWriter).Flush() }

// setUserID records the caller for the access log; w is the handler's writer.
func setUserID(w http.ResponseWriter, id string) {
	if sc := scopeOf(w); sc != nil {
		sc.userID = id
	}
}

// setLogPath makes the access log show path instead of the request's (a route pattern
// in place of a path holding a secret).
func setLogPath(w http.ResponseWriter, path string) {
	if sc := scopeOf(w); sc != nil {
		sc.path = path
	}
}

// scopeOf finds the edge's writer under w, or nil outside the edge.
func scopeOf(w http.ResponseWriter) *scope {
	for w != nil {
		if sc, ok := w.(*scope); ok {
			return sc
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return nil
		}
		w = u.Unwrap()
	}
	return nil
}

// logAccess writes the request's line: never the query string, cookies or tokens
// (SECURITY.md C2). It is encoded by hand, field by field, like the JSON handler's lines.
func (e *edge) logAccess(r *http.Request, sc *scope, start time.Time) {
	level := "INFO"
	if sc.status >= 500 {
		level = "WARN"
	}
	bp, _ := e.lines.Get().(*[]byte)
	b := (*bp)[:0]
	b = append(b, `{"time":"`...)
	b = time.Now().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","level":"`...)
	b = append(b, level...)
	b = append(b, `","msg":"request","method":`...)
	b = appendJSONString(b, r.Method)
	b = append(b, `,"path":`...)
	path := r.URL.Path
	if sc.path != "" {
		path = sc.path
	}
	b = appendJSONString(b, path)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(sc.status), 10)
	b = append(b, `,"duration_ms":`...)
	b = strconv.AppendFloat(b, float64(time.Since(start).Microseconds())/1000, 'f', -1, 64)
	b = append(b, `,"ip":`...)
	b = appendJSONString(b, e.s.deps.Trust.ClientIP(r))
	b = append(b, `,"user_id":`...)
	b = appendJSONString(b, sc.userID)
	b = append(b, `,"request_id":`...)
	b = appendJSONString(b, r.Header.Get(headerRequestID))
	b = append(b, "}\n"...)
	_, _ = e.s.deps.AccessLog.Write(b)
	*bp = b
	e.lines.Put(bp)
}

// appendJSONString appends s as a JSON string: quotes, backslashes and control
// characters escaped, invalid UTF-8 replaced.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+n]...)
		}
		i += n
	}
	return append(b, '"')
}

// upgradesTo reports whether an Upgrade header asks for protocol (any case, any of a
// list).
func upgradesTo(h http.Header, protocol string) bool {
	for _, v := range h.Values("Upgrade") {
		for p := range strings.SplitSeq(v, ",") {
			name, _, _ := strings.Cut(strings.TrimSpace(p), "/")
			if strings.EqualFold(name, protocol) {
				return true
			}
		}
	}
	return false
}

// cors answers credentialed CORS for exactly the configured origins, never "*"
// (SECURITY.md C4), on every route, proxied ones included.
type cors struct {
	allowed map[string]bool
}

func newCORS(origins []string) *cors {
	c := &cors{allowed: make(map[string]bool, len(origins))}
	for _, o := range origins {
		c.allowed[strings.TrimRight(o, "/")] = true
	}
	return c
}

// Header values of the gateway's CORS answers.
const (
	corsMethods = "GET,HEAD,POST,PUT,PATCH,DELETE"
	corsHeaders = "Content-Type,Authorization,X-Requested-With," + headerRequestID
	corsMaxAge  = "600"
)

// handle sets the CORS headers for r and reports whether it answered a preflight
// itself. A request without Origin, or from an origin that is not configured, gets no
// CORS header (a preflight from such an origin goes on to the route, whose upstream may
// answer for its own public resources).
func (c *cors) handle(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return false
	}
	h := w.Header()
	h.Add("Vary", "Origin")
	if !c.allowed[origin] {
		return false
	}
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Access-Control-Allow-Credentials", "true")
	if r.Method != http.MethodOptions || r.Header.Get("Access-Control-Request-Method") == "" {
		h.Set("Access-Control-Expose-Headers", headerRequestID)
		return false
	}
	h.Add("Vary", "Access-Control-Request-Method")
	h.Add("Vary", "Access-Control-Request-Headers")
	h.Set("Access-Control-Allow-Methods", corsMethods)
	h.Set("Access-Control-Allow-Headers", corsHeaders)
	h.Set("Access-Control-Max-Age", corsMaxAge)
	w.WriteHeader(http.StatusNoContent)
	return true
}
