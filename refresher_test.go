package authtransport_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/d5c4ca72/authtransport"
	"github.com/d5c4ca72/authtransport/authtest"
)

// A RefresherFunc returning the oauth2 package's error as is gets it
// classified (a 400 is terminal) and its response body dropped.
func TestRawRetrieveErrorIsClassifiedAndRedacted(t *testing.T) {
	ref := authtransport.RefresherFunc(func(ctx context.Context, _ *authtransport.Token) (*authtransport.Token, error) {
		return nil, &oauth2.RetrieveError{
			Response:  &http.Response{StatusCode: 400, Status: "400 Bad Request", Header: http.Header{}},
			Body:      []byte(`{"error":"invalid_grant","refresh_token":"SECRET-RT"}`),
			ErrorCode: "",
		}
	})
	tr := &authtransport.Transport{Base: newAPI(), Refresher: ref}
	_, err := get(t, &http.Client{Transport: tr}, context.Background())
	require.Error(t, err)
	var re *authtransport.RefreshError
	require.ErrorAs(t, err, &re)
	assert.True(t, re.Terminal, "a 400 from the token endpoint is terminal")
	assert.NotErrorIs(t, err, authtransport.ErrLoginRequired, "with no stored token there is no user grant to log in to again")
	assert.NotContains(t, err.Error(), "SECRET-RT")
}

// A Refresher that ignores its context does not block
// Token(context.Background()) for ever: the wait is bounded.
func TestTokenSourceBoundedByRefreshTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		block := make(chan struct{})
		ref := authtransport.RefresherFunc(func(context.Context, *authtransport.Token) (*authtransport.Token, error) {
			<-block
			return nil, errors.New("late")
		})
		tr := &authtransport.Transport{Store: authtransport.NewMemoryStore(expired()), Refresher: ref, RefreshTimeout: 10 * time.Second}
		done := make(chan error, 1)
		go func() { _, err := tr.TokenSource().Token(); done <- err }()
		time.Sleep(time.Hour)
		synctest.Wait()
		returned := false
		select {
		case <-done:
			returned = true
		default:
			t.Errorf("TokenSource().Token() still blocked an hour later with RefreshTimeout 10s")
		}
		close(block)
		if !returned {
			<-done
		}
		synctest.Wait()
	})
}

func TestHungTokenSourceDoesNotWedgeTheTransport(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := newAPI("fresh")
		var hang atomic.Bool
		hang.Store(true)
		release := make(chan struct{})
		src := tokenSourceFunc(func() (*oauth2.Token, error) {
			if hang.Load() {
				<-release
				return nil, errors.New("too late")
			}
			return &oauth2.Token{AccessToken: "fresh", Expiry: time.Now().Add(time.Hour)}, nil
		})
		tr := &authtransport.Transport{Base: a, Store: authtransport.NewMemoryStore(expired()),
			Refresher: authtransport.NewTokenSourceRefresher(src), RefreshTimeout: 10 * time.Second}
		c := &http.Client{Transport: tr}
		_, err := get(t, c, context.Background())
		var re *authtransport.RefreshError
		require.ErrorAs(t, err, &re, "the hung source is given up at the refresh timeout")

		// The source comes back: the hung call returns, and once the
		// backoff has passed a new call gets a token.
		hang.Store(false)
		close(release)
		time.Sleep(2 * time.Minute)
		resp, err := get(t, c, context.Background())
		require.NoError(t, err, "a later refresh works")
		assert.Equal(t, http.StatusOK, resp.StatusCode)
	})
}

func TestTokenSourceRefresherCallsSourceOnceAtATime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var inside, most atomic.Int32
		release := make(chan struct{})
		src := tokenSourceFunc(func() (*oauth2.Token, error) {
			n := inside.Add(1)
			if n > most.Load() {
				most.Store(n)
			}
			<-release
			inside.Add(-1)
			return &oauth2.Token{AccessToken: "a", Expiry: time.Now().Add(time.Hour)}, nil
		})
		r := authtransport.NewTokenSourceRefresher(src)
		for range 10 {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
			_, err := r.Refresh(ctx, nil)
			cancel()
			var re *authtransport.RefreshError
			require.ErrorAs(t, err, &re)
		}
		assert.Equal(t, int32(1), most.Load(), "calls to the source at once")
		close(release)
		tok, err := r.Refresh(context.Background(), nil)
		require.NoError(t, err)
		assert.Equal(t, "a", tok.AccessToken)
	})
}

// A token source slower than the refresh timeout: the call that timed out
// goes on, and its late result serves the next refresh (without calling the
// source again). Each call returns another token, so that reuse and a fresh
// call tell apart.
func TestSlowTokenSourceResultIsUsedLater(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int32
		src := tokenSourceFunc(func() (*oauth2.Token, error) {
			n := calls.Add(1)
			time.Sleep(time.Second) // slower than the refresh timeout
			return &oauth2.Token{AccessToken: fmt.Sprintf("slow-%d", n), Expiry: time.Now().Add(time.Hour)}, nil
		})
		r := authtransport.NewTokenSourceRefresher(src)
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		_, err := r.Refresh(ctx, nil)
		cancel()
		require.Error(t, err)
		time.Sleep(2 * time.Second)
		tok, err := r.Refresh(context.Background(), nil)
		require.NoError(t, err)
		assert.Equal(t, "slow-1", tok.AccessToken, "the late result serves the next refresh")
		assert.Equal(t, int32(1), calls.Load(), "calls to the source")

		tok, err = r.Refresh(context.Background(), nil)
		require.NoError(t, err)
		assert.Equal(t, "slow-2", tok.AccessToken, "a late result serves once; the next refresh calls the source")
	})
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

// NewOAuth2Refresher with the default AuthStyle (auto-detect,
// as in the README's quick start) lets x/oauth2 resend the refresh request at
// once, with the same refresh token, when the first answer is an error: a
// 429 with Retry-After is answered by an immediate second token request.
// DESIGN.md: transient failures wait "at least Retry-After".
func TestOAuth2RefresherDoesNotResendOnError(t *testing.T) {
	var hits atomic.Int32
	var rts []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_ = r.ParseForm()
		rts = append(rts, r.PostForm.Get("refresh_token"))
		w.Header().Set("Retry-After", "60")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = w.Write([]byte(`{"error":"slow_down"}`))
	}))
	defer srv.Close()
	cfg := &oauth2.Config{ClientID: "my-cli", Endpoint: oauth2.Endpoint{TokenURL: srv.URL + "/token"}}
	tr := &authtransport.Transport{Base: newAPI(), Store: authtransport.NewMemoryStore(expired()), Refresher: authtransport.NewOAuth2Refresher(cfg)}
	_, err := get(t, &http.Client{Transport: tr}, context.Background())
	t.Logf("err=%v; refresh tokens sent: %v", err, rts)
	assert.Equal(t, int32(1), hits.Load(), "token requests for one refresh attempt answered 429 Retry-After: 60")
}
