package authtransport_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/d5c4ca72/authtransport"
	"github.com/d5c4ca72/authtransport/filestore"
)

// A token rejected right after the refresh made for it is not refreshed
// again and again: a server that refuses every token would otherwise rotate
// the refresh token once per request. Refreshes that rejections ask for are
// spaced (three at once, then 1 s doubling to 1 min, ±20%) while the
// rejections go on; within
// the spacing the rejected request gets the server's 401 as it is, and the
// token keeps serving the endpoints that accept it.
func TestTokenRejectedAfterRefreshDoesNotSpinRefreshes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int32
		base := roundTripFunc(func(req *http.Request) (*http.Response, error) {
			if req.URL.Path == "/bad" {
				return respond(req, http.StatusUnauthorized, `Bearer error="invalid_token"`), nil
			}
			return respond(req, http.StatusOK, ""), nil
		})
		ref := authtransport.RefresherFunc(func(context.Context, *authtransport.Token) (*authtransport.Token, error) {
			return valid(fmt.Sprintf("t%d", calls.Add(1))), nil
		})
		tr := &authtransport.Transport{Base: base, Store: authtransport.NewMemoryStore(valid("old")), Refresher: ref}
		do := func(path string) (int, error) {
			req, err := http.NewRequest(http.MethodGet, "https://api.example"+path, nil)
			require.NoError(t, err)
			resp, err := tr.RoundTrip(req)
			if err != nil {
				return 0, err
			}
			_ = resp.Body.Close()
			return resp.StatusCode, nil
		}
		for i := range 3 {
			_, err := do("/bad")
			var lr *authtransport.LoginRequiredError
			require.ErrorAs(t, err, &lr, "rejection %d", i)
			assert.Equal(t, authtransport.ReasonRejectedAfterRefresh, lr.Reason)
			status, err := do("/good")
			assert.NoError(t, err)
			assert.Equal(t, http.StatusOK, status, "the refreshed token serves the endpoints that accept it")
		}
		require.Equal(t, int32(3), calls.Load(), "the first three rejections in a row refresh at once")

		for range 4 {
			status, err := do("/bad")
			assert.NoError(t, err, "within the spacing: the response as it is, no refresh")
			assert.Equal(t, http.StatusUnauthorized, status)
			status, err = do("/good")
			assert.NoError(t, err)
			assert.Equal(t, http.StatusOK, status, "within the spacing the token still serves the good endpoint")
		}
		assert.Equal(t, int32(3), calls.Load())

		// A minute of requests to the bad endpoint every 100 ms costs a
		// handful of refreshes (after 1 s, 2 s, 4 s ... 32 s, each ±20%),
		// not 600.
		for range 600 {
			_, _ = do("/bad")
			time.Sleep(100 * time.Millisecond)
		}
		n := calls.Load() - 3
		assert.GreaterOrEqual(t, n, int32(5), "refreshes in a minute of rejections (spacing too long)")
		assert.LessOrEqual(t, n, int32(7), "refreshes in a minute of rejections (spacing too short)")
		n = calls.Load()
		for range 1200 {
			_, _ = do("/bad")
			time.Sleep(100 * time.Millisecond)
		}
		assert.GreaterOrEqual(t, calls.Load()-n, int32(1), "refreshes in the next two minutes, at the 1 min cap")
		assert.LessOrEqual(t, calls.Load()-n, int32(3), "refreshes in the next two minutes, at the 1 min cap")

		status, err := do("/good")
		assert.NoError(t, err)
		assert.Equal(t, http.StatusOK, status, "the good endpoint works throughout")
	})
}

// A huge RefreshTimeout does not overflow the waiters' bound into giving up
// at once while the refresh is healthy.
func TestHugeRefreshTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := newAPI()
		ref := authtransport.RefresherFunc(func(context.Context, *authtransport.Token) (*authtransport.Token, error) {
			time.Sleep(2 * time.Second) // a slow but healthy token endpoint
			a.accept("new", true)
			return valid("new"), nil
		})
		tr := &authtransport.Transport{Base: a, Store: authtransport.NewMemoryStore(expired()), Refresher: ref, RefreshTimeout: math.MaxInt64}
		_, err := get(t, &http.Client{Transport: tr}, context.Background())
		var re *authtransport.RefreshError
		if errors.As(err, &re) {
			t.Logf("err: %v", err)
		}
		assert.NoError(t, err)
		time.Sleep(3 * time.Second) // let the detached flight finish
	})
}

// flakySaveStore fails as many Saves as failures says, then saves.
type flakySaveStore struct {
	authtransport.MemoryStore
	failures atomic.Int32
}

func (s *flakySaveStore) Save(ctx context.Context, tok *authtransport.Token) error {
	if s.failures.Add(-1) >= 0 {
		return errors.New("disk busy")
	}
	return s.MemoryStore.Save(ctx, tok)
}

func TestSaveIsRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := newAPI()
		st := &flakySaveStore{}
		st.failures.Store(2)
		require.NoError(t, st.MemoryStore.Save(context.Background(), expired()))
		c := &http.Client{Transport: &authtransport.Transport{Base: a, Store: st, Refresher: &countingRefresher{api: a}}}
		_, err := get(t, c, context.Background())
		require.NoError(t, err)
		tok, err := st.MemoryStore.Load(context.Background())
		require.NoError(t, err)
		assert.Equal(t, "tok-1", tok.AccessToken, "saved on the third try, for other processes to see")
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

type tokenSourceFunc func() (*oauth2.Token, error)

func (f tokenSourceFunc) Token() (*oauth2.Token, error) { return f() }

// A token file only a login fixes (corrupt, newer version, loose mode)
// makes a user-grant Transport ask for a login, with the file's problem in
// the error; a Refresher that needs no stored token (client credentials)
// replaces the file instead.
func TestTokenFileOnlyALoginFixesIsLoginRequired(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token.json")
	require.NoError(t, os.WriteFile(path, []byte("{not json"), 0o600))
	fs, err := filestore.New(path)
	require.NoError(t, err)
	userGrant := authtransport.NewOAuth2Refresher(&oauth2.Config{Endpoint: oauth2.Endpoint{TokenURL: "https://as.example/token"}})
	c := &http.Client{Transport: &authtransport.Transport{Base: newAPI("tok-1"), Store: fs, Refresher: userGrant}}
	_, err = get(t, c, context.Background())
	var lr *authtransport.LoginRequiredError
	require.ErrorAs(t, err, &lr)
	assert.Equal(t, authtransport.ReasonNoToken, lr.Reason)
	var ce *filestore.CorruptError
	assert.ErrorAs(t, err, &ce, "the file's problem is the cause")
	assert.Contains(t, err.Error(), "is corrupt", "the message says what is wrong with the file")

	// The user logs in again: the next request uses the new token at once.
	require.NoError(t, fs.Save(context.Background(), valid("tok-1")))
	resp, err := get(t, c, context.Background())
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	// A Refresher that needs no stored token replaces a corrupt file.
	require.NoError(t, os.WriteFile(path, []byte("{not json"), 0o600))
	a := newAPI()
	ref := &countingRefresher{api: a}
	c = &http.Client{Transport: &authtransport.Transport{Base: a, Store: fs, Refresher: ref}}
	resp, err = get(t, c, context.Background())
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	stored, err := fs.Load(context.Background())
	require.NoError(t, err, "the file holds the new token")
	assert.Equal(t, "tok-1", stored.AccessToken)
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

func TestSlowTokenSourceResultIsUsedLater(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := tokenSourceFunc(func() (*oauth2.Token, error) {
			time.Sleep(time.Second) // slower than the refresh timeout
			return &oauth2.Token{AccessToken: "slow", Expiry: time.Now().Add(time.Hour)}, nil
		})
		r := authtransport.NewTokenSourceRefresher(src)
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		_, err := r.Refresh(ctx, nil)
		cancel()
		require.Error(t, err)
		time.Sleep(2 * time.Second)
		tok, err := r.Refresh(context.Background(), nil)
		require.NoError(t, err)
		assert.Equal(t, "slow", tok.AccessToken, "the late result serves the next refresh")
	})
}
