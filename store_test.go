package authtransport_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/d5c4ca72/authtransport"
	"github.com/d5c4ca72/authtransport/filestore"
)

var _ authtransport.LockingStore = (*authtransport.MemoryStore)(nil)

func TestMemoryStore(t *testing.T) {
	ctx := context.Background()
	var s authtransport.MemoryStore // the zero value is ready to use
	_, err := s.Load(ctx)
	require.ErrorIs(t, err, authtransport.ErrNoToken)

	tok := valid("a")
	require.NoError(t, s.Save(ctx, tok))
	got, err := s.Load(ctx)
	require.NoError(t, err)
	assert.Same(t, tok, got)

	require.NoError(t, s.Save(ctx, nil))
	_, err = s.Load(ctx)
	assert.ErrorIs(t, err, authtransport.ErrNoToken, "Save(nil) empties the store")
}

func TestMemoryStoreLock(t *testing.T) {
	s := authtransport.NewMemoryStore(nil)
	unlock, err := s.Lock(context.Background())
	require.NoError(t, err)

	// A second holder waits, and gives up with its context.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err = s.Lock(ctx)
	assert.ErrorIs(t, err, context.DeadlineExceeded)

	unlock()
	unlock2, err := s.Lock(context.Background())
	require.NoError(t, err, "free again after unlock")
	unlock2()

	// Mutual exclusion under contention.
	var inside, most atomic.Int32
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			unlock, err := s.Lock(context.Background())
			if !assert.NoError(t, err) {
				return
			}
			n := inside.Add(1)
			if n > most.Load() {
				most.Store(n)
			}
			time.Sleep(time.Millisecond)
			inside.Add(-1)
			unlock()
		})
	}
	wg.Wait()
	assert.Equal(t, int32(1), most.Load(), "holders at once")
}

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

// A store of the user's own can say "only a new login fixes this" by
// wrapping ErrNoToken: the Transport treats it as empty, and the user
// learns why from the LoginRequiredError.
func TestCustomStoreCanAskForALogin(t *testing.T) {
	st := storeFunc(func(context.Context) (*authtransport.Token, error) {
		return nil, fmt.Errorf("keychain entry damaged: %w", authtransport.ErrNoToken)
	})
	userGrant := authtransport.NewOAuth2Refresher(&oauth2.Config{Endpoint: oauth2.Endpoint{TokenURL: "https://as.example/token"}})
	tr := &authtransport.Transport{Base: newAPI(), Store: st, Refresher: userGrant}
	_, err := get(t, &http.Client{Transport: tr}, context.Background())
	var lr *authtransport.LoginRequiredError
	require.ErrorAs(t, err, &lr)
	assert.Equal(t, authtransport.ReasonNoToken, lr.Reason)
	assert.Contains(t, err.Error(), "keychain entry damaged", "the store's reason is in the message")

	// Without a Refresher, the same store is a configuration error that
	// still says why.
	tr = &authtransport.Transport{Base: newAPI(), Store: st}
	_, err = get(t, &http.Client{Transport: tr}, context.Background())
	assert.ErrorIs(t, err, authtransport.ErrNoRefresher)
	assert.NotErrorIs(t, err, authtransport.ErrLoginRequired)
	assert.Contains(t, err.Error(), "keychain entry damaged")
}

// storeFunc is a Store whose Load is the function and whose Save succeeds.
type storeFunc func(context.Context) (*authtransport.Token, error)

func (f storeFunc) Load(ctx context.Context) (*authtransport.Token, error) { return f(ctx) }
func (f storeFunc) Save(context.Context, *authtransport.Token) error       { return nil }
