package login_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/d5c4ca72/authtransport"
	"github.com/d5c4ca72/authtransport/authtest"
	"github.com/d5c4ca72/authtransport/filestore"
	"github.com/d5c4ca72/authtransport/login"
	"github.com/d5c4ca72/authtransport/wwwauth"
)

// The chain an MCP-style client runs, end to end against authtest with
// public APIs only: a 401 names the resource metadata (RFC 9728), which
// names the authorization server, whose metadata (RFC 8414) gives the
// endpoints; a login with them saves a token in a token file, and a
// request made with it succeeds.

// discoverAndLogin runs the chain from metadataURL, the resource_metadata
// of a 401 to resourceURL, with a browser login whose browser follows
// authtest's auto-approving /authorize, and returns the client config and
// the store holding the new token.
func discoverAndLogin(t *testing.T, ctx context.Context, srv *authtest.Server, metadataURL, resourceURL string) (*oauth2.Config, *filestore.Store) {
	t.Helper()
	var d login.Discovery
	rm, sm, err := d.ForResource(ctx, metadataURL, resourceURL)
	require.NoError(t, err, "discovery from %s", metadataURL)
	assert.Equal(t, srv.URL+"/api/", rm.Resource, "the resource's identifier")
	assert.Equal(t, srv.URL, sm.Issuer, "its authorization server")

	cfg := sm.Config("mcp-client", "", "read")
	b := &browser{client: srv.Client()}
	flow := &login.Browser{
		Config:        cfg,
		Issuer:        sm.Issuer,
		RequireIssuer: sm.AuthorizationResponseIssParameterSupported,
		Resource:      rm.Resource,
		Open:          b.Open,
		Output:        io.Discard,
	}
	store, err := filestore.New(filepath.Join(t.TempDir(), "token.json"))
	require.NoError(t, err)
	tok, err := login.Save(ctx, store, flow.Login)
	require.NoError(t, err, "login")
	assert.False(t, tok.ObtainedAt.IsZero(), "ObtainedAt set")
	return cfg, store
}

// get sends GET resourceURL through a Transport on store and returns the
// status.
func get(t *testing.T, ctx context.Context, srv *authtest.Server, cfg *oauth2.Config, store authtransport.Store, resourceURL string) int {
	t.Helper()
	client := &http.Client{Transport: &authtransport.Transport{
		Base:      srv.Client().Transport,
		Store:     store,
		Refresher: authtransport.NewOAuth2Refresher(cfg),
	}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, resourceURL, nil)
	require.NoError(t, err)
	resp, err := client.Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func TestChainFromA401(t *testing.T) {
	srv := newServer(t)
	srv.RegisterPublicClient("mcp-client")
	ctx := withClient(t.Context(), srv.Client())
	resourceURL := srv.ResourceURL("items")

	t.Run("first contact: a request without a token", func(t *testing.T) {
		resp, err := srv.Client().Get(resourceURL)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		challenges, err := wwwauth.Parse(resp.Header.Values("WWW-Authenticate")...)
		require.NoError(t, err)
		bearer, ok := wwwauth.First(challenges, wwwauth.SchemeBearer)
		require.True(t, ok, "a Bearer challenge")

		cfg, store := discoverAndLogin(t, ctx, srv, bearer.ResourceMetadata(), resourceURL)
		assert.Equal(t, http.StatusOK, get(t, ctx, srv, cfg, store, resourceURL), "a request with the new token")

		srv.RevokeAccessTokens()
		assert.Equal(t, http.StatusOK, get(t, ctx, srv, cfg, store, resourceURL), "refreshed with the public client's refresh token")
		assert.Equal(t, 1, srv.Stats().Refreshes())
	})

	t.Run("from the Transport's LoginRequiredError", func(t *testing.T) {
		// The resource refuses the token the Transport holds, before and
		// after a refresh, and says where its metadata is.
		srv.Reject("/api/", authtest.Rejection{Times: 2, WWWAuthenticate: []string{
			`Bearer error="invalid_token", resource_metadata="` + srv.MetadataURL() + `"`,
		}})
		old := authtransport.NewMemoryStore(srv.NewToken())
		_, err := (&http.Client{Transport: &authtransport.Transport{
			Base: srv.Client().Transport, Store: old, Refresher: authtransport.NewOAuth2Refresher(srv.Config()),
		}}).Get(resourceURL)
		var lr *authtransport.LoginRequiredError
		require.True(t, errors.As(err, &lr), "login required: %v", err)
		require.NotEmpty(t, lr.Challenge.ResourceMetadata(), "the challenge names the metadata")

		cfg, store := discoverAndLogin(t, ctx, srv, lr.Challenge.ResourceMetadata(), resourceURL)
		assert.Equal(t, http.StatusOK, get(t, ctx, srv, cfg, store, resourceURL), "a request with the new token")
	})

	t.Run("no resource_metadata: the well-known location", func(t *testing.T) {
		cfg, store := discoverAndLogin(t, ctx, srv, "", resourceURL)
		assert.Equal(t, http.StatusOK, get(t, ctx, srv, cfg, store, resourceURL))
	})
}

// The same chain with a device login, under synctest.
func TestChainFromA401WithDevice(t *testing.T) {
	srv := newServer(t)
	srv.RegisterPublicClient("mcp-client")
	srv.SetDeviceFlow(authtest.DeviceFlow{Interval: 5 * time.Second, PendingPolls: 2})
	inBubble(t, srv, func(t *testing.T, ctx context.Context, _ *recorder) {
		resourceURL := srv.ResourceURL("items")
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, resourceURL, nil)
		require.NoError(t, err)
		resp, err := srv.InMemoryTransport().RoundTrip(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		challenges, err := wwwauth.Parse(resp.Header.Values("WWW-Authenticate")...)
		require.NoError(t, err)
		bearer, _ := wwwauth.First(challenges, wwwauth.SchemeBearer)

		var d login.Discovery
		rm, sm, err := d.ForResource(ctx, bearer.ResourceMetadata(), resourceURL)
		require.NoError(t, err)
		cfg := sm.Config("mcp-client", "")
		store := authtransport.NewMemoryStore(nil)
		start := time.Now()
		_, err = login.Save(ctx, store, (&login.Device{Config: cfg, Resource: rm.Resource, Output: io.Discard}).Login)
		require.NoError(t, err)
		assert.Equal(t, 15*time.Second, time.Since(start), "two pending polls, then the token, 5 s apart")

		client := &http.Client{Transport: &authtransport.Transport{
			Base: srv.InMemoryTransport(), Store: store, Refresher: authtransport.NewOAuth2Refresher(cfg),
		}}
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, resourceURL, nil)
		require.NoError(t, err)
		resp, err = client.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode, "a request with the new token")
	})
}

// The whole chain through a Transport that may log in: its token is
// rejected (the grant was revoked, so refreshing fails too); the Transport
// calls its Login, which discovers the authorization server from the
// rejection's resource_metadata (LoginReason) and logs in with a browser;
// the request is resent with the new token, which is saved.
func TestTransportLogsInThroughDiscovery(t *testing.T) {
	srv := newServer(t)
	srv.RegisterPublicClient("mcp-client")
	ctx := withClient(t.Context(), srv.Client())
	resourceURL := srv.ResourceURL("items")
	store := authtransport.NewMemoryStore(srv.NewToken())
	srv.RevokeGrant()

	var why *authtransport.LoginRequiredError
	b := &browser{client: srv.Client()}
	logIn := func(ctx context.Context) (*authtransport.Token, error) {
		why = authtransport.LoginReason(ctx)
		var d login.Discovery
		rm, sm, err := d.ForResource(ctx, why.Challenge.ResourceMetadata(), resourceURL)
		if err != nil {
			return nil, err
		}
		flow := &login.Browser{
			Config:        sm.Config("mcp-client", "", "read"),
			Issuer:        sm.Issuer,
			RequireIssuer: sm.AuthorizationResponseIssParameterSupported,
			Resource:      rm.Resource,
			Open:          b.Open,
			Output:        io.Discard,
		}
		return flow.Login(ctx)
	}
	client := &http.Client{Transport: &authtransport.Transport{
		Base:      srv.Client().Transport,
		Store:     store,
		Refresher: authtransport.NewOAuth2Refresher(srv.Config()),
		Login:     logIn,
	}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, resourceURL, nil)
	require.NoError(t, err)
	resp, err := client.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode, "resent with the login's token")

	require.NotNil(t, why, "the Transport logged in")
	assert.Equal(t, authtransport.ReasonRefreshRejected, why.Reason)
	assert.Equal(t, http.StatusUnauthorized, why.StatusCode)
	assert.Equal(t, srv.MetadataURL(), why.Challenge.ResourceMetadata(), "from the rejection's challenge")
	stats := srv.Stats()
	assert.Equal(t, 1, stats.AuthorizationRequests, "one login")
	assert.Equal(t, 1, stats.TokenRequests["refresh_token"]["invalid_grant"], "the refresh that was refused")
	saved, err := store.Load(ctx)
	require.NoError(t, err)
	assert.NotEmpty(t, saved.RefreshToken, "the new token is saved")
	t.Logf("401 %s -> %s -> login -> resent: 200; server: %d authorization request(s), token requests %v",
		resourceURL, why.Challenge.ResourceMetadata(), stats.AuthorizationRequests, stats.TokenRequests)
}
