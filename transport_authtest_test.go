package authtransport_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/d5c4ca72/authtransport"
	"github.com/d5c4ca72/authtransport/authtest"
)

// newClient returns a client whose Transport refreshes with the server's
// refresh-token grant, starting from tok.
func newClient(srv *authtest.Server, tok *authtransport.Token) (*http.Client, *authtransport.Transport, *authtransport.MemoryStore) {
	store := authtransport.NewMemoryStore(tok)
	tr := &authtransport.Transport{
		Base:      srv.Client().Transport,
		Store:     store,
		Refresher: authtransport.NewOAuth2Refresher(srv.Config()),
	}
	return &http.Client{Transport: tr}, tr, store
}

func getURL(t *testing.T, c *http.Client, url string) (int, error) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

func TestRotatingRefreshTokensAgainstStrictServer(t *testing.T) {
	srv := authtest.NewServer()
	defer srv.Close()
	srv.SetTokenDelay(20 * time.Millisecond) // callers surely overlap
	c, _, store := newClient(srv, srv.NewExpiredToken())

	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() {
			status, err := getURL(t, c, srv.ResourceURL("items"))
			assert.NoError(t, err)
			assert.Equal(t, http.StatusOK, status)
		})
	}
	wg.Wait()
	st := srv.Stats()
	assert.Equal(t, 1, st.Refreshes(), "one refresh for 100 callers")
	assert.Zero(t, st.RefreshTokenReuse, "no refresh token was used twice")

	// The access token is revoked: every caller sees a 401, one refresh.
	srv.RevokeAccessTokens()
	for range 20 {
		wg.Go(func() {
			status, err := getURL(t, c, srv.ResourceURL("items"))
			assert.NoError(t, err)
			assert.Equal(t, http.StatusOK, status)
		})
	}
	wg.Wait()
	st = srv.Stats()
	assert.Equal(t, 2, st.Refreshes(), "one more refresh after the revocation")
	assert.Zero(t, st.RefreshTokenReuse)

	saved, err := store.Load(context.Background())
	require.NoError(t, err)
	assert.Equal(t, srv.ResourceRequests()[len(srv.ResourceRequests())-1].Token, saved.AccessToken, "the new token was persisted")
}

func TestLoginRequiredReasons(t *testing.T) {
	cases := []struct {
		name   string
		setup  func(srv *authtest.Server) *authtransport.Token
		path   string
		reason authtransport.Reason
		check  func(t *testing.T, e *authtransport.LoginRequiredError)
	}{
		{
			name:   "no token, no refresh token",
			setup:  func(*authtest.Server) *authtransport.Token { return nil },
			reason: authtransport.ReasonNoToken,
		},
		{
			name: "grant revoked",
			setup: func(srv *authtest.Server) *authtransport.Token {
				tok := srv.NewExpiredToken()
				srv.RevokeGrant()
				return tok
			},
			reason: authtransport.ReasonRefreshRejected,
			check: func(t *testing.T, e *authtransport.LoginRequiredError) {
				var re *authtransport.RefreshError
				require.ErrorAs(t, e, &re)
				assert.Equal(t, "invalid_grant", re.Code)
				assert.True(t, re.Terminal)
			},
		},
		{
			name: "insufficient scope",
			setup: func(srv *authtest.Server) *authtransport.Token {
				srv.RequireScope("/api/admin", "admin:write")
				return srv.IssueToken(authtest.Grant{Scope: "read"})
			},
			path:   "admin",
			reason: authtransport.ReasonInsufficientScope,
			check: func(t *testing.T, e *authtransport.LoginRequiredError) {
				assert.Equal(t, http.StatusForbidden, e.StatusCode)
				assert.Equal(t, []string{"admin:write"}, e.Challenge.Scopes())
				assert.NotEmpty(t, e.Challenge.ResourceMetadata())
			},
		},
		{
			name: "step-up",
			setup: func(srv *authtest.Server) *authtransport.Token {
				srv.RequireStepUp("/api/payments", authtest.StepUp{ACRValues: []string{"urn:mfa"}, MaxAge: 5 * time.Minute})
				return srv.IssueToken(authtest.Grant{ACR: "urn:pwd"})
			},
			path:   "payments",
			reason: authtransport.ReasonStepUp,
			check: func(t *testing.T, e *authtransport.LoginRequiredError) {
				assert.Equal(t, http.StatusUnauthorized, e.StatusCode)
				assert.Equal(t, []string{"urn:mfa"}, e.Challenge.ACRValues())
				maxAge, ok := e.Challenge.MaxAge()
				assert.True(t, ok)
				assert.Equal(t, 5*time.Minute, maxAge)
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := authtest.NewServer()
			defer srv.Close()
			c, _, _ := newClient(srv, tc.setup(srv))
			path := tc.path
			if path == "" {
				path = "items"
			}
			_, err := getURL(t, c, srv.ResourceURL(path))
			require.ErrorIs(t, err, authtransport.ErrLoginRequired)
			var lr *authtransport.LoginRequiredError
			require.ErrorAs(t, err, &lr, "errors.As finds it through *url.Error")
			assert.Equal(t, tc.reason, lr.Reason, "reason: %v", lr)
			if tc.check != nil {
				tc.check(t, lr)
			}
		})
	}
}

func TestTerminalRefreshFailureIsNotRepeated(t *testing.T) {
	srv := authtest.NewServer()
	defer srv.Close()
	tok := srv.NewExpiredToken()
	srv.RevokeGrant()
	c, _, store := newClient(srv, tok)

	for range 5 {
		_, err := getURL(t, c, srv.ResourceURL("items"))
		require.ErrorIs(t, err, authtransport.ErrLoginRequired)
	}
	assert.Equal(t, 1, srv.Stats().TokenRequestsTotal(), "a refused refresh token is not sent again")

	// The user logs in again: the store gets a new token, requests work.
	require.NoError(t, store.Save(context.Background(), srv.NewToken()))
	status, err := getURL(t, c, srv.ResourceURL("items"))
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, status)
}

func TestTransientRefreshFailures(t *testing.T) {
	cases := []struct {
		name  string
		fault authtest.Fault
	}{
		{"503", authtest.Fault{Kind: authtest.FaultStatus, Status: http.StatusServiceUnavailable}},
		{"429 with Retry-After", authtest.Fault{Kind: authtest.FaultRateLimit, RetryAfter: 30 * time.Second}},
		{"garbage", authtest.Fault{Kind: authtest.FaultGarbage}},
		{"connection reset", authtest.Fault{Kind: authtest.FaultReset}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := authtest.NewServer()
			defer srv.Close()
			srv.FailTokenRequests(1, tc.fault)
			c, _, _ := newClient(srv, srv.NewExpiredToken())

			_, err := getURL(t, c, srv.ResourceURL("items"))
			var re *authtransport.RefreshError
			require.ErrorAs(t, err, &re)
			assert.False(t, re.Terminal)
			assert.NotErrorIs(t, err, authtransport.ErrLoginRequired, "a transient failure is not a login")

			// Within the backoff, callers get the same error without a
			// second request to the token endpoint.
			_, err = getURL(t, c, srv.ResourceURL("items"))
			require.ErrorAs(t, err, &re)
			assert.Equal(t, 1, srv.Stats().TokenRequestsTotal())
			if tc.fault.Kind == authtest.FaultRateLimit {
				assert.Equal(t, 30*time.Second, re.RetryAfter)
			}
		})
	}
}

func TestTransientFailureKeepsServingValidToken(t *testing.T) {
	srv := authtest.NewServer()
	defer srv.Close()
	srv.FailTokenRequests(1, authtest.Fault{Kind: authtest.FaultStatus})
	tok := srv.NewToken()
	// Inside the refresh margin but not expired.
	tok.Expiry = time.Now().Add(30 * time.Second)
	c, _, _ := newClient(srv, tok)
	status, err := getURL(t, c, srv.ResourceURL("items"))
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, 1, srv.Stats().TokenRequestsTotal(), "the refresh was tried")
}

func TestClientCredentialsRefresher(t *testing.T) {
	srv := authtest.NewServer()
	defer srv.Close()
	tr := &authtransport.Transport{
		Base:      srv.Client().Transport,
		Refresher: authtransport.NewClientCredentialsRefresher(srv.ClientCredentialsConfig()),
	}
	c := &http.Client{Transport: tr}
	status, err := getURL(t, c, srv.ResourceURL("items"))
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, 1, srv.Stats().TokenRequests["client_credentials"][authtest.OutcomeOK])
}

func TestTokenSourceBothWays(t *testing.T) {
	srv := authtest.NewServer()
	defer srv.Close()
	cfg := srv.Config()
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, srv.Client())
	src := cfg.TokenSource(ctx, srv.NewExpiredToken().OAuth2())
	tr := &authtransport.Transport{
		Base:      srv.Client().Transport,
		Refresher: authtransport.NewTokenSourceRefresher(src),
	}
	ot, err := tr.TokenSource().Token()
	require.NoError(t, err)
	assert.NotEmpty(t, ot.AccessToken)
	assert.True(t, ot.Valid())
	tok, err := tr.Token(context.Background())
	require.NoError(t, err)
	assert.Equal(t, ot.AccessToken, tok.AccessToken, "one refresh serves both")
	assert.Equal(t, 1, srv.Stats().Refreshes())
}

func TestRefresherReturningSameTokenDoesNotLoop(t *testing.T) {
	srv := authtest.NewServer()
	defer srv.Close()
	tok := srv.NewToken()
	srv.RevokeAccessTokens()
	tr := &authtransport.Transport{
		Base:  srv.Client().Transport,
		Store: authtransport.NewMemoryStore(tok),
		Refresher: authtransport.RefresherFunc(func(context.Context, *authtransport.Token) (*authtransport.Token, error) {
			return tok, nil
		}),
	}
	_, err := getURL(t, &http.Client{Transport: tr}, srv.ResourceURL("items"))
	var re *authtransport.RefreshError
	require.ErrorAs(t, err, &re, "the refresh produced no new token")
	assert.Equal(t, 1, srv.Stats().ResourceRequestsTotal(), "the rejected token is not sent again")
}

func TestErrorsCarryNoSecrets(t *testing.T) {
	srv := authtest.NewServer()
	defer srv.Close()
	tok := srv.NewExpiredToken()
	srv.RevokeGrant()
	c, _, _ := newClient(srv, tok)
	_, err := getURL(t, c, srv.ResourceURL("items"))
	require.Error(t, err)
	for _, secret := range []string{tok.AccessToken, tok.RefreshToken, srv.ClientSecret} {
		assert.NotContains(t, err.Error(), secret)
	}
	assert.True(t, errors.Is(err, authtransport.ErrLoginRequired))
}
