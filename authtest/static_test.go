package authtest_test

import (
	"encoding/base64"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d5c4ca72/authtransport"
	"github.com/d5c4ca72/authtransport/authtest"
)

func TestRequireStaticCredentials(t *testing.T) {
	srv := authtest.NewServer()
	defer srv.Close()
	srv.RequireBasic("/api/basic/", authtransport.Basic{Username: "alice", Password: "pässword"})
	srv.RequireAPIKey("/api/header", authtransport.APIKey{Header: "X-API-Key", Value: "k1"})
	srv.RequireAPIKey("/api/query", authtransport.APIKey{Query: "api_key", Value: "k2"})
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:pässword"))
	tests := []struct {
		name, path, header, value string
		status                    int
		challenge                 string
	}{
		{"Basic", "/api/basic/x", "Authorization", basic, 200, ""},
		{"wrong Basic", "/api/basic/x", "Authorization", "Basic bm8=", 401, `Basic realm="authtest", charset="UTF-8"`},
		{"no Basic", "/api/basic/x", "", "", 401, `Basic realm="authtest", charset="UTF-8"`},
		{"a token is no Basic", "/api/basic/x", "Authorization", "Bearer " + srv.NewToken().AccessToken, 401, `Basic realm="authtest", charset="UTF-8"`},
		{"key in header", "/api/header", "X-API-Key", "k1", 200, ""},
		{"wrong key", "/api/header", "X-API-Key", "k2", 401, ""},
		{"key in query", "/api/query?api_key=k2", "", "", 200, ""},
		{"no key in query", "/api/query", "", "", 401, ""},
		{"other paths still want tokens", "/api/other", "X-API-Key", "k1", 401, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, srv.URL+tt.path, nil)
			require.NoError(t, err)
			if tt.header != "" {
				req.Header.Set(tt.header, tt.value)
			}
			resp, err := srv.Client().Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, tt.status, resp.StatusCode)
			if tt.challenge != "" {
				assert.Equal(t, tt.challenge, resp.Header.Get("WWW-Authenticate"))
			}
		})
	}
	st := srv.Stats()
	assert.Equal(t, 3, st.ResourceRequests[authtest.OutcomeOK])
	assert.Equal(t, 5, st.ResourceRequests[authtest.OutcomeBadCredentials])

	srv.RequireBasic("/api/basic/", authtransport.Basic{})
	resp, err := srv.Client().Get(srv.URL + "/api/basic/x")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Contains(t, resp.Header.Get("WWW-Authenticate"), "Bearer", "the requirement is removed")
}
