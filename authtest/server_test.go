package authtest_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/d5c4ca72/authtransport"
	"github.com/d5c4ca72/authtransport/authtest"
)

// newServer starts a server that the test closes.
func newServer(t *testing.T) *authtest.Server {
	t.Helper()
	srv := authtest.NewServer()
	t.Cleanup(srv.Close)
	return srv
}

// ctxWithClient returns a context that makes x/oauth2 use the server's client.
func ctxWithClient(t *testing.T, srv *authtest.Server) context.Context {
	return context.WithValue(t.Context(), oauth2.HTTPClient, srv.Client())
}

// get sends a GET to the resource with the given Authorization value.
func get(t *testing.T, srv *authtest.Server, path, authorization string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.ResourceURL(path), nil)
	require.NoError(t, err)
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { _ = resp.Body.Close() })
	return resp
}

// postToken sends a form to the token endpoint and decodes the JSON answer.
func postToken(t *testing.T, srv *authtest.Server, form url.Values, basic bool) (int, map[string]any, http.Header) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.TokenURL(), strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basic {
		req.SetBasicAuth(srv.ClientID, srv.ClientSecret)
	}
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var m map[string]any
	_ = json.Unmarshal(body, &m)
	return resp.StatusCode, m, resp.Header
}

func TestCoreRefreshAndResource(t *testing.T) {
	srv := newServer(t)
	tok := srv.NewExpiredToken()
	resp := get(t, srv, "items", "Bearer "+tok.AccessToken)
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Contains(t, resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`)

	ts := srv.Config().TokenSource(ctxWithClient(t, srv), tok.OAuth2())
	o, err := ts.Token()
	require.NoError(t, err)
	assert.NotEqual(t, tok.RefreshToken, o.RefreshToken, "rotation")
	resp = get(t, srv, "items", "Bearer "+o.AccessToken)
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	// reuse of the first refresh token revokes the grant.
	code, body, _ := postToken(t, srv, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}, true)
	assert.Equal(t, http.StatusBadRequest, code)
	assert.Equal(t, "invalid_grant", body["error"])
	resp = get(t, srv, "items", "Bearer "+o.AccessToken)
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)

	st := srv.Stats()
	assert.Equal(t, 1, st.Refreshes())
	assert.Equal(t, 1, st.RefreshTokenReuse)
	assert.Equal(t, 1, st.TokenRequests["refresh_token"]["invalid_grant"])
	assert.Equal(t, 1, st.ResourceRequests[authtest.OutcomeOK])
	assert.Equal(t, 1, st.ResourceRequests[authtest.OutcomeExpiredToken])
	assert.Equal(t, 1, st.ResourceRequests[authtest.OutcomeRevokedToken])
	_ = authtransport.TokenTypeBearer
	_ = time.Second
}
