package integration

import (
	"context"
	"net/http"
	"net/url"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/d5c4ca72/authtransport"
	"github.com/d5c4ca72/authtransport/filestore"
)

// shortLifespan is the access token lifetime of the tests that wait for a
// token to expire. fosite rounds expiry to the second and sends expires_in
// in whole seconds, so less than two seconds could reach the client as no
// expiry at all.
const shortLifespan = 2 * time.Second

// newClient returns an HTTP client whose Transport talks to s's resource
// with the token in store, refreshed by refresher.
func newClient(s *fositeServer, store authtransport.Store, refresher authtransport.Refresher, margin time.Duration) (*http.Client, *authtransport.Transport) {
	tr := &authtransport.Transport{
		Base:          s.API.Client().Transport,
		Store:         store,
		Refresher:     refresher,
		RefreshMargin: margin,
	}
	return &http.Client{Transport: tr}, tr
}

// result is the outcome of one request of a fan-out.
type result struct {
	status int
	err    error
}

// fanOut sends n GETs for the resource at once, each through the client
// clients[i%len(clients)], and returns their outcomes.
func fanOut(ctx context.Context, n int, resource string, clients ...*http.Client) []result {
	results := make([]result, n)
	atOnce(n, func(i int) {
		status, _, err := get(ctx, clients[i%len(clients)], resource)
		results[i] = result{status, err}
	})
	return results
}

// atOnce runs f(0) … f(n-1) in n goroutines released together, and waits
// for them.
func atOnce(n int, f func(i int)) {
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			f(i)
		})
	}
	close(start)
	wg.Wait()
}

func assertAllOK(t *testing.T, results []result) {
	t.Helper()
	for i, r := range results {
		if assert.NoError(t, r.err, "request %d", i) {
			assert.Equal(t, http.StatusOK, r.status, "request %d", i)
		}
	}
}

// requireLoginRequired checks that err, as http.Client returned it, is a
// *url.Error around a *LoginRequiredError of reason, and returns the latter.
func requireLoginRequired(t *testing.T, err error, reason authtransport.Reason) *authtransport.LoginRequiredError {
	t.Helper()
	require.Error(t, err, "want a login required error, got a response")
	var ue *url.Error
	require.ErrorAs(t, err, &ue, "http.Client wraps the Transport's error in a *url.Error")
	assert.ErrorIs(t, err, authtransport.ErrLoginRequired, "errors.Is through *url.Error")
	var lr *authtransport.LoginRequiredError
	require.ErrorAs(t, err, &lr, "errors.As through *url.Error")
	assert.Equal(t, reason, lr.Reason, "reason: want %v, got %v", reason, lr.Reason)
	return lr
}

// assertNoSecrets checks that msg shows none of the token's secrets.
func assertNoSecrets(t *testing.T, msg string, toks ...*oauth2.Token) {
	t.Helper()
	assert.NotContains(t, msg, clientSecret, "error text shows the client secret")
	for _, tok := range toks {
		assert.NotContains(t, msg, tok.AccessToken, "error text shows an access token")
		assert.NotContains(t, msg, tok.RefreshToken, "error text shows a refresh token")
	}
}

// An expired token and 50 requests at once: fosite sees one refresh grant,
// every request succeeds, and the rotated refresh token refreshes again at
// the next expiry.
func TestConcurrentRequestsOneRefresh(t *testing.T) {
	t.Parallel()
	s := newFositeServer(t, shortLifespan)
	first := s.login(t)
	store := authtransport.NewMemoryStore(authtransport.TokenFromOAuth2(first))
	client, _ := newClient(s, store, authtransport.NewOAuth2Refresher(s.oauth2Config()), 0)
	ctx := s.clientContext(t)

	s.waitExpired(t, first.AccessToken, first.Expiry)
	assertAllOK(t, fanOut(ctx, 50, s.API.URL+"/resource", client))
	assert.Equal(t, 1, s.grantCount("refresh_token"), "refresh grants that reached fosite for 50 concurrent requests")
	assert.Equal(t, 0, s.resourceCount(http.StatusUnauthorized), "requests sent with the expired token")
	second, err := store.Load(ctx)
	require.NoError(t, err, "the refreshed token is stored")
	assert.NotEqual(t, first.RefreshToken, second.RefreshToken, "fosite rotated the refresh token")
	assert.NotEqual(t, first.AccessToken, second.AccessToken, "a new access token")

	// The rotated refresh token works: the next expiry refreshes again.
	s.waitExpired(t, second.AccessToken, second.Expiry)
	status, _, err := get(ctx, client, s.API.URL+"/resource")
	require.NoError(t, err, "request after the second expiry")
	assert.Equal(t, http.StatusOK, status, "status after the second expiry")
	assert.Equal(t, 2, s.grantCount("refresh_token"), "refresh grants after the second expiry")
	third, err := store.Load(ctx)
	require.NoError(t, err)
	assert.NotEqual(t, second.RefreshToken, third.RefreshToken, "fosite rotated the refresh token again")
	assert.Empty(t, s.tokenErrorCounts(), "token endpoint refusals (a reused refresh token would show here)")
}

// The harness's control: ten refreshes of one refresh token sent at once
// straight to fosite (no Transport) get one new token and nine refusals. So
// a Transport whose single flight let two refreshes through could not pass
// unnoticed.
func TestServerRefusesConcurrentReuse(t *testing.T) {
	t.Parallel()
	s := newFositeServer(t, time.Hour)
	cfg := s.oauth2Config()
	ctx := s.clientContext(t)
	first := s.login(t)
	const n = 10
	errs := make([]error, n)
	atOnce(n, func(i int) {
		_, errs[i] = cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: first.RefreshToken}).Token()
	})
	succeeded := 0
	for _, err := range errs {
		if err == nil {
			succeeded++
			continue
		}
		var re *oauth2.RetrieveError
		if assert.ErrorAs(t, err, &re) {
			assert.Equal(t, "invalid_grant", re.ErrorCode, "code of a refused reuse")
		}
	}
	assert.Equal(t, 1, succeeded, "refreshes of one refresh token that fosite granted")
	assert.Equal(t, map[string]int{"invalid_grant": n - 1}, s.tokenErrorCounts(), "token endpoint refusals")
}

// fosite's reuse detection is real: a rotated refresh token presented again
// is refused and revokes the grant, and the Transport holding the newest
// token then reports that the user must log in.
func TestReusedRefreshTokenRevokesGrant(t *testing.T) {
	t.Parallel()
	s := newFositeServer(t, time.Hour)
	cfg := s.oauth2Config()
	ctx := s.clientContext(t)
	first := s.login(t)
	newest, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: first.RefreshToken}).Token()
	require.NoError(t, err, "rotate the first refresh token")
	require.NotEqual(t, first.RefreshToken, newest.RefreshToken, "fosite rotates refresh tokens")

	client, _ := newClient(s, authtransport.NewMemoryStore(authtransport.TokenFromOAuth2(newest)), authtransport.NewOAuth2Refresher(cfg), 0)
	status, _, err := get(ctx, client, s.API.URL+"/resource")
	require.NoError(t, err, "request with the newest token")
	require.Equal(t, http.StatusOK, status, "status with the newest token")

	// Someone presents the rotated refresh token again.
	_, err = cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: first.RefreshToken}).Token()
	var re *oauth2.RetrieveError
	require.ErrorAs(t, err, &re, "fosite refuses a rotated refresh token")
	assert.Equal(t, "invalid_grant", re.ErrorCode, "fosite's error code for a reused refresh token")
	assert.Equal(t, http.StatusBadRequest, re.Response.StatusCode, "fosite's status for a reused refresh token")
	assert.False(t, s.active(newest.AccessToken), "reuse revoked the newest access token too")

	grantsBefore := s.grantCount("refresh_token")
	status, _, err = get(ctx, client, s.API.URL+"/resource")
	lr := requireLoginRequired(t, err, authtransport.ReasonRefreshRejected)
	assert.Zero(t, status)
	assert.Equal(t, grantsBefore+1, s.grantCount("refresh_token"), "the Transport tried its refresh token once")
	var rerr *authtransport.RefreshError
	require.ErrorAs(t, lr, &rerr, "the LoginRequiredError wraps the *RefreshError")
	assert.Equal(t, "invalid_grant", rerr.Code, "server's error code in the RefreshError")
	assert.Equal(t, http.StatusBadRequest, rerr.StatusCode, "token endpoint status in the RefreshError")
	assert.True(t, rerr.Terminal, "invalid_grant is terminal")
	assert.Contains(t, rerr.Description, "already used", "fosite's description of a reused refresh token")
	assertNoSecrets(t, err.Error(), first, newest)
	assert.Equal(t, 2, s.tokenErrorCounts()["invalid_grant"], "invalid_grant refusals: the reuse and the Transport's refresh of the revoked chain")

	// A refused refresh is not repeated for the same token.
	_, _, err = get(ctx, client, s.API.URL+"/resource")
	requireLoginRequired(t, err, authtransport.ReasonRefreshRejected)
	assert.Equal(t, grantsBefore+1, s.grantCount("refresh_token"), "refresh grants after a second request with the refused token")
}

// An access token revoked at fosite's storage makes the resource answer
// 401; the Transport refreshes once and the resent request succeeds.
func TestRevokedAccessTokenRefreshesOnce(t *testing.T) {
	t.Parallel()
	s := newFositeServer(t, time.Hour)
	first := s.login(t)
	store := authtransport.NewMemoryStore(authtransport.TokenFromOAuth2(first))
	client, _ := newClient(s, store, authtransport.NewOAuth2Refresher(s.oauth2Config()), 0)
	ctx := s.clientContext(t)

	status, _, err := get(ctx, client, s.API.URL+"/resource")
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status, "status before revocation")

	s.revokeAccessTokenInStorage(t, first.AccessToken)
	status, body, err := get(ctx, client, s.API.URL+"/resource")
	require.NoError(t, err, "request after revocation")
	assert.Equal(t, http.StatusOK, status, "status after revocation")
	assert.Equal(t, "hello "+subject+"\n", body)
	assert.Equal(t, 1, s.resourceCount(http.StatusUnauthorized), "401s from the resource")
	assert.Equal(t, 1, s.grantCount("refresh_token"), "refresh grants")
	stored, err := store.Load(ctx)
	require.NoError(t, err)
	assert.NotEqual(t, first.AccessToken, stored.AccessToken, "the stored token was replaced")
	assert.True(t, s.active(stored.AccessToken), "fosite accepts the refreshed token")
}

// fosite's RFC 7009 revocation endpoint revokes the whole grant when given
// an access token (RFC 7009 §2.1 allows it), so the refresh that follows the
// 401 is refused and the user must log in.
func TestRevocationEndpointRevokesGrant(t *testing.T) {
	t.Parallel()
	s := newFositeServer(t, time.Hour)
	first := s.login(t)
	client, _ := newClient(s, authtransport.NewMemoryStore(authtransport.TokenFromOAuth2(first)), authtransport.NewOAuth2Refresher(s.oauth2Config()), 0)
	ctx := s.clientContext(t)

	s.revokeAtEndpoint(t, first.AccessToken, "access_token")
	_, _, err := get(ctx, client, s.API.URL+"/resource")
	lr := requireLoginRequired(t, err, authtransport.ReasonRefreshRejected)
	var rerr *authtransport.RefreshError
	require.ErrorAs(t, lr, &rerr)
	assert.Equal(t, "invalid_grant", rerr.Code, "fosite's code for a revoked refresh token")
	assert.Equal(t, 1, s.resourceCount(http.StatusUnauthorized), "401s from the resource")
	assert.Equal(t, 1, s.grantCount("refresh_token"), "refresh grants")
	assertNoSecrets(t, err.Error(), first)
}

// The client credentials grant: concurrent first requests share one grant,
// and a revoked token is replaced by a new grant.
func TestClientCredentials(t *testing.T) {
	t.Parallel()
	s := newFositeServer(t, time.Hour)
	client, tr := newClient(s, nil, authtransport.NewClientCredentialsRefresher(s.clientCredentialsConfig()), 0)
	ctx := s.clientContext(t)

	assertAllOK(t, fanOut(ctx, 20, s.API.URL+"/resource", client))
	assert.Equal(t, 1, s.grantCount("client_credentials"), "client credentials grants for 20 concurrent first requests")

	tok, err := tr.Token(ctx)
	require.NoError(t, err)
	assert.Empty(t, tok.RefreshToken, "fosite issues no refresh token to the client credentials grant")
	assert.Equal(t, scopeAPI, tok.Scope, "granted scope")
	s.revokeAccessTokenInStorage(t, tok.AccessToken)
	status, _, err := get(ctx, client, s.API.URL+"/resource")
	require.NoError(t, err, "request after revocation")
	assert.Equal(t, http.StatusOK, status, "status after revocation")
	assert.Equal(t, 2, s.grantCount("client_credentials"), "client credentials grants after revocation")
	assert.Equal(t, 1, s.resourceCount(http.StatusUnauthorized), "401s from the resource")
}

// Two Transports share one FileStore file, either through one FileStore
// value or, as two processes would, through a FileStore each. When the
// token expires and both send requests at once, the lock makes one of them
// refresh and the other adopt its token: one refresh grant in total, and
// fosite never sees a refresh token twice.
func TestFileStoreSharedByTwoTransports(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		shared bool // both Transports use the same FileStore value
	}{
		{name: "one FileStore value", shared: true},
		{name: "a FileStore each on one file", shared: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newFositeServer(t, shortLifespan)
			cfg := s.oauth2Config()
			ctx := s.clientContext(t)
			first := s.login(t)
			path := filepath.Join(t.TempDir(), "token.json")
			storeA, err := filestore.New(path)
			require.NoError(t, err)
			storeB := storeA
			if !tc.shared {
				storeB, err = filestore.New(path)
				require.NoError(t, err)
			}
			require.NoError(t, storeA.Save(ctx, authtransport.TokenFromOAuth2(first)))

			// A margin below the token's short life, so that both
			// Transports take the first token instead of refreshing
			// it at once.
			const margin = 200 * time.Millisecond
			clientA, _ := newClient(s, storeA, authtransport.NewOAuth2Refresher(cfg), margin)
			clientB, _ := newClient(s, storeB, authtransport.NewOAuth2Refresher(cfg), margin)
			for name, c := range map[string]*http.Client{"A": clientA, "B": clientB} {
				status, _, err := get(ctx, c, s.API.URL+"/resource")
				require.NoError(t, err, "first request of %s", name)
				require.Equal(t, http.StatusOK, status, "first request of %s", name)
			}
			require.Equal(t, 0, s.grantCount("refresh_token"), "refresh grants before expiry")

			s.waitExpired(t, first.AccessToken, first.Expiry)
			assertAllOK(t, fanOut(ctx, 50, s.API.URL+"/resource", clientA, clientB))
			assert.Equal(t, 1, s.grantCount("refresh_token"), "refresh grants for two Transports sharing a token file")
			assert.Empty(t, s.tokenErrorCounts(), "token endpoint refusals (a reused refresh token would show here)")
			stored, err := storeB.Load(ctx)
			require.NoError(t, err)
			assert.NotEqual(t, first.RefreshToken, stored.RefreshToken, "the file holds the rotated refresh token")
		})
	}
}

// The control for the test above: two Transports with a copy of the same
// token in separate stores, so no lock between them. Each refreshes with the
// same refresh token; fosite takes the second use for a stolen token and
// revokes the grant, and both end up needing a login. This is what the
// FileStore lock prevents, and it shows that the server would catch a
// refresh token used twice.
func TestSeparateStoresLoseTheGrant(t *testing.T) {
	t.Parallel()
	s := newFositeServer(t, time.Hour)
	cfg := s.oauth2Config()
	ctx := s.clientContext(t)
	first := s.login(t)
	clientA, _ := newClient(s, authtransport.NewMemoryStore(authtransport.TokenFromOAuth2(first)), authtransport.NewOAuth2Refresher(cfg), 0)
	clientB, _ := newClient(s, authtransport.NewMemoryStore(authtransport.TokenFromOAuth2(first)), authtransport.NewOAuth2Refresher(cfg), 0)
	s.revokeAccessTokenInStorage(t, first.AccessToken)

	status, _, err := get(ctx, clientA, s.API.URL+"/resource")
	require.NoError(t, err, "A refreshes first")
	require.Equal(t, http.StatusOK, status, "status of A after its refresh")

	_, _, err = get(ctx, clientB, s.API.URL+"/resource")
	lr := requireLoginRequired(t, err, authtransport.ReasonRefreshRejected)
	var rerr *authtransport.RefreshError
	require.ErrorAs(t, lr, &rerr)
	assert.Equal(t, "invalid_grant", rerr.Code, "B presented the rotated refresh token")

	_, _, err = get(ctx, clientA, s.API.URL+"/resource")
	requireLoginRequired(t, err, authtransport.ReasonRefreshRejected)
	assert.Equal(t, 3, s.grantCount("refresh_token"), "refresh grants: A, B's reuse, A's refresh of the revoked chain")
	assert.Equal(t, 2, s.tokenErrorCounts()["invalid_grant"], "invalid_grant refusals")
}

// A token endpoint answering 503 is a transient *RefreshError, not a
// reason to log in; after the backoff the same refresh token still works.
func TestTokenEndpointUnavailable(t *testing.T) {
	t.Parallel()
	s := newFositeServer(t, time.Hour)
	first := s.login(t)
	client, _ := newClient(s, authtransport.NewMemoryStore(authtransport.TokenFromOAuth2(first)), authtransport.NewOAuth2Refresher(s.oauth2Config()), 0)
	ctx := s.clientContext(t)
	s.revokeAccessTokenInStorage(t, first.AccessToken)

	s.failTokenEndpoint(http.StatusServiceUnavailable, 2)
	_, _, err := get(ctx, client, s.API.URL+"/resource")
	failedAt := time.Now() // the Transport's backoff started before this
	require.Error(t, err, "request while the token endpoint is down")
	var ue *url.Error
	require.ErrorAs(t, err, &ue, "http.Client wraps the error in a *url.Error")
	assert.NotErrorIs(t, err, authtransport.ErrLoginRequired, "a 503 is no reason to log in")
	var rerr *authtransport.RefreshError
	require.ErrorAs(t, err, &rerr, "a transient *RefreshError")
	assert.False(t, rerr.Terminal, "503 is transient")
	assert.Equal(t, http.StatusServiceUnavailable, rerr.StatusCode)
	assert.Equal(t, 2*time.Second, rerr.RetryAfter, "Retry-After from the token endpoint")
	assert.Equal(t, 1, s.faultCount(), "token requests answered 503")
	assertNoSecrets(t, err.Error(), first)

	// Within the backoff the Transport does not ask again.
	s.clearFault()
	_, _, err = get(ctx, client, s.API.URL+"/resource")
	require.ErrorAs(t, err, &rerr, "the same transient error within the backoff")
	assert.Equal(t, 1, s.faultCount(), "token requests within the backoff")
	assert.Equal(t, 0, s.grantCount("refresh_token"), "refresh grants within the backoff")

	// After it, the refresh token, which fosite never saw, still works.
	time.Sleep(time.Until(failedAt.Add(rerr.RetryAfter + 100*time.Millisecond)))
	status, _, err := get(ctx, client, s.API.URL+"/resource")
	require.NoError(t, err, "request after the backoff")
	assert.Equal(t, http.StatusOK, status, "status after the backoff")
	assert.Equal(t, 1, s.grantCount("refresh_token"), "refresh grants after the backoff")
}
