package main

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/authgate/authgate/authsvc"
)

// keyPair64 generates a pair and returns it with both halves as base64 PEM (the seed's
// variable format).
func keyPair64(t *testing.T, alg string) (kp authsvc.KeyPair, priv, pub string) {
	t.Helper()
	kp, err := authsvc.GenerateKeyPair(alg)
	if err != nil {
		t.Fatal(err)
	}
	return kp, base64.StdEncoding.EncodeToString(kp.PrivatePEM), base64.StdEncoding.EncodeToString(kp.PublicPEM)
}

// jwtHeader decodes a token's JOSE header without verifying anything.
func jwtHeader(t *testing.T, tok string) map[string]any {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	if err != nil {
		t.Fatalf("token header: %v", err)
	}
	var h map[string]any
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatal(err)
	}
	return h
}

// jwksKids fetches /.well-known/jwks.json and returns its kids.
func jwksKids(t *testing.T, base string) []string {
	t.Helper()
	r := newClient(t, base).do("GET", "/.well-known/jwks.json", nil)
	expect(t, r, 200, "")
	if r.Header.Get("Cache-Control") != "public, max-age=300" {
		t.Errorf("JWKS Cache-Control %q", r.Header.Get("Cache-Control"))
	}
	var doc struct{ Keys []authsvc.JWK }
	if err := json.Unmarshal([]byte(r.Raw), &doc); err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, k := range doc.Keys {
		kids = append(kids, k.Kid)
	}
	return kids
}

// resign returns tok's claims signed again by priv (PKCS#8 PEM, RS256) under kid.
func resign(t *testing.T, tok string, priv []byte, kid string) string {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	claims := jwt.MapClaims{}
	if err := dec.Decode(&claims); err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(priv)
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	forged := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	forged.Header["kid"], forged.Header["typ"] = kid, "at+jwt"
	s, err := forged.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestKeyRotationAcrossRestarts (SECURITY.md T9) plays the README's rotation on one
// database, one Redis and one data dir, a gateway process per step. Gateway 1 signs with
// access key A (refresh key RA). Step 1: A still signs, B is verify-only, and a B-signed
// token is accepted. Step 2: B (RB) signs, A (RA) verify-only: nobody is logged out, the
// old refresh token rotates onto RB, new tokens carry B's kid, and a token naming B but
// signed by A fails. Step 3: A and RA retired: their tokens fail, B's work. The JWKS
// follows every step and never shows a refresh key.
func TestKeyRotationAcrossRestarts(t *testing.T) {
	db := fmt.Sprintf("rotate_%d", time.Now().UnixNano())
	env := gatewayEnv(t, db)
	routes, _ := json.Marshal([]map[string]any{{"path": "/echo", "upstream": echoUpstream(t), "policy": "authenticated"}})
	env["AUTHGATE_ROUTES"] = string(routes)
	a, aPriv, aPub := keyPair64(t, authsvc.RS256)
	b, bPriv, bPub := keyPair64(t, authsvc.RS256)
	ra, raPriv, raPub := keyPair64(t, authsvc.EdDSA)
	rb, rbPriv, _ := keyPair64(t, authsvc.EdDSA)

	start := func(access, accessPrev, refresh, refreshPrev string) (string, func()) {
		env["ACCESS_TOKEN_PRIVATE_KEY"], env["AUTHGATE_TOKENS__ACCESS_PREVIOUS_PUBLIC_KEYS"] = access, accessPrev
		env["REFRESH_TOKEN_PRIVATE_KEY"], env["AUTHGATE_TOKENS__REFRESH_PREVIOUS_PUBLIC_KEYS"] = refresh, refreshPrev
		base, cancel, errc := runGateway(t, env)
		return base, func() {
			cancel()
			if err := <-errc; err != nil {
				t.Fatalf("gateway stopped with %v", err)
			}
		}
	}
	bearer := func(base, tok, path string) response {
		return newClient(t, base).do("GET", path, nil, "Authorization", "Bearer "+tok)
	}
	refresh := func(base, rt string) response {
		return newClient(t, base).do("GET", "/api/auth/refresh", nil, "Cookie", "refresh_token="+rt)
	}
	login := func(base string) (access, refresh string) {
		r := newClient(t, base).do("POST", "/api/auth/login", map[string]string{"email": "rita@example.com", "password": "rita-password"})
		expect(t, r, 200, "")
		access, _ = r.Body["access_token"].(string)
		return access, setCookies(t, r)["refresh_token"].Value
	}
	kid := func(tok string) any { return jwtHeader(t, tok)["kid"] }

	// Gateway 1: A and RA.
	base, stop := start(aPriv, "", raPriv, "")
	expect(t, (&stack{}).register(t, newClient(t, base), "Rita", "rita@example.com", "rita-password"), 201, "")
	t1, r1 := login(base) // the session that goes on through every step
	_, r2 := login(base)  // a session whose refresh token stays unused until A is gone
	if kid(t1) != a.KeyID || kid(r1) != ra.KeyID {
		t.Fatalf("gateway 1 kids %v/%v, want %s/%s", kid(t1), kid(r1), a.KeyID, ra.KeyID)
	}
	expect(t, bearer(base, t1, "/echo"), 200, "")
	kids1 := jwksKids(t, base)
	if len(kids1) != 2 || kids1[0] != a.KeyID {
		t.Fatalf("gateway 1 JWKS %v: want A and the (generated) assertion key", kids1)
	}
	assertionKid := kids1[1]
	stop()

	// Step 1 of the README, for several replicas: A still signs, B is verify-only, so a
	// replica already signing with B is understood by this one.
	base, stop = start(aPriv, bPub, raPriv, "")
	if t0, _ := login(base); kid(t0) != a.KeyID {
		t.Fatal("a verify-only key signs")
	}
	expect(t, bearer(base, resign(t, t1, b.PrivatePEM, b.KeyID), "/echo"), 200, "")
	if got := jwksKids(t, base); !slices.Equal(got, []string{a.KeyID, b.KeyID, assertionKid}) {
		t.Errorf("step 1 JWKS %v: want A, B, then the assertion key", got)
	}
	stop()

	// Gateway 2: B and RB sign, A and RA verify only.
	base, stop = start(bPriv, aPub, rbPriv, raPub)
	expect(t, bearer(base, t1, "/echo"), 200, "")
	expect(t, bearer(base, t1, "/api/auth/me"), 200, "")
	if got := jwksKids(t, base); !slices.Equal(got, []string{b.KeyID, a.KeyID, assertionKid}) {
		t.Errorf("gateway 2 JWKS %v: want B, A, then the assertion key; no refresh key", got)
	}
	r := refresh(base, r1)
	expect(t, r, 200, "")
	t2, _ := r.Body["access_token"].(string)
	r1 = setCookies(t, r)["refresh_token"].Value
	if kid(t2) != b.KeyID || kid(r1) != rb.KeyID {
		t.Fatalf("refreshed on gateway 2: kids %v/%v, want %s/%s", kid(t2), kid(r1), b.KeyID, rb.KeyID)
	}
	if t3, r3 := login(base); kid(t3) != b.KeyID || kid(r3) != rb.KeyID {
		t.Fatalf("login on gateway 2: kids %v/%v", kid(t3), kid(r3))
	}
	expect(t, bearer(base, t2, "/echo"), 200, "")
	forged := resign(t, t1, a.PrivatePEM, b.KeyID) // B's kid, A's signature
	expect(t, bearer(base, forged, "/echo"), 401, "Invalid token or user doesn't exist")
	expect(t, bearer(base, forged, "/api/auth/me"), 401, "Invalid token or user doesn't exist")
	stop()

	// Gateway 3: A and RA retired.
	base, stop = start(bPriv, "", rbPriv, "")
	defer stop()
	expect(t, bearer(base, t1, "/echo"), 401, "Invalid token or user doesn't exist")
	expect(t, refresh(base, r2), 403, "Could not refresh access token")
	expect(t, bearer(base, t2, "/echo"), 200, "")
	expect(t, refresh(base, r1), 200, "")
	if got := jwksKids(t, base); !slices.Equal(got, []string{b.KeyID, assertionKid}) {
		t.Errorf("gateway 3 JWKS %v: want B and the assertion key", got)
	}
}
