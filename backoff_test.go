package authtransport_test

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d5c4ca72/authtransport"
	"github.com/d5c4ca72/authtransport/authtest"
)

// A Refresher handing back an expired token is a transient failure with
// backoff, not one token-endpoint call per request.
func TestExpiredTokenFromRefresherBacksOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := newAPI("x")
		var calls atomic.Int32
		ref := authtransport.RefresherFunc(func(ctx context.Context, _ *authtransport.Token) (*authtransport.Token, error) {
			calls.Add(1)
			return &authtransport.Token{AccessToken: "x", RefreshToken: "rt", Expiry: time.Now().Add(-time.Hour)}, nil // clock skew
		})
		tr := &authtransport.Transport{Base: a, Refresher: ref}
		c := &http.Client{Transport: tr}
		for range 20 {
			_, err := get(t, c, context.Background())
			var re *authtransport.RefreshError
			assert.ErrorAs(t, err, &re, "a transient failure")
		}
		assert.Equal(t, int32(1), calls.Load(), "token endpoint calls for 20 requests within the backoff")
		time.Sleep(1300 * time.Millisecond)
		_, _ = get(t, c, context.Background())
		assert.Equal(t, int32(2), calls.Load(), "retried once the backoff passed")
	})
}

func TestStoreLoadErrorKeepsServingValidToken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := newAPI("x")
		st := &flakyLoadStore{}
		_ = st.MemoryStore.Save(context.Background(), &authtransport.Token{AccessToken: "x", RefreshToken: "rt", Expiry: time.Now().Add(2 * time.Minute)})
		tr := &authtransport.Transport{Base: a, Store: st, Refresher: &countingRefresher{api: a}}
		c := &http.Client{Transport: tr}
		_, err := get(t, c, context.Background())
		require.NoError(t, err)
		time.Sleep(61 * time.Second) // inside the margin; x valid ~59s more
		st.fail.Store(true)
		_, err = get(t, c, context.Background())
		assert.NoError(t, err, "x is still valid")
		var re *authtransport.RefreshError
		var lr *authtransport.LoginRequiredError
		t.Logf("error type: RefreshError=%v LoginRequired=%v", errors.As(err, &re), errors.As(err, &lr))
	})
}

// A terminal failure with an empty store (client credentials) is retried
// after its backoff, not cached for ever.
func TestTerminalFailureIsRetriedAfterBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int32
		ref := authtransport.RefresherFunc(func(ctx context.Context, _ *authtransport.Token) (*authtransport.Token, error) {
			if calls.Add(1) == 1 {
				return nil, &authtransport.RefreshError{Code: "invalid_client", StatusCode: 401, Terminal: true}
			}
			return valid("x"), nil
		})
		tr := &authtransport.Transport{Base: newAPI("x"), Refresher: ref}
		c := &http.Client{Transport: tr}
		_, _ = get(t, c, context.Background())
		time.Sleep(24 * time.Hour)
		_, err := get(t, c, context.Background())
		assert.NoError(t, err, "a day later the refresher is still never asked (calls=%d)", calls.Load())
	})
}

func TestStoreFailureBacksOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := &countingFailStore{}
		tr := &authtransport.Transport{Base: newAPI(), Store: st, Refresher: &countingRefresher{}}
		c := &http.Client{Transport: tr}
		for range 50 {
			_, err := get(t, c, context.Background())
			var re *authtransport.RefreshError
			require.ErrorAs(t, err, &re)
		}
		assert.LessOrEqual(t, st.loads.Load(), int32(2), "store loads for 50 requests within one backoff")
	})
}

// A store glitch must not replace a terminal failure with a transient
// one, which would retry the refused refresh token after ~1s instead of
// minutes.
func TestStoreGlitchDoesNotShortenTerminalBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int32
		ref := authtransport.RefresherFunc(func(context.Context, *authtransport.Token) (*authtransport.Token, error) {
			calls.Add(1)
			return nil, &authtransport.RefreshError{Code: "invalid_grant", StatusCode: 400, Terminal: true}
		})
		st := &flakyLoadStore{}
		_ = st.MemoryStore.Save(context.Background(), expired())
		tr := &authtransport.Transport{Base: newAPI(), Store: st, Refresher: ref}
		c := &http.Client{Transport: tr}
		_, err := get(t, c, context.Background())
		require.ErrorIs(t, err, authtransport.ErrLoginRequired)
		st.fail.Store(true)
		_, _ = get(t, c, context.Background())
		st.fail.Store(false)
		time.Sleep(5 * time.Second)
		_, err = get(t, c, context.Background())
		assert.ErrorIs(t, err, authtransport.ErrLoginRequired)
		assert.Equal(t, int32(1), calls.Load(), "invalid_grant retried within the 5 minute terminal backoff")
	})
}

// A token endpoint handing back the very token the API rejects (a caching
// client-credentials server, or ReuseTokenSource) is backed off, not asked
// once per request.
func TestSameTokenFromRefresherIsBackedOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int32
		ref := authtransport.RefresherFunc(func(context.Context, *authtransport.Token) (*authtransport.Token, error) {
			calls.Add(1)
			return valid("x"), nil
		})
		tr := &authtransport.Transport{Base: newAPI(), Store: authtransport.NewMemoryStore(valid("x")), Refresher: ref}
		c := &http.Client{Transport: tr}
		for range 20 {
			_, _ = get(t, c, context.Background())
		}
		assert.Equal(t, int32(1), calls.Load(), "token endpoint calls for 20 requests: one, then its backoff")
	})
}

// Retry-After is honoured, and short-lived tokens do not refresh per
// request: a 10 s token is due halfway through its life, and refreshed in
// the background 75% (±5%) of the way there.
func TestRetryAfterAndShortTokens(t *testing.T) {
	for _, tc := range []struct {
		name       string
		noAhead    bool
		refreshes  float64 // over 100 s of requests once a second
		refreshErr float64
	}{
		{name: "refresh ahead", refreshes: 25, refreshErr: 2},                   // every 4 s (3.5-4 s, rounded up to a request)
		{name: "no refresh ahead", noAhead: true, refreshes: 20, refreshErr: 2}, // every 5 s
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var calls atomic.Int32
				a := newAPI()
				ref := authtransport.RefresherFunc(func(context.Context, *authtransport.Token) (*authtransport.Token, error) {
					if calls.Add(1) == 1 {
						return nil, &authtransport.RefreshError{StatusCode: 429, RetryAfter: 3 * time.Minute}
					}
					a.accept("s", true)
					return &authtransport.Token{AccessToken: "s", RefreshToken: "rt", Expiry: time.Now().Add(10 * time.Second)}, nil
				})
				tr := &authtransport.Transport{Base: a, Store: authtransport.NewMemoryStore(expired()), Refresher: ref, DisableRefreshAhead: tc.noAhead}
				c := &http.Client{Transport: tr}
				for range 170 {
					_, _ = get(t, c, context.Background())
					time.Sleep(time.Second)
				}
				assert.Equal(t, int32(1), calls.Load(), "retried before Retry-After")
				time.Sleep(15 * time.Second)
				calls.Store(1)
				for range 100 {
					_, err := get(t, c, context.Background())
					assert.NoError(t, err)
					time.Sleep(time.Second)
				}
				t.Logf("refreshes over 100s of 10s tokens: %d", calls.Load()-1)
				assert.InDelta(t, tc.refreshes, calls.Load()-1, tc.refreshErr)
			})
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

// Same mechanism for transient failures: with a request every 2.5 s the run
// of failures always ends before the next attempt, so a token endpoint that
// is down is asked once per request, never 1 s doubling to 1 min.
func TestBackoffDoublesForSparseRequests(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int32
		ref := authtransport.RefresherFunc(func(context.Context, *authtransport.Token) (*authtransport.Token, error) {
			calls.Add(1)
			return nil, &authtransport.RefreshError{StatusCode: 503}
		})
		tr := &authtransport.Transport{Base: newAPI(), Store: authtransport.NewMemoryStore(expired()), Refresher: ref}
		c := &http.Client{Transport: tr}
		for range 240 { // ten minutes
			_, _ = get(t, c, context.Background())
			time.Sleep(2500 * time.Millisecond)
		}
		// 1, 2, 4, 8, 16, 32, 60, 60, ... s: about 15 attempts in ten minutes.
		t.Logf("token requests in 10 min to a failing endpoint, one request every 2.5 s: %d", calls.Load())
		assert.LessOrEqual(t, calls.Load(), int32(20))
	})
}
