package proxy

import (
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

// assertion returns the route's identity assertion for id. When none can be signed the
// request goes on without one (logged): an upstream that requires it refuses the
// request, one that does not still has the identity headers.
func (p *Proxy) assertion(route *routing.Route, id authsvc.Identity) (string, bool) {
	if p.assertions == nil {
		return "", false
	}
	tok, err := p.assertions.For(route.Audience(), id)
	if err != nil {
		p.logger.Error("identity assertion not signed; forwarding without it",
			"route", route.Index, "user_id", id.UserID, "error", err)
		return "", false
	}
	return tok, true
}
