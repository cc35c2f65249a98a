package main

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestWhoami checks that /api/whoami echoes the identity headers it received, with no
// MongoDB behind the app (users is nil: touching it would panic).
func TestWhoami(t *testing.T) {
	srv := httptest.NewServer((&app{log: slog.New(slog.NewTextHandler(io.Discard, nil))}).routes())
	defer srv.Close()

	for _, tc := range []struct {
		name, id, role string
	}{
		{"identity", "65f0c0ffee0000000000beef", "user"},
		{"no identity", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, srv.URL+"/api/whoami", nil)
			if err != nil {
				t.Fatal(err)
			}
			if tc.id != "" {
				req.Header.Set("X-User-Id", tc.id)
				req.Header.Set("X-User-Role", tc.role)
			}
			res, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			if res.StatusCode != http.StatusOK {
				t.Fatalf("status %d, want 200", res.StatusCode)
			}
			if ct := res.Header.Get("Content-Type"); ct != "application/json; charset=UTF-8" {
				t.Errorf("Content-Type %q", ct)
			}
			var body struct {
				Status string `json:"status"`
				Data   struct {
					ID   string `json:"id"`
					Role string `json:"role"`
				} `json:"data"`
			}
			if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
				t.Fatal(err)
			}
			if body.Status != "success" || body.Data.ID != tc.id || body.Data.Role != tc.role {
				t.Errorf("got %+v, want success with id %q role %q", body, tc.id, tc.role)
			}
		})
	}

	res, err := srv.Client().Post(srv.URL+"/api/whoami", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.StatusCode == http.StatusOK {
		t.Errorf("POST /api/whoami answered 200; only GET is served")
	}
}
