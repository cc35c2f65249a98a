// Command plainproxy is the benchmark suite's baseline (bench/README.md): Echo v4 in
// front of one httputil.ReverseProxy, with no authentication and no logging, and a
// transport tuned like the gateway's (keep-alive pool large enough for the load, HTTP/1.1,
// no transparent compression, pooled copy buffers), so that what authgate adds on top is
// all the comparison shows.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/labstack/echo/v4"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "plainproxy:", err)
		stop()
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("plainproxy", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "listen address")
	upstream := fs.String("upstream", "", "upstream base URL, e.g. http://127.0.0.1:8081")
	if err := fs.Parse(args); err != nil {
		return err
	}
	target, err := url.Parse(*upstream)
	if err != nil || target.Scheme == "" || target.Host == "" {
		return fmt.Errorf("-upstream %q: want an absolute http URL", *upstream)
	}

	rp := httputil.NewSingleHostReverseProxy(target)
	rp.Transport = newTransport()
	rp.BufferPool = newBufferPool()
	rp.ErrorLog = log.New(io.Discard, "", 0)

	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.Logger.SetOutput(io.Discard)
	e.Any("/*", echo.WrapHandler(rp))

	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	hs := &http.Server{
		Handler: e,
		// The gateway's default server timeouts, so that both set the same deadlines.
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	// The one line the benchmark runner waits for, in the gateway's log shape.
	fmt.Fprintf(stdout, "{\"msg\":\"listening\",\"addr\":%q}\n", ln.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// newTransport mirrors the gateway's tuning: HTTP/1.1 keep-alive with a pool larger than
// any load the suite applies, no proxy from the environment, no transparent gzip.
func newTransport() *http.Transport {
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     false,
		DisableCompression:    true,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   1024,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
	}
}

const bufferSize = 32 << 10

// bufferPool recycles ReverseProxy's copy buffers, as the gateway does.
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
	if len(b) >= bufferSize {
		p.pool.Put((*[bufferSize]byte)(b))
	}
}
