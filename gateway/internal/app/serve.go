package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"sync"
	"time"

	"log/slog"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"

	"github.com/authgate/authgate/gateway/internal/forwardauth"
	"github.com/authgate/authgate/gateway/internal/server"
	"github.com/authgate/authgate/gateway/internal/sockets"
)

// Serve runs the edge server on the configured address until ctx ends, then shuts down
// gracefully (SECURITY.md R4): /readyz answers 503 for the drain delay, the listener
// closes, in-flight requests (proxied ones too) get the shutdown timeout to finish; past
// it their contexts are cancelled and connections closed. Serve returns only when no
// handler is running, so the stores can be closed after it. It logs "listening" with the
// bound address once it accepts connections.
func (a *App) Serve(ctx context.Context) error {
	transport := a.NewTransport()
	defer transport.CloseIdleConnections()
	watcher := sockets.New(a.Accounts, a.Config.Proxy.WebSocketCheckInterval, a.Log)
	// Revocations close sockets at once; a role change closes the user's sockets too, so
	// that a reconnect is decided under the new role.
	a.Accounts.OnRevoke(watcher.Revoked)
	wctx, stopWatching := context.WithCancel(context.WithoutCancel(ctx))
	accountsDone := make(chan struct{})
	defer func() {
		stopWatching()
		<-accountsDone // the audit events still queued are written before the stores close
	}()
	go watcher.Run(wctx)
	go func() { // the revocation channel (session cache and sockets), the audit writer
		a.Accounts.Run(wctx)
		close(accountsDone)
	}()
	srv, err := a.Handler(transport, watcher)
	if err != nil {
		return err
	}
	return serve(ctx, a, srv, watcher)
}

func serve(ctx context.Context, a *App, srv *server.Server, watcher *sockets.Watcher) error {
	cfg, log := a.Config, a.Log
	baseCtx, cancelRequests := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelRequests()
	var inflight tracker
	hs := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			inflight.start()
			defer inflight.done()
			srv.ServeHTTP(w, r)
		}),
		BaseContext:       func(net.Listener) context.Context { return baseCtx },
		ReadHeaderTimeout: cfg.Server.ReadHeaderTimeout,
		ReadTimeout:       cfg.Server.ReadTimeout,
		WriteTimeout:      cfg.Server.WriteTimeout,
		IdleTimeout:       cfg.Server.IdleTimeout,
		MaxHeaderBytes:    cfg.Server.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	stopGRPC, err := serveGRPC(ctx, a, srv)
	if err != nil {
		_ = ln.Close()
		return err
	}
	defer stopGRPC()
	stopPprof, err := servePprof(ctx, a)
	if err != nil {
		_ = ln.Close()
		return err
	}
	defer stopPprof()
	log.Info("listening", "addr", ln.Addr().String(), "mode", cfg.Mode)
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down", "drain_delay", cfg.Server.DrainDelay.String())
	srv.Drain()
	time.Sleep(cfg.Server.DrainDelay)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.Server.ShutdownTimeout)
	defer cancel()
	shutdownErr := hs.Shutdown(sctx)
	if n := watcher.CloseAll(); n > 0 { // hijacked: Shutdown does not wait for them
		log.Info("upgraded connections closed for shutdown", "sockets", n)
	}
	if shutdownErr != nil {
		log.Warn("shutdown timeout passed; cancelling the requests still running", "error", shutdownErr)
		cancelRequests()
		_ = hs.Close()
	}
	inflight.wait()
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	if shutdownErr != nil {
		return fmt.Errorf("shutdown: %w", shutdownErr)
	}
	return nil
}

// tracker counts running handlers. Unlike a sync.WaitGroup it may be started while
// someone waits (a request on a kept-alive connection can begin during Shutdown), so
// the count can never race the wait.
type tracker struct {
	mu   sync.Mutex
	n    int
	idle *sync.Cond
}

func (t *tracker) start() {
	t.mu.Lock()
	t.n++
	t.mu.Unlock()
}

func (t *tracker) done() {
	t.mu.Lock()
	t.n--
	if t.n == 0 && t.idle != nil {
		t.idle.Broadcast()
	}
	t.mu.Unlock()
}

// wait returns when no handler runs.
func (t *tracker) wait() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.idle == nil {
		t.idle = sync.NewCond(&t.mu)
	}
	for t.n > 0 {
		t.idle.Wait()
	}
}

// serveGRPC starts Envoy's ext_authz gRPC listener when authz.grpc_listen is set and
// returns the function that stops it (gracefully, within the shutdown timeout; safe to
// call twice). It logs "grpc listening" with the bound address.
func serveGRPC(ctx context.Context, a *App, srv *server.Server) (func(), error) {
	addr := a.Config.Authz.GRPCListen
	if addr == "" {
		return func() {}, nil
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("authz.grpc_listen: %w", err)
	}
	gs := grpc.NewServer(grpc.ConnectionTimeout(a.Config.Server.ReadHeaderTimeout))
	authv3.RegisterAuthorizationServer(gs, forwardauth.NewGRPC(srv.ForwardAuth))
	a.Log.Info("grpc listening", "addr", ln.Addr().String())
	go func() {
		if err := gs.Serve(ln); err != nil {
			a.Log.Warn("grpc listener stopped", "error", err)
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			done := make(chan struct{})
			go func() { gs.GracefulStop(); close(done) }()
			select {
			case <-done:
			case <-time.After(a.Config.Server.ShutdownTimeout):
				gs.Stop()
			}
		})
	}, nil
}

// servePprof serves net/http/pprof on server.pprof_listen when set and returns the
// function that stops it.
func servePprof(ctx context.Context, a *App) (func(), error) {
	addr := a.Config.Server.PprofListen
	if addr == "" {
		return func() {}, nil
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("server.pprof_listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: a.Config.Server.ReadHeaderTimeout}
	a.Log.Warn("pprof listening (unauthenticated: keep it on loopback)", "addr", ln.Addr().String())
	go func() { _ = hs.Serve(ln) }()
	return func() { _ = hs.Close() }, nil
}
