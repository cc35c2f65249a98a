package proxy

import (
	"context"
	"errors"
	"fmt"
)

// Errors Forward hands to Options.ErrorHandler; test with errors.Is.
var (
	// ErrUpstream wraps every failure to get a response from the upstream:
	// refused or failed dial, TLS, a broken connection, a timeout. The original
	// error stays in the chain (context.Canceled when the client went away).
	ErrUpstream = errors.New("proxy: upstream unavailable")
	// ErrUpstreamTimeout is also matched when the failure was a timeout (dial,
	// response header or request deadline); a mapper may answer 504 for it.
	ErrUpstreamTimeout = errors.New("proxy: upstream timed out")
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
