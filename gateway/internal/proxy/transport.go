package proxy

import (
	"crypto/tls"
	"net"
	"net/http"
	"sync"
	"time"
)

// Transport is the gateway's upstream transport: an *http.Transport for what
// httputil.ReverseProxy sends (https upstreams, upgrades, streamed request bodies), and
// the connection pools of the direct path to plain-http upstreams (direct.go). A Proxy
// built on it uses both; as an http.RoundTripper it is the *http.Transport alone.
type Transport struct {
	std    *http.Transport
	direct *direct
}

// NewTransport returns a Transport tuned for a gateway: dialTimeout bounds the TCP dial
// and the TLS handshake, responseHeaderTimeout the wait for the upstream's response
// headers after the request is written (SECURITY.md H8). Keep-alives with up to 256
// idle connections per upstream, closed after 90 s idle; HTTP/1.1 only; no proxy from
// the environment; no transparent gzip (the client's Accept-Encoding is forwarded as
// sent); response headers up to 1 MiB.
func NewTransport(dialTimeout, responseHeaderTimeout time.Duration) *Transport {
	const (
		maxIdlePerHost = 256
		idleTimeout    = 90 * time.Second
		maxHeaderBytes = 1 << 20
	)
	dialer := &net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}
	return &Transport{
		std: &http.Transport{
			Proxy:                  nil,
			DialContext:            dialer.DialContext,
			TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12},
			TLSHandshakeTimeout:    dialTimeout,
			ResponseHeaderTimeout:  responseHeaderTimeout,
			ExpectContinueTimeout:  time.Second,
			ForceAttemptHTTP2:      false,
			DisableCompression:     true,
			MaxIdleConns:           1024,
			MaxIdleConnsPerHost:    maxIdlePerHost,
			IdleConnTimeout:        idleTimeout,
			MaxResponseHeaderBytes: maxHeaderBytes,
		},
		direct: &direct{
			dialer:         dialer,
			headerTimeout:  responseHeaderTimeout,
			maxIdle:        maxIdlePerHost,
			idleTimeout:    idleTimeout,
			maxHeaderBytes: maxHeaderBytes,
		},
	}
}

// RoundTrip sends r with the *http.Transport.
func (t *Transport) RoundTrip(r *http.Request) (*http.Response, error) { return t.std.RoundTrip(r) }

// CloseIdleConnections closes every idle upstream connection, of both paths.
func (t *Transport) CloseIdleConnections() {
	t.std.CloseIdleConnections()
	t.direct.closeIdle()
}

// bufferSize is the copy buffer ReverseProxy would otherwise allocate for every
// response.
const bufferSize = 32 << 10

// bufferPool recycles copy buffers as array pointers, so Put does not allocate.
type bufferPool struct{ pool sync.Pool }

func newBufferPool() *bufferPool {
	return &bufferPool{pool: sync.Pool{New: func() any { return new([bufferSize]byte) }}}
}

func (p *bufferPool) Get() []byte {
	buf, _ := p.pool.Get().(*[bufferSize]byte)
	if buf == nil {
		buf = new([bufferSize]byte)
	}
	return buf[:]
}

func (p *bufferPool) Put(b []byte) {
	if len(b) < bufferSize {
		return // not one of ours
	}
	p.pool.Put((*[bufferSize]byte)(b))
}
