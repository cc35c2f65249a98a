package proxy

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/authgate/authgate/gateway/internal/routing"
)

// TestUpstreamResponseHygiene: an upstream cannot set the gateway's cookies, and its
// CORS headers give way to the gateway's answer on gateway-authenticated routes and
// wherever the gateway already answered CORS; on a public route the gateway did not
// answer, the upstream's own CORS stays.
func TestUpstreamResponseHygiene(t *testing.T) {
	t.Parallel()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h.Add("Set-Cookie", "access_token=forged; Path=/")
		h.Add("Set-Cookie", "refresh_token=forged; Path=/; HttpOnly")
		h.Add("Set-Cookie", " logged_in =true")
		h.Add("Set-Cookie", "theme=dark; Path=/")
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Access-Control-Allow-Credentials", "true")
		h.Set("access-control-expose-headers", "X-Secret")
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(up.Close)
	tests := []struct {
		name        string
		access      routing.Access
		gatewayCORS bool
		wantACAO    []string
	}{
		{"authenticated route: the gateway's CORS only", routing.Authenticated, true, []string{"https://app.example"}},
		{"authenticated route, no gateway CORS: none", routing.Authenticated, false, nil},
		{"public route with gateway CORS: no duplicate", routing.Public, true, []string{"https://app.example"}},
		{"public route without gateway CORS: the upstream's", routing.Public, false, []string{"*"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := newProxy(t, Options{})
			route := mustRoute(t, routing.Rule{Upstream: up.URL, Access: tt.access})
			var id *Identity
			if tt.access != routing.Public {
				id = &Identity{UserID: "u1", Role: "user"}
			}
			front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.gatewayCORS {
					w.Header().Set("Access-Control-Allow-Origin", "https://app.example")
				}
				p.Forward(w, r, decision(route, id))
			}))
			t.Cleanup(front.Close)
			res, err := http.Get(front.URL + "/x")
			if err != nil {
				t.Fatal(err)
			}
			_ = res.Body.Close()
			if got := res.Header["Set-Cookie"]; !slices.Equal(got, []string{"theme=dark; Path=/"}) {
				t.Errorf("Set-Cookie %q: the upstream set a gateway cookie", got)
			}
			if got := res.Header["Access-Control-Allow-Origin"]; !slices.Equal(got, tt.wantACAO) {
				t.Errorf("Access-Control-Allow-Origin %q, want %q", got, tt.wantACAO)
			}
			_, creds := res.Header["Access-Control-Allow-Credentials"]
			_, expose := res.Header["Access-Control-Expose-Headers"]
			if upstreamKept := !tt.gatewayCORS && tt.access == routing.Public; creds != upstreamKept || expose != upstreamKept {
				t.Errorf("upstream CORS headers kept: credentials %v, expose %v", creds, expose)
			}
		})
	}
}
