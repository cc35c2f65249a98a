package proxy

import (
	"crypto/tls"
	"net"
	"net/http"
	"sync"
	"time"
)

// NewTransport returns an *http.Transport tuned for a gateway: dialTimeout bounds
// the TCP dial and the TLS handshake, responseHeaderTimeout the wait for the
// upstream's response headers after the request is written (SECURITY.md H8).
// Keep-alives with up to 256 idle connections per upstream; HTTP/1.1 only
// (ForceAttemptHTTP2 false); no proxy from the environment; no transparent
// gzip (the client's Accept-Encoding is forwarded as sent).
func NewTransport(dialTimeout, responseHeaderTimeout time.Duration) *http.Transport {
	dialer := &net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                  nil,
		DialContext:            dialer.DialContext,
		TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:    dialTimeout,
		ResponseHeaderTimeout:  responseHeaderTimeout,
		ExpectContinueTimeout:  time.Second,
		ForceAttemptHTTP2:      false,
		DisableCompression:     true,
		MaxIdleConns:           1024,
		MaxIdleConnsPerHost:    256,
		IdleConnTimeout:        90 * time.Second,
		MaxResponseHeaderBytes: 1 << 20,
	}
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
