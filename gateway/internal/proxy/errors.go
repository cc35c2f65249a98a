package proxy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
)

// Errors ServeRoute hands to Options.ErrorHandler; test with errors.Is.
var (
	// ErrUpstream wraps every failure to get a response from the upstream:
	// refused or failed dial, TLS, a broken connection, a timeout. The original
	// error stays in the chain (context.Canceled when the client went away).
	ErrUpstream = errors.New("proxy: upstream unavailable")
	// ErrUpstreamTimeout is also matched when the failure was a timeout (dial,
	// response header or request deadline); a mapper may answer 504 for it.
	ErrUpstreamTimeout = errors.New("proxy: upstream timed out")
	// ErrUnauthenticated: the route is not public and the request carries no
	// identity. The server should have answered 401 before calling the proxy;
	// the proxy refuses rather than forward an anonymous request.
	ErrUnauthenticated = errors.New("proxy: route requires an identity")
	// ErrForbidden: the identity's role is not allowed on the route.
	ErrForbidden = errors.New("proxy: role not allowed on route")
	// ErrNoRoute: ServeRoute was called with a nil route or one without a Target
	// (not built by policy.NewTable).
	ErrNoRoute = errors.New("proxy: no usable route")
)

// upstreamError is an upstream failure for one route.
type upstreamError struct {
	route   int
	host    string
	err     error
	timeout bool
}

func newUpstreamError(route int, host string, err error) *upstreamError {
	var te interface{ Timeout() bool }
	timeout := errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &te) && te.Timeout())
	return &upstreamError{route: route, host: host, err: err, timeout: timeout}
}

func (e *upstreamError) Error() string {
	return fmt.Sprintf("proxy: route %d upstream %s: %v", e.route, e.host, e.err)
}

func (e *upstreamError) Unwrap() error { return e.err }

func (e *upstreamError) Is(target error) bool {
	return target == ErrUpstream || (e.timeout && target == ErrUpstreamTimeout)
}

// defaultErrorHandler answers in the seed's JSON envelope: 401 and 403 with the
// seed's messages for ErrUnauthenticated and ErrForbidden, 502 "Bad gateway"
// for everything else.
func defaultErrorHandler(w http.ResponseWriter, _ *http.Request, err error) {
	status, body := http.StatusBadGateway, `{"status":"error","message":"Bad gateway"}`
	switch {
	case errors.Is(err, ErrUnauthenticated):
		status, body = http.StatusUnauthorized, `{"status":"fail","message":"You are not logged in"}`
	case errors.Is(err, ErrForbidden):
		status, body = http.StatusForbidden, `{"status":"fail","message":"You are not allowed to perform this action"}`
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body + "\n"))
}
