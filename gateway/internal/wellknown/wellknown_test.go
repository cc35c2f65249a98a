package wellknown

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/authgate/authgate/authsvc"
)

type keysFunc func() []authsvc.JWK

func (f keysFunc) JWKS() []authsvc.JWK { return f() }

func serve(t *testing.T, h *Handler, method string) *httptest.ResponseRecorder {
	t.Helper()
	e := echo.New()
	e.Match([]string{http.MethodGet, http.MethodHead}, JWKSPath, h.JWKS)
	w := httptest.NewRecorder()
	e.ServeHTTP(w, httptest.NewRequest(method, JWKSPath, nil))
	return w
}

// TestJWKS: the set is {"keys": [...]} with the keys as given, JSON, cacheable for five
// minutes, read again at every request; an empty set is [] rather than null.
func TestJWKS(t *testing.T) {
	set := []authsvc.JWK{{Kty: "OKP", Use: "sig", Alg: "EdDSA", Kid: "k1", Crv: "Ed25519", X: "AAAA"}}
	h := New(keysFunc(func() []authsvc.JWK { return set }))
	w := serve(t, h, http.MethodGet)
	if w.Code != http.StatusOK || w.Header().Get("Cache-Control") != "public, max-age=300" ||
		w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("got %d %v", w.Code, w.Header())
	}
	var doc map[string][]map[string]string
	if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil || len(doc) != 1 || len(doc["keys"]) != 1 {
		t.Fatalf("body %s: %v", w.Body, err)
	}
	if k := doc["keys"][0]; k["kid"] != "k1" || k["kty"] != "OKP" || k["alg"] != "EdDSA" || k["use"] != "sig" || k["x"] != "AAAA" {
		t.Errorf("key %v", k)
	}
	set = nil
	if w := serve(t, h, http.MethodGet); w.Body.String() != `{"keys":[]}` {
		t.Errorf("empty set: %s", w.Body)
	}
	if w := serve(t, h, http.MethodHead); w.Code != http.StatusOK {
		t.Errorf("HEAD: %d", w.Code)
	}
}
