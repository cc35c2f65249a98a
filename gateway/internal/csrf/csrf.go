// Package csrf refuses cross-site requests that would act with a browser's cookies
// (SECURITY.md C3), with Go's http.CrossOriginProtection: Sec-Fetch-Site where the
// browser sends it, else the Origin header against the host the client asked for. The
// gateway's own state-changing routes, cookie-authenticated proxied requests and the
// original requests behind forward auth are all checked by this one Checker.
package csrf

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/authgate/authgate/gateway/internal/forwarded"
)

// ErrCrossSite: a cross-site browser request to something that changes state.
var ErrCrossSite = errors.New("cross-site request refused")

// Checker decides whether a request is a cross-site browser request. It is immutable
// and safe for concurrent use.
type Checker struct {
	cop   *http.CrossOriginProtection
	trust *forwarded.Trust
}

// New returns a Checker that trusts the listed origins (scheme://host[:port]) besides
// the request's own; trust says which host the client asked for behind a proxy.
// Errors: an origin that is not one.
func New(trusted []string, trust *forwarded.Trust) (*Checker, error) {
	c := &Checker{cop: http.NewCrossOriginProtection(), trust: trust}
	for _, o := range trusted {
		if err := c.cop.AddTrustedOrigin(o); err != nil {
			return nil, fmt.Errorf("csrf: %w", err)
		}
	}
	if c.trust == nil {
		c.trust = &forwarded.Trust{}
	}
	return c, nil
}

// Check returns ErrCrossSite for a cross-site request with an unsafe method; safe
// methods (GET, HEAD, OPTIONS) and non-browser requests pass.
func (c *Checker) Check(r *http.Request) error {
	return c.check(r, r.Method)
}

// CheckState is Check for an endpoint that changes state whatever its method (GET
// /api/auth/logout and /api/auth/refresh): a link on another site must not log anyone
// out or rotate tokens.
func (c *Checker) CheckState(r *http.Request) error {
	return c.check(r, http.MethodPost)
}

// CheckOriginal checks a request a proxy in front described (forward auth): its method,
// the host the client asked for, and the client's own headers.
func (c *Checker) CheckOriginal(method, host string, header http.Header) error {
	return c.check(&http.Request{Method: method, Host: host, Header: header}, method)
}

func (c *Checker) check(r *http.Request, method string) error {
	host := c.trust.Host(r)
	if method != r.Method || host != r.Host {
		r2 := new(http.Request)
		*r2 = *r
		r2.Method, r2.Host = method, host
		r = r2
	}
	if err := c.cop.Check(r); err != nil {
		return fmt.Errorf("%w: %w", ErrCrossSite, err)
	}
	return nil
}
