package main

import (
	"context"
	"crypto"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/authgate/authgate/authsvc/storetest"
)

// jwksRelay serves the gateway's /.well-known/jwks.json once the gateway's address is
// known (upstream-demo must start first: the gateway's routes name it), counting fetches.
type jwksRelay struct {
	*httptest.Server
	gateway atomic.Pointer[string]
	fetches atomic.Int32
}

func newJWKSRelay(t *testing.T) *jwksRelay {
	r := &jwksRelay{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.fetches.Add(1)
		base := r.gateway.Load()
		if base == nil {
			http.Error(w, "gateway not started", http.StatusServiceUnavailable)
			return
		}
		res, err := http.Get(*base + "/.well-known/jwks.json")
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer res.Body.Close()
		w.WriteHeader(res.StatusCode)
		_, _ = io.Copy(w, res.Body)
	}))
	t.Cleanup(r.Close)
	return r
}

// rsaKeysOf fetches the gateway's JWKS and returns its RSA keys by kid (the development
// keys are RS256).
func rsaKeysOf(t *testing.T, base string) map[string]crypto.PublicKey {
	t.Helper()
	r := newClient(t, base).do("GET", "/.well-known/jwks.json", nil)
	var doc struct {
		Keys []struct{ Kty, Kid, Alg, N, E string }
	}
	if err := json.Unmarshal([]byte(r.Raw), &doc); err != nil {
		t.Fatal(err)
	}
	out := map[string]crypto.PublicKey{}
	for _, k := range doc.Keys {
		n, _ := base64.RawURLEncoding.DecodeString(k.N)
		e, _ := base64.RawURLEncoding.DecodeString(k.E)
		if k.Kty == "RSA" && k.Alg == "RS256" {
			out[k.Kid] = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		}
	}
	return out
}

// echoedAssertion is the X-Auth-Assertion the echo upstream received.
func echoedAssertion(t *testing.T, r response) string {
	t.Helper()
	expect(t, r, 200, "")
	headers, _ := r.Body["headers"].(map[string]any)
	var out []string
	for k, v := range headers {
		if strings.EqualFold(k, "X-Auth-Assertion") {
			for _, s := range v.([]any) {
				out = append(out, s.(string))
			}
		}
	}
	if len(out) > 1 {
		t.Fatalf("upstream got %d assertions: %v", len(out), out)
	}
	if len(out) == 0 {
		return ""
	}
	return out[0]
}

// TestAssertionEndToEnd: gateway → upstream-demo with assertions on. upstream-demo,
// configured with the gateway's JWKS and its audience, serves signed-in users, takes the
// caller from the assertion alone, and refuses requests without a valid one: through a
// route that sends none, from anyone who reaches it directly with X-User-* headers, and
// with an assertion addressed to another upstream. The assertion itself is checked
// against the JWKS here too; it is reused, re-signed after a role change, and a client's
// own X-Auth-Assertion never gets through.
func TestAssertionEndToEnd(t *testing.T) {
	db := fmt.Sprintf("assert_%d", time.Now().UnixNano())
	relay := newJWKSRelay(t)
	up := startUpstreamDemo(t, db, "--jwks-url", relay.URL, "--audience", "users-app")
	echo := echoUpstream(t)
	routes, _ := json.Marshal([]map[string]any{
		{"path": "/api/users/me", "match": "exact", "upstream": up, "policy": "authenticated", "assertion": true, "name": "users-app"},
		{"path": "/api/users", "upstream": up, "roles": []string{"admin"}, "assertion": true, "name": "users-app"},
		{"path": "/demo/asserted", "upstream": up, "policy": "authenticated", "assertion": true, "name": "users-app"},
		{"path": "/demo/plain", "upstream": up, "policy": "authenticated"},
		{"path": "/echo/named", "upstream": echo, "policy": "authenticated", "assertion": true, "name": "users-app"},
		{"path": "/echo/plain", "upstream": echo, "policy": "authenticated"},
		{"path": "/echo", "upstream": echo, "policy": "authenticated", "assertion": true},
	})
	env := gatewayEnv(t, db)
	env["AUTHGATE_ROUTES"] = string(routes)
	env["AUTHGATE_BOOTSTRAP__ADMIN_EMAIL"] = "admin@authgate.test"
	env["AUTHGATE_BOOTSTRAP__ADMIN_PASSWORD"] = "admin-password-1"
	base := startGateway(t, env)
	relay.gateway.Store(&base)

	s := &stack{base: base}
	alice := newClient(t, base)
	reg := s.register(t, alice, "Alice", "alice@example.com", "alice-password")
	expect(t, reg, 201, "")
	aliceID := reg.Body["data"].(map[string]any)["user"].(map[string]any)["id"].(string)
	s.login(t, alice, "alice@example.com", "alice-password")
	admin := newClient(t, base)
	s.login(t, admin, "admin@authgate.test", "admin-password-1")

	t.Run("through the gateway", func(t *testing.T) {
		r := alice.do("GET", "/api/users/me", nil)
		expect(t, r, 200, "")
		if !strings.Contains(r.Raw, aliceID) {
			t.Fatalf("me: %s", r.Raw)
		}
		r = admin.do("GET", "/api/users", nil)
		expect(t, r, 200, "")
		if r.Body["result"] != float64(2) {
			t.Fatalf("users: %s", r.Raw)
		}
		// upstream-demo's catch-all is behind the same check: with an assertion it is
		// reached (404), without one it refuses (401).
		expect(t, alice.do("GET", "/demo/asserted", nil), 404, "Route /demo/asserted not found")
		expect(t, alice.do("GET", "/demo/plain", nil), 401, "You are not logged in")
	})

	var named string
	t.Run("the assertion", func(t *testing.T) {
		named = echoedAssertion(t, alice.do("GET", "/echo/named", nil, "X-Auth-Assertion", "forged"))
		keys := rsaKeysOf(t, base)
		claims := jwt.MapClaims{}
		tok, err := jwt.NewParser(jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer("authgate"), jwt.WithAudience("users-app"),
			jwt.WithExpirationRequired(), jwt.WithIssuedAt()).ParseWithClaims(named, claims, func(tok *jwt.Token) (any, error) {
			kid, _ := tok.Header["kid"].(string)
			if k, ok := keys[kid]; ok {
				return k, nil
			}
			return nil, fmt.Errorf("kid %q not in the JWKS", kid)
		})
		if err != nil {
			t.Fatalf("assertion %q does not verify against the JWKS: %v", named, err)
		}
		if tok.Header["typ"] != "id+jwt" || claims["sub"] != aliceID || claims["role"] != "user" || claims["sid"] == "" ||
			claims["exp"].(float64)-claims["iat"].(float64) != 30 || claims["nbf"] != claims["iat"] || len(claims["jti"].(string)) != 22 {
			t.Errorf("header %v claims %v", tok.Header, claims)
		}
		if again := echoedAssertion(t, alice.do("GET", "/echo/named", nil)); again != named {
			t.Error("the assertion was not reused for the next request")
		}
		if got := echoedAssertion(t, alice.do("GET", "/echo/plain", nil, "X-Auth-Assertion", "forged", "x_auth_assertion", "forged")); got != "" {
			t.Errorf("a route without assertions passed on %q", got)
		}
		byUpstream := echoedAssertion(t, alice.do("GET", "/echo", nil))
		if c, _, err := jwt.NewParser().ParseUnverified(byUpstream, jwt.MapClaims{}); err != nil || c.Claims.(jwt.MapClaims)["aud"] != echo {
			t.Errorf("default audience: %v %v", c, err)
		}
	})

	t.Run("straight to upstream-demo", func(t *testing.T) {
		direct := func(path string, hdr ...string) response { return newClient(t, up).do("GET", path, nil, hdr...) }
		expect(t, direct("/api/users/me", "X-User-Id", aliceID, "X-User-Role", "admin"), 401, "You are not logged in")
		expect(t, direct("/api/users", "X-User-Id", aliceID, "X-User-Role", "admin"), 401, "You are not logged in")
		expect(t, direct("/api/users/me", "X-Auth-Assertion", "eyJhbGciOiJub25lIn0.e30."), 401, "You are not logged in")
		byUpstream := echoedAssertion(t, alice.do("GET", "/echo", nil))
		expect(t, direct("/api/users/me", "X-Auth-Assertion", byUpstream), 401, "You are not logged in") // another audience
		// Alice's genuine assertion: the caller is Alice with her role, whatever the headers say.
		expect(t, direct("/api/users", "X-Auth-Assertion", named, "X-User-Role", "admin"), 403, "You are not allowed to perform this action")
		r := direct("/api/users/me", "X-Auth-Assertion", named, "X-User-Id", "000000000000000000000000")
		expect(t, r, 200, "")
		if !strings.Contains(r.Raw, aliceID) {
			t.Fatalf("me with a genuine assertion: %s", r.Raw)
		}
		expect(t, direct("/healthz"), 200, "")
	})

	t.Run("role change", func(t *testing.T) {
		mc, err := mongo.Connect(options.Client().ApplyURI(storetest.MongoURI(t)))
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = mc.Disconnect(context.Background()) }()
		oid, _ := bson.ObjectIDFromHex(aliceID)
		if _, err := mc.Database(db).Collection("users").UpdateOne(t.Context(), bson.D{{Key: "_id", Value: oid}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "role", Value: "admin"}}}}); err != nil {
			t.Fatal(err)
		}
		expect(t, alice.do("GET", "/api/auth/refresh", nil), 200, "") // the session learns the role
		// The replicas' session caches hear of the change over Redis (at most
		// sessions.cache_ttl, 2s); the assertion must follow the identity the request
		// carries at once, never the half-life of a cached assertion.
		deadline := time.Now().Add(3 * time.Second)
		for {
			r := alice.do("GET", "/echo/named", nil)
			a := echoedAssertion(t, r)
			c, _, err := jwt.NewParser().ParseUnverified(a, jwt.MapClaims{})
			if err != nil {
				t.Fatal(err)
			}
			role := c.Claims.(jwt.MapClaims)["role"]
			headers, _ := r.Body["headers"].(map[string]any)
			if fmt.Sprint(headers["X-User-Role"]) != fmt.Sprintf("[%v]", role) {
				t.Fatalf("assertion role %v, X-User-Role %v", role, headers["X-User-Role"])
			}
			if role == "admin" {
				if a == named {
					t.Fatal("the old assertion came back")
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the role change never reached the assertion")
			}
			time.Sleep(50 * time.Millisecond)
		}
		expect(t, alice.do("GET", "/api/users", nil), 200, "")
	})

	if n := relay.fetches.Load(); n < 1 || n > 3 {
		t.Errorf("upstream-demo fetched the JWKS %d times for the whole test", n)
	}
}
