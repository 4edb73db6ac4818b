package authtransport_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d5c4ca72/authtransport"
	"github.com/d5c4ca72/authtransport/filestore"
)

// After a failed Save the next refresh presents the unsaved token's refresh
// token, not the spent one.
func TestUnsavedTokenIsRefreshedFromItsOwnRefreshToken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := newAPI()
		var presented []string
		n := 0
		ref := authtransport.RefresherFunc(func(ctx context.Context, old *authtransport.Token) (*authtransport.Token, error) {
			presented = append(presented, old.RefreshToken)
			n++
			acc := "at" + string(rune('0'+n))
			a.accept(acc, true)
			return &authtransport.Token{AccessToken: acc, RefreshToken: "rt" + string(rune('0'+n)), Expiry: time.Now().Add(10 * time.Second)}, nil
		})
		st := &failingSaveStore{}
		st.MemoryStore = *authtransport.NewMemoryStore(&authtransport.Token{AccessToken: "at0", RefreshToken: "rt0", Expiry: time.Now().Add(-time.Minute)})
		tr := &authtransport.Transport{Base: a, Store: st, Refresher: ref, RefreshMargin: -1, DisableRefreshAhead: true}
		c := &http.Client{Transport: tr}
		_, err := get(t, c, context.Background())
		require.NoError(t, err)
		time.Sleep(11 * time.Second)
		_, err = get(t, c, context.Background())
		require.NoError(t, err)
		assert.Equal(t, []string{"rt0", "rt1"}, presented, "refresh tokens presented (rt0 is spent after the first refresh)")
	})
}

// A refresh that finishes after RefreshTimeout still saves its new
// rotating refresh token: Save has its own timeout.
func TestSlowRefreshIsStillSaved(t *testing.T) {
	a := newAPI()
	ref := authtransport.RefresherFunc(func(ctx context.Context, old *authtransport.Token) (*authtransport.Token, error) {
		time.Sleep(80 * time.Millisecond) // server answered late; rt is now spent
		a.accept("new", true)
		return &authtransport.Token{AccessToken: "new", RefreshToken: "rt2", Expiry: time.Now().Add(time.Hour)}, nil
	})
	fs, err := filestore.New(filepath.Join(t.TempDir(), "tok.json"))
	require.NoError(t, err)
	require.NoError(t, fs.Save(context.Background(), expired()))
	tr := &authtransport.Transport{Base: a, Store: fs, Refresher: ref, RefreshTimeout: 50 * time.Millisecond}
	_, err = get(t, &http.Client{Transport: tr}, context.Background())
	require.NoError(t, err)
	tok, err := fs.Load(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "rt2", tok.RefreshToken, "refresh token persisted for other processes")
}

// When Save keeps failing (disk full), each refresh presents the newest
// refresh token, never a spent one.
func TestUnsavedChainSurvivesRepeatedSaveFailures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := newAPI()
		var presented []string
		n := 0
		ref := authtransport.RefresherFunc(func(ctx context.Context, old *authtransport.Token) (*authtransport.Token, error) {
			presented = append(presented, old.RefreshToken)
			n++
			acc := fmt.Sprintf("at%d", n)
			a.accept(acc, true)
			return &authtransport.Token{AccessToken: acc, RefreshToken: fmt.Sprintf("rt%d", n), Expiry: time.Now().Add(time.Hour)}, nil
		})
		st := &failingSaveStore{}
		st.MemoryStore = *authtransport.NewMemoryStore(&authtransport.Token{AccessToken: "at0", RefreshToken: "rt0", Expiry: time.Now().Add(-time.Minute)})
		tr := &authtransport.Transport{Base: a, Store: st, Refresher: ref}
		c := &http.Client{Transport: tr}
		for i := range 3 {
			_, err := get(t, c, context.Background())
			assert.NoError(t, err, "request %d", i)
			time.Sleep(time.Hour) // the token expires: refresh again
		}
		assert.Equal(t, []string{"rt0", "rt1", "rt2"}, presented, "refresh tokens presented; rt0 and rt1 are spent")
	})
}

// The same with the stored predecessor still valid: the Transport refreshes
// from the unsaved token rather than roll back to the stored one.
func TestUnsavedChainDoesNotRollBackToStoredToken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := newAPI("at0")
		n := 0
		var presented []string
		ref := authtransport.RefresherFunc(func(ctx context.Context, old *authtransport.Token) (*authtransport.Token, error) {
			presented = append(presented, old.RefreshToken)
			n++
			acc := fmt.Sprintf("at%d", n)
			a.accept(acc, true)
			return &authtransport.Token{AccessToken: acc, RefreshToken: fmt.Sprintf("rt%d", n), Expiry: time.Now().Add(10 * time.Minute)}, nil
		})
		st := &failingSaveStore{}
		// at0 has no expiry: it stays "valid" for ever from the Transport's view.
		st.MemoryStore = *authtransport.NewMemoryStore(&authtransport.Token{AccessToken: "at0", RefreshToken: "rt0"})
		tr := &authtransport.Transport{Base: a, Store: st, Refresher: ref}
		c := &http.Client{Transport: tr}
		a.accept("at0", false) // at0 revoked: refresh -> at1 (unsaved)
		for range 4 {
			_, _ = get(t, c, context.Background())
			time.Sleep(10 * time.Minute)
		}
		t.Logf("presented=%q seen=%q", presented, a.requests())
		for _, p := range presented[1:] {
			assert.NotEqual(t, "rt0", p, "spent rt0 presented again")
		}
		seen := a.requests()
		for i, s := range seen[1:] {
			assert.NotEqual(t, "Bearer at0", s, "rejected at0 sent again (request %d)", i+1)
		}
	})
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

// Forget keeps a rotated token that the store failed to save: its refresh
// token is the only one that still works, and presenting the store's spent
// one would revoke the grant.
func TestForgetKeepsUnsavedToken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := newAPI()
		as := &rotatingAS{live: "rt0", api: a}
		st := &flakySaveStore{}
		st.MemoryStore = *authtransport.NewMemoryStore(&authtransport.Token{AccessToken: "at0", RefreshToken: "rt0", Expiry: time.Now().Add(-time.Minute)})
		st.failures.Store(3) // the three tries of the first save fail (disk full for a moment)
		tr := &authtransport.Transport{Base: a, Store: st, Refresher: as}
		c := &http.Client{Transport: tr}
		_, err := get(t, c, context.Background())
		require.NoError(t, err)

		tr.Forget() // e.g. after rotating the client secret, as Forget's doc suggests

		_, err = get(t, c, context.Background())
		revoked, presented := as.state()
		t.Logf("refresh tokens presented: %v; request error: %v", presented, err)
		assert.False(t, revoked, "the Transport presented a spent refresh token: the grant is revoked")
	})
}

// An answer whose access token is expired on arrival (clock skew) is a
// failure, but the rotated refresh token that came with it is kept and the
// retry after the backoff presents it, not the spent one: saved, or, when
// the store fails to save it, in memory (and saved again once it can be).
func TestUnusableAnswerKeepsRotatedRefreshToken(t *testing.T) {
	for _, saveFails := range []bool{false, true} {
		synctest.Test(t, func(t *testing.T) {
			a := newAPI()
			var mu sync.Mutex
			live, n := "rt0", 0
			var presented []string
			revoked := false
			ref := authtransport.RefresherFunc(func(_ context.Context, old *authtransport.Token) (*authtransport.Token, error) {
				mu.Lock()
				defer mu.Unlock()
				presented = append(presented, old.RefreshToken)
				if revoked || old.RefreshToken != live {
					revoked = true
					return nil, &authtransport.LoginRequiredError{Reason: authtransport.ReasonRefreshRejected}
				}
				n++
				live = fmt.Sprintf("rt%d", n)
				at := fmt.Sprintf("at%d", n)
				a.accept(at, true)
				exp := time.Now().Add(time.Hour)
				if n == 1 {
					exp = time.Now().Add(-time.Second) // the server's clock is behind: "expired" on arrival
				}
				return &authtransport.Token{AccessToken: at, RefreshToken: live, Expiry: exp}, nil
			})
			store := &toggleSaveStore{}
			require.NoError(t, store.MemoryStore.Save(context.Background(), &authtransport.Token{AccessToken: "at0", RefreshToken: "rt0", Expiry: time.Now().Add(-time.Minute)}))
			store.fail.Store(saveFails)
			tr := &authtransport.Transport{Base: a, Store: store, Refresher: ref}
			c := &http.Client{Transport: tr}
			_, err := get(t, c, context.Background())
			assert.Error(t, err, "the unusable answer")
			store.fail.Store(false)
			time.Sleep(2 * time.Second) // past the transient backoff
			_, err = get(t, c, context.Background())
			assert.NoError(t, err, "the retry")
			mu.Lock()
			defer mu.Unlock()
			assert.Equal(t, []string{"rt0", "rt1"}, presented, "save fails: %v", saveFails)
			assert.False(t, revoked, "the spent rt0 was presented again: grant revoked")
			stored, err := store.Load(context.Background())
			require.NoError(t, err)
			assert.Equal(t, "at2", stored.AccessToken)
		})
	}
}

// A token the store failed to save, saved again later by a flight that only
// checked the store, counts as saved from then on: when the token after it
// fails to save too, the Transport saves that one again over it (and does
// not fall back to the older stored token, whose refresh token is spent),
// so that a strict server never sees a refresh token twice.
func TestResavedTokenCountsAsSaved(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := newAPI()
		as := &rotatingAS{live: "rt0", api: a, lifetime: 2 * time.Second}
		st := &toggleSaveStore{}
		require.NoError(t, st.MemoryStore.Save(context.Background(), &authtransport.Token{AccessToken: "at0", RefreshToken: "rt0", Expiry: time.Now().Add(-time.Minute)}))
		tr := &authtransport.Transport{Base: a, Store: st, Refresher: as, DisableRefreshAhead: true}
		c := &http.Client{Transport: tr}
		req := func() error { _, err := get(t, c, context.Background()); return err }

		st.fail.Store(true)
		require.NoError(t, req(), "at1 obtained, not saved")
		time.Sleep(1100 * time.Millisecond) // at1 is due
		as.failOnce(&authtransport.RefreshError{Err: errors.New("token endpoint unavailable"), RetryAfter: 5 * time.Second})
		require.NoError(t, req(), "its refresh fails (retry after 5 s); at1 goes on serving")
		st.fail.Store(false)
		time.Sleep(time.Second) // at1 has expired; its failure is still pending
		_ = req()               // a check of the store saves at1 again
		time.Sleep(5 * time.Second)
		st.fail.Store(true)
		require.NoError(t, req(), "at2 obtained from at1, not saved")
		st.fail.Store(false)
		time.Sleep(1100 * time.Millisecond) // at2 is due
		require.NoError(t, req(), "at3 obtained from at2")
		revoked, presented := as.state()
		assert.False(t, revoked, "a refresh token was presented twice: %v", presented)
		stored, err := st.Load(context.Background())
		require.NoError(t, err)
		assert.Equal(t, "at3", stored.AccessToken)
	})
}

// A token the store failed to save is saved again by the next flight that
// finds the store working, before anything else: another Transport sharing
// the store then refreshes from it, even when this flight's own refresh
// fails, and no refresh token is presented twice.
func TestUnsavedTokenIsSavedForOthersFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := newAPI()
		as := &rotatingAS{live: "rt0", api: a, lifetime: 100 * time.Second}
		st := &toggleSaveStore{}
		require.NoError(t, st.MemoryStore.Save(context.Background(), &authtransport.Token{AccessToken: "at0", RefreshToken: "rt0", Expiry: time.Now().Add(-time.Minute)}))
		one := &authtransport.Transport{Base: a, Store: st, Refresher: as, DisableRefreshAhead: true}
		st.fail.Store(true)
		_, err := get(t, &http.Client{Transport: one}, context.Background())
		require.NoError(t, err, "at1, not saved")
		st.fail.Store(false)
		time.Sleep(50 * time.Second) // at1 is due
		as.failOnce(&authtransport.RefreshError{StatusCode: http.StatusServiceUnavailable})
		_, err = get(t, &http.Client{Transport: one}, context.Background())
		require.NoError(t, err, "at1 saved again; its refresh fails; it goes on serving")

		other := &authtransport.Transport{Base: a, Store: st, Refresher: as, DisableRefreshAhead: true}
		_, err = get(t, &http.Client{Transport: other}, context.Background())
		require.NoError(t, err, "another Transport refreshes from the stored at1")
		revoked, presented := as.state()
		assert.False(t, revoked, "a refresh token was presented twice: %v", presented)
	})
}
