// Package wellknown serves the gateway's /.well-known documents: the JSON Web Key Set
// upstreams verify access tokens and identity assertions with.
package wellknown

import (
	"encoding/json"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/authgate/authgate/authsvc"
)

// Keys are the public keys to publish (authsvc.Keys: access and assertion keys, never
// refresh keys).
type Keys interface {
	JWKS() []authsvc.JWK
}

// JWKSPath is where the key set is served.
const JWKSPath = "/.well-known/jwks.json"

// maxAge is how long upstreams and caches may keep the key set. A new key signs only
// once every replica verifies it (README "Key rotation"), and verifiers fetch again on an
// unknown kid, so five minutes delays nothing.
const maxAge = "public, max-age=300"

// Handler serves the key set.
type Handler struct {
	keys Keys
}

// New returns a Handler publishing keys.
func New(keys Keys) *Handler { return &Handler{keys: keys} }

// JWKS answers the RFC 7517 key set {"keys": [...]}, read from the keys at each request
// (a key swap shows at once), cacheable for five minutes.
func (h *Handler) JWKS(c echo.Context) error {
	keys := h.keys.JWKS()
	if keys == nil {
		keys = []authsvc.JWK{}
	}
	body, err := json.Marshal(struct {
		Keys []authsvc.JWK `json:"keys"`
	}{keys})
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", maxAge)
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, body)
}
