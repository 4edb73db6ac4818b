package authtransport_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d5c4ca72/authtransport"
)

// A Transport that may log in runs one login for every request that
// finds no usable token, however many wait, and each waits for it as long
// as its own context allows (a login takes longer than any refresh
// timeout); the token is saved.
func TestOneLoginForEveryWaiter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := newAPI()
		var logins atomic.Int32
		release := make(chan struct{})
		login := func(ctx context.Context) (*authtransport.Token, error) {
			logins.Add(1)
			assert.Equal(t, authtransport.ReasonNoToken, authtransport.LoginReason(ctx).Reason, "LoginReason")
			select {
			case <-release: // the user took two minutes
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			a.accept("logged-in", true)
			return valid("logged-in"), nil
		}
		store := authtransport.NewMemoryStore(nil)
		userGrant := authtransport.RefresherFunc(func(context.Context, *authtransport.Token) (*authtransport.Token, error) {
			return nil, &authtransport.LoginRequiredError{Reason: authtransport.ReasonNoToken}
		})
		tr := &authtransport.Transport{Base: a, Store: store, Refresher: userGrant, Login: login, RefreshTimeout: time.Second}
		c := &http.Client{Transport: tr}
		var wg sync.WaitGroup
		var ok atomic.Int32
		for range 100 {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
				defer cancel()
				resp, err := get(t, c, ctx)
				if assert.NoError(t, err) && resp.StatusCode == http.StatusOK {
					ok.Add(1)
				}
			})
		}
		time.Sleep(2 * time.Minute)
		close(release)
		wg.Wait()
		assert.Equal(t, int32(1), logins.Load(), "logins")
		assert.Equal(t, int32(100), ok.Load(), "requests answered 200")
		saved, err := store.Load(context.Background())
		require.NoError(t, err)
		assert.Equal(t, "logged-in", saved.AccessToken, "the token is saved")
		assert.False(t, saved.ObtainedAt.IsZero(), "with when it was obtained")
	})
}

// A login that fails or is cancelled is a LoginRequiredError for every
// waiter, saying so; nothing is saved; a waiter whose context ends stops
// waiting; the next login comes after a short backoff, not at once.
func TestFailedLoginIsTypedAndSavesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logins atomic.Int32
		errCancelled := errors.New("the user closed the browser")
		login := func(ctx context.Context) (*authtransport.Token, error) {
			logins.Add(1)
			time.Sleep(30 * time.Second)
			return nil, errCancelled
		}
		store := authtransport.NewMemoryStore(nil)
		tr := &authtransport.Transport{Base: newAPI(), Store: store, Login: login}
		c := &http.Client{Transport: tr}

		impatient, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var wg sync.WaitGroup
		wg.Go(func() {
			_, err := get(t, c, impatient)
			assert.ErrorIs(t, err, context.DeadlineExceeded, "a waiter stops at its own deadline")
		})
		for range 10 {
			wg.Go(func() {
				_, err := get(t, c, context.Background())
				var lr *authtransport.LoginRequiredError
				if assert.ErrorAs(t, err, &lr) {
					assert.Equal(t, authtransport.ReasonNoToken, lr.Reason)
					assert.ErrorIs(t, err, errCancelled, "the login's error is the cause")
					assert.Contains(t, err.Error(), "login failed")
				}
			})
		}
		wg.Wait()
		assert.Equal(t, int32(1), logins.Load())
		_, err := store.Load(context.Background())
		assert.ErrorIs(t, err, authtransport.ErrNoToken, "nothing saved")

		_, err = get(t, c, context.Background())
		assert.ErrorIs(t, err, authtransport.ErrLoginRequired)
		assert.Equal(t, int32(1), logins.Load(), "no new login within the backoff")
		time.Sleep(2 * time.Second)
		_, _ = get(t, c, context.Background())
		assert.Equal(t, int32(2), logins.Load(), "a new login after it")
	})
}

// A login that a rejection led to knows what the server said: its
// challenge, with the resource_metadata to discover from; a token the login
// returns is used for the resend.
func TestLoginAfterARejectionKnowsTheChallenge(t *testing.T) {
	var seen *authtransport.LoginRequiredError
	a := newAPI()
	base := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		if req.Header.Get("Authorization") == "Bearer revoked" {
			return respond(req, http.StatusUnauthorized, `Bearer error="invalid_token", resource_metadata="https://api.example/.well-known/oauth-protected-resource"`), nil
		}
		return a.RoundTrip(req)
	})
	refused := authtransport.RefresherFunc(func(context.Context, *authtransport.Token) (*authtransport.Token, error) {
		return nil, &authtransport.LoginRequiredError{Reason: authtransport.ReasonRefreshRejected}
	})
	tr := &authtransport.Transport{Base: base, Store: authtransport.NewMemoryStore(valid("revoked")), Refresher: refused,
		Login: func(ctx context.Context) (*authtransport.Token, error) {
			seen = authtransport.LoginReason(ctx)
			a.accept("fresh", true)
			return valid("fresh"), nil
		}}
	resp, err := get(t, &http.Client{Transport: tr}, context.Background())
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode, "resent with the login's token")
	require.NotNil(t, seen)
	assert.Equal(t, authtransport.ReasonRefreshRejected, seen.Reason)
	assert.Equal(t, http.StatusUnauthorized, seen.StatusCode)
	assert.Equal(t, "https://api.example/.well-known/oauth-protected-resource", seen.Challenge.ResourceMetadata())
	assert.Nil(t, authtransport.LoginReason(context.Background()), "outside a login")
}

// Without Login, a refused refresh after a rejection reports what the
// server said too.
func TestRefusedRefreshAfterRejectionCarriesTheChallenge(t *testing.T) {
	base := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		return respond(req, http.StatusUnauthorized, `Bearer error="invalid_token", resource_metadata="https://api.example/meta"`), nil
	})
	refused := authtransport.RefresherFunc(func(context.Context, *authtransport.Token) (*authtransport.Token, error) {
		return nil, &authtransport.LoginRequiredError{Reason: authtransport.ReasonRefreshRejected}
	})
	tr := &authtransport.Transport{Base: base, Store: authtransport.NewMemoryStore(valid("revoked")), Refresher: refused}
	_, err := get(t, &http.Client{Transport: tr}, context.Background())
	var lr *authtransport.LoginRequiredError
	require.ErrorAs(t, err, &lr)
	assert.Equal(t, authtransport.ReasonRefreshRejected, lr.Reason)
	assert.Equal(t, http.StatusUnauthorized, lr.StatusCode)
	assert.Equal(t, "https://api.example/meta", lr.Challenge.ResourceMetadata())
}

// A login still running when Logout is called neither saves nor uses its
// token: the store stays empty for every process sharing it.
func TestLogoutDuringLoginSavesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := newAPI()
		started := make(chan struct{})
		release := make(chan struct{})
		login := func(ctx context.Context) (*authtransport.Token, error) {
			close(started)
			<-release
			a.accept("logged-in", true)
			return valid("logged-in"), nil
		}
		refused := authtransport.RefresherFunc(func(context.Context, *authtransport.Token) (*authtransport.Token, error) {
			return nil, &authtransport.LoginRequiredError{Reason: authtransport.ReasonRefreshRejected}
		})
		store := authtransport.NewMemoryStore(expired())
		tr := &authtransport.Transport{Base: a, Store: store, Refresher: refused, Login: login}
		c := &http.Client{Transport: tr}
		var wg sync.WaitGroup
		var reqErr error
		wg.Go(func() { _, reqErr = get(t, c, context.Background()) })
		<-started
		require.NoError(t, tr.Logout(context.Background()))
		close(release)
		wg.Wait()
		tok, err := store.Load(context.Background())
		t.Logf("request after Logout: err=%v", reqErr)
		assert.ErrorIs(t, err, authtransport.ErrNoToken, "store after Logout holds %v", tok)
	})
}
