package authtest_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d5c4ca72/authtransport/authtest"
)

func TestHandle(t *testing.T) {
	srv := newServer(t)
	var calls int
	srv.Handle("GET /api/items/{id}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		ti, ok := authtest.TokenInfoFromContext(r.Context())
		if !assert.True(t, ok, "the token info is in the context") {
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"id": r.PathValue("id"), "scope": ti.Scope})
	}))
	srv.Handle("POST /api/upload", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		b, err := io.ReadAll(r.Body)
		assert.NoError(t, err)
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, "%d bytes", len(b))
	}))
	tok := srv.IssueToken(authtest.Grant{Scope: "read"})
	srv.RequireScope("/api/items/secret", "admin")

	do := func(t *testing.T, method, path, body, auth string) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, srv.ResourceURL(path), strings.NewReader(body))
		require.NoError(t, err)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp, string(b)
	}

	tests := []struct {
		name, method, path, body, auth string
		wantStatus                     int
		wantBody                       string // contained in the answer
		wantCalls                      int
	}{
		{"mounted, with a path value", "GET", "items/42", "", "Bearer " + tok.AccessToken, 200, `{"id":"42","scope":"read"}`, 1},
		{"no token never reaches the handler", "GET", "items/42", "", "", 401, "unauthorized", 0},
		{"the scope demand comes first", "GET", "items/secret", "", "Bearer " + tok.AccessToken, 403, "insufficient_scope", 0},
		{"the whole body, beyond what is recorded", "POST", "upload", strings.Repeat("a", 200000), "Bearer " + tok.AccessToken, 201, "200000 bytes", 1},
		{"unmounted paths get the default answer", "GET", "other", "", "Bearer " + tok.AccessToken, 200, `"ok":true`, 0},
		{"an unmounted method too", "DELETE", "items/42", "", "Bearer " + tok.AccessToken, 200, `"ok":true`, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls = 0
			srv.ResetStats()
			resp, body := do(t, tt.method, tt.path, tt.body, tt.auth)
			assert.Equal(t, tt.wantStatus, resp.StatusCode, "status; body %s", body)
			assert.Contains(t, body, tt.wantBody, "body")
			assert.Equal(t, tt.wantCalls, calls, "calls of the mounted handler")
			reqs := srv.ResourceRequests()
			require.Len(t, reqs, 1, "the request is recorded")
			assert.Equal(t, tt.wantStatus, reqs[0].Status, "the recorded status is the one answered")
		})
	}

	for _, bad := range []string{"/token", "GET /other", "example.com/api/x", "GET example.com/api/x"} {
		assert.Panics(t, func() { srv.Handle(bad, http.NotFoundHandler()) }, "pattern %q", bad)
	}
	assert.Panics(t, func() { srv.Handle("GET /api/items/{id}", http.NotFoundHandler()) }, "a conflicting pattern")
}
