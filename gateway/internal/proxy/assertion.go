package proxy

import (
	"net/http"

	"github.com/authgate/authgate/authsvc"
	"github.com/authgate/authgate/gateway/internal/routing"
)

// HeaderAssertion carries the signed identity assertion to upstreams of routes with
// Assertion. A client's copy never gets through: it is an X-Auth-* identity header.
const HeaderAssertion = "X-Auth-Assertion"

// Assertions signs identity assertions (authsvc.Assertions, which reuses each for half
// its lifetime, so this is cheap on the hot path).
type Assertions interface {
	// For returns the assertion of id for a request to audience.
	For(audience string, id authsvc.Identity) (string, error)
}

// setAssertion sets the route's identity assertion for id on h. When none can be signed
// the request goes on without one (logged): an upstream that requires it refuses the
// request, one that does not still has the identity headers.
func (p *Proxy) setAssertion(h http.Header, route *routing.Route, id authsvc.Identity) {
	if p.assertions == nil {
		return
	}
	tok, err := p.assertions.For(route.Audience(), id)
	if err != nil {
		p.logger.Error("identity assertion not signed; forwarding without it",
			"route", route.Index, "user_id", id.UserID, "error", err)
		return
	}
	h[HeaderAssertion] = []string{tok}
}
