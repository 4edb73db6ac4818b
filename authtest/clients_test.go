package authtest_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/d5c4ca72/authtransport/authtest"
)

func TestPublicClient(t *testing.T) {
	srv := newServer(t)
	pub := srv.RegisterPublicClient("cli")
	assert.Equal(t, "cli", pub.ClientID)
	assert.Empty(t, pub.ClientSecret, "a public client has no secret")
	assert.Equal(t, oauth2.AuthStyleInParams, pub.Endpoint.AuthStyle)
	assert.Equal(t, srv.DeviceAuthURL(), pub.Endpoint.DeviceAuthURL)
	pub.RedirectURL = "http://127.0.0.1:1/cb"
	ctx := ctxWithClient(t, srv)
	verifier := oauth2.GenerateVerifier()

	code := func(t *testing.T, cfg *oauth2.Config) string {
		t.Helper()
		_, q := authorize(t, srv, cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)))
		require.NotEmpty(t, q.Get("code"), "the authorization endpoint knows the public client")
		return q.Get("code")
	}

	t.Run("code, then refresh, with the client_id alone", func(t *testing.T) {
		tok, err := pub.Exchange(ctx, code(t, pub), oauth2.VerifierOption(verifier))
		require.NoError(t, err, "code exchange by a public client")
		assert.Equal(t, http.StatusOK, get(t, srv, "x", "Bearer "+tok.AccessToken).StatusCode)
		tok.Expiry = tok.Expiry.Add(-2 * authtest.DefaultAccessTokenLifetime)
		refreshed, err := pub.TokenSource(ctx, tok).Token()
		require.NoError(t, err, "refresh by a public client")
		assert.NotEqual(t, tok.AccessToken, refreshed.AccessToken, "a new access token")
	})
	t.Run("basic with an empty password", func(t *testing.T) {
		hdr := *pub
		hdr.Endpoint.AuthStyle = oauth2.AuthStyleInHeader
		_, err := hdr.Exchange(ctx, code(t, pub), oauth2.VerifierOption(verifier))
		assert.NoError(t, err, "a public client may name itself in Basic with no password")
	})

	tests := []struct {
		name string
		form url.Values
		want string
	}{
		{"a public client with a secret", url.Values{"grant_type": {"client_credentials"}, "client_id": {"cli"}, "client_secret": {"x"}}, "invalid_client"},
		{"client credentials", url.Values{"grant_type": {"client_credentials"}, "client_id": {"cli"}}, "unauthorized_client"},
		{"an unknown client", url.Values{"grant_type": {"client_credentials"}, "client_id": {"nobody"}}, "invalid_client"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, body, _ := postToken(t, srv, tt.form, false)
			assert.Equal(t, tt.want, body["error"], "error code")
		})
	}

	t.Run("codes and refresh tokens are bound to their client", func(t *testing.T) {
		other := srv.RegisterPublicClient("other")
		other.RedirectURL = pub.RedirectURL
		_, err := other.Exchange(ctx, code(t, pub), oauth2.VerifierOption(verifier))
		requireOAuthError(t, err, "invalid_grant")

		tok, err := pub.Exchange(ctx, code(t, pub), oauth2.VerifierOption(verifier))
		require.NoError(t, err)
		_, body, _ := postToken(t, srv, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}, true)
		assert.Equal(t, "invalid_grant", body["error"], "the confidential client cannot refresh the public client's token")
	})
	t.Run("an unknown client at the authorization endpoint", func(t *testing.T) {
		cfg := *pub
		cfg.ClientID = "nobody"
		status, _ := authorize(t, srv, cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)))
		assert.Equal(t, http.StatusBadRequest, status, "no redirect for an unknown client")
	})
	assert.Panics(t, func() { srv.RegisterPublicClient(srv.ClientID) }, "the confidential client's id")
	assert.Panics(t, func() { srv.RegisterPublicClient("") }, "an empty id")
}
