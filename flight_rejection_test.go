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
)

// A token rejected right after the refresh made for it does not lead to a
// refresh per request (a server that refuses every token would otherwise
// rotate the refresh token endlessly), yet stays in use: another endpoint
// may accept it.
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
		do := func(path string) error {
			req, err := http.NewRequest(http.MethodGet, "https://api.example"+path, nil)
			require.NoError(t, err)
			resp, err := tr.RoundTrip(req)
			if err == nil {
				_ = resp.Body.Close()
			}
			return err
		}
		for range 5 {
			assert.ErrorIs(t, do("/bad"), authtransport.ErrLoginRequired)
		}
		assert.Equal(t, int32(1), calls.Load(), "one refresh for five rejections")
		assert.NoError(t, do("/good"), "the refreshed token still works elsewhere")

		time.Sleep(2 * time.Minute)
		assert.ErrorIs(t, do("/bad"), authtransport.ErrLoginRequired)
		assert.Equal(t, int32(2), calls.Load(), "a minute later a rejection refreshes again")
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

		hang.Store(false)
		time.Sleep(2 * time.Minute) // past the backoff
		resp, err := get(t, c, context.Background())
		require.NoError(t, err, "a later refresh works")
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		close(release)
	})
}

type tokenSourceFunc func() (*oauth2.Token, error)

func (f tokenSourceFunc) Token() (*oauth2.Token, error) { return f() }

func TestTokenFileOnlyALoginFixesIsLoginRequired(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token.json")
	require.NoError(t, os.WriteFile(path, []byte("{not json"), 0o600))
	fs, err := authtransport.NewFileStore(path)
	require.NoError(t, err)
	c := &http.Client{Transport: &authtransport.Transport{Base: newAPI(), Store: fs, Refresher: &countingRefresher{}}}
	_, err = get(t, c, context.Background())
	var lr *authtransport.LoginRequiredError
	require.ErrorAs(t, err, &lr)
	assert.Equal(t, authtransport.ReasonNoToken, lr.Reason)
	var ce *authtransport.CorruptFileError
	assert.ErrorAs(t, err, &ce, "the file's problem is the cause")
}
