package authtest_test

import (
	"context"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/d5c4ca72/authtransport"
	"github.com/d5c4ca72/authtransport/authtest"
)

// The in-memory transport lets a Transport refresh under synctest: its
// fake clock moves past the token's expiry without a real wait.
func TestInMemoryTransportUnderSynctest(t *testing.T) {
	srv := newServer(t)
	synctest.Test(t, func(t *testing.T) {
		srv.SetNow(time.Now) // the bubble's clock
		defer srv.SetNow(nil)
		srv.SetAccessTokenLifetime(time.Hour)
		base := srv.InMemoryTransport()
		client := &http.Client{Transport: &authtransport.Transport{
			Base:      base,
			Store:     authtransport.NewMemoryStore(srv.NewToken()),
			Refresher: authtransport.NewOAuth2Refresher(srv.Config()),
		}}
		// The refresh's token request goes through the context's client.
		ctx := context.WithValue(t.Context(), oauth2.HTTPClient, &http.Client{Transport: base})
		for range 2 {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.ResourceURL("items"), nil)
			require.NoError(t, err)
			resp, err := client.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			time.Sleep(2 * time.Hour) // instant under synctest
		}
		assert.Equal(t, 1, srv.Stats().Refreshes(), "the second request found the token expired")
	})
}

func TestInMemoryTransportRefusals(t *testing.T) {
	srv := newServer(t)
	rt := srv.InMemoryTransport()
	req, err := http.NewRequest(http.MethodGet, "http://example.com/api/x", nil)
	require.NoError(t, err)
	_, err = rt.RoundTrip(req)
	assert.ErrorContains(t, err, "serves only "+srv.URL, "another origin")

	srv.FailTokenRequests(1, authtest.Fault{Kind: authtest.FaultReset})
	_, err = (&http.Client{Transport: rt}).PostForm(srv.TokenURL(), nil)
	assert.ErrorContains(t, err, "dropped the request", "a reset becomes an error")

	srv.Close()
	req, err = http.NewRequest(http.MethodGet, srv.ResourceURL("x"), nil)
	require.NoError(t, err)
	_, err = rt.RoundTrip(req)
	assert.ErrorContains(t, err, "closed", "a closed server")
}
