package authtransport_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d5c4ca72/authtransport"
)

// gatedRefresher answers each refresh of a refresh token with the next of
// its answers, after gate lets it go; an empty answer refuses the grant.
// Without a refresh token it asks for a login at once, as
// NewOAuth2Refresher does.
type gatedRefresher struct {
	api     *api
	gate    chan struct{}
	mu      sync.Mutex
	answers []string // access tokens; "" refuses
	calls   int
}

func (r *gatedRefresher) Refresh(ctx context.Context, old *authtransport.Token) (*authtransport.Token, error) {
	if old == nil || old.RefreshToken == "" {
		return nil, &authtransport.LoginRequiredError{Reason: authtransport.ReasonNoToken}
	}
	select {
	case <-r.gate:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	r.mu.Lock()
	at := r.answers[min(r.calls, len(r.answers)-1)]
	r.calls++
	r.mu.Unlock()
	if at == "" {
		return nil, &authtransport.LoginRequiredError{Reason: authtransport.ReasonRefreshRejected}
	}
	r.api.accept(at, true)
	return valid(at), nil
}

func (r *gatedRefresher) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls
}

// Logout drops the token the Transport holds in memory, not only the
// stored one: the next request does not send it, though it is still valid,
// and asks for a login. With a store that has a lock and with one that has
// none.
func TestLogoutDropsTheTokenInMemory(t *testing.T) {
	stores := map[string]func() authtransport.Store{
		"MemoryStore": func() authtransport.Store { return authtransport.NewMemoryStore(valid("at")) },
		"no lock":     func() authtransport.Store { return &plainStore{tok: valid("at")} },
	}
	for name, newStore := range stores {
		t.Run(name, func(t *testing.T) {
			a := newAPI("at")
			store := newStore()
			r := &gatedRefresher{api: a, gate: make(chan struct{}), answers: []string{"new"}}
			close(r.gate)
			tr := &authtransport.Transport{Base: a, Store: store, Refresher: r}
			c := &http.Client{Transport: tr}
			_, err := get(t, c, context.Background())
			require.NoError(t, err, "the request before Logout")
			require.NoError(t, tr.Logout(context.Background()))

			_, err = get(t, c, context.Background())
			var lr *authtransport.LoginRequiredError
			require.ErrorAs(t, err, &lr, "after Logout a request asks for a login")
			assert.Equal(t, authtransport.ReasonNoToken, lr.Reason)
			assert.Equal(t, []string{"Bearer at"}, a.requests(), "the token is not sent after Logout")
			_, err = tr.Token(context.Background())
			assert.ErrorAs(t, err, &lr, "Token after Logout")
			_, err = store.Load(context.Background())
			assert.ErrorIs(t, err, authtransport.ErrNoToken, "the stored token is removed")
		})
	}
}

// A refresh running when Logout is called neither saves its token nor
// lets the request that waits for it use it. With a LockingStore, Logout
// waits for the refresh's lock; without one it does not wait.
func TestLogoutDuringRefreshSavesNothing(t *testing.T) {
	stores := map[string]func() authtransport.Store{
		"MemoryStore": func() authtransport.Store { return authtransport.NewMemoryStore(expired()) },
		"no lock":     func() authtransport.Store { return &plainStore{tok: expired()} },
	}
	for name, newStore := range stores {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				a := newAPI()
				r := &gatedRefresher{api: a, gate: make(chan struct{}), answers: []string{"new"}}
				store := newStore()
				tr := &authtransport.Transport{Base: a, Store: store, Refresher: r}
				c := &http.Client{Transport: tr}
				var wg sync.WaitGroup
				var reqErr error
				wg.Go(func() { _, reqErr = get(t, c, context.Background()) })
				synctest.Wait() // the refresh waits at the gate
				var logoutErr error
				wg.Go(func() { logoutErr = tr.Logout(context.Background()) })
				synctest.Wait() // Logout is done, or waits for the refresh's lock
				close(r.gate)
				wg.Wait()

				require.NoError(t, logoutErr)
				var lr *authtransport.LoginRequiredError
				assert.ErrorAs(t, reqErr, &lr, "the waiting request asks for a login")
				assert.Empty(t, a.requests(), "the refreshed token is not used")
				_, err := store.Load(context.Background())
				assert.ErrorIs(t, err, authtransport.ErrNoToken, "nothing is saved")
				_, err = get(t, c, context.Background())
				assert.ErrorAs(t, err, &lr, "the next request asks for a login too")
				assert.Empty(t, a.requests(), "and sends nothing")
			})
		})
	}
}

// A refresh that fails after Forget was called is not recorded: the
// request that waited for it tries the Refresher again at once instead of
// failing with it. Without Forget the failure stands, and the next request
// meets it during its backoff (the control).
func TestForgetDuringRefreshDropsItsFailure(t *testing.T) {
	for _, forget := range []bool{true, false} {
		synctest.Test(t, func(t *testing.T) {
			a := newAPI()
			r := &gatedRefresher{api: a, gate: make(chan struct{}), answers: []string{"", "new"}}
			tr := &authtransport.Transport{Base: a, Store: authtransport.NewMemoryStore(expired()), Refresher: r}
			c := &http.Client{Transport: tr}
			var wg sync.WaitGroup
			var first error
			wg.Go(func() { _, first = get(t, c, context.Background()) })
			synctest.Wait()
			if forget {
				tr.Forget()
			}
			close(r.gate)
			wg.Wait()
			var lr *authtransport.LoginRequiredError
			if forget {
				assert.NoError(t, first, "after Forget the refused refresh is not held against the request")
				assert.Equal(t, 2, r.count(), "the Refresher is asked again")
				return
			}
			require.ErrorAs(t, first, &lr, "the refused refresh")
			_, err := get(t, c, context.Background())
			assert.ErrorAs(t, err, &lr, "the refused refresh is remembered")
			assert.Equal(t, 1, r.count(), "the Refresher is not asked again during the backoff")
		})
	}
}

// Forget drops the token held in memory: the next request loads the
// store again and uses what another process (or the user) put there.
func TestForgetLoadsTheStoreAgain(t *testing.T) {
	a := newAPI("at", "other")
	store := &plainStore{tok: valid("at")}
	tr := &authtransport.Transport{Base: a, Store: store}
	c := &http.Client{Transport: tr}
	_, err := get(t, c, context.Background())
	require.NoError(t, err)
	require.NoError(t, store.Save(context.Background(), valid("other")))
	_, err = get(t, c, context.Background())
	require.NoError(t, err)
	tr.Forget()
	_, err = get(t, c, context.Background())
	require.NoError(t, err)
	assert.Equal(t, []string{"Bearer at", "Bearer at", "Bearer other"}, a.requests(),
		"a valid token in memory is used until Forget; then the store's")
}

// A caller waits for at most three flights: when each new token is
// rejected by another request before this caller could use it, it gets a
// *RefreshError after the third, instead of waiting on. Each rejection is
// made from the event of the refresh's success, before the flight lands.
func TestCallerWaitsForAtMostThreeFlights(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := newAPI() // accepts no token
		r := &countingRefresher{}
		var tr *authtransport.Transport
		spawned := 0
		tr = &authtransport.Transport{Base: a, Store: authtransport.NewMemoryStore(expired()), Refresher: r, DisableRefreshAhead: true,
			OnEvent: func(ev authtransport.Event) {
				if ev.Kind != authtransport.EventRefreshSucceeded || spawned == 10 {
					return
				}
				spawned++
				// Another request carries the new token and has it rejected;
				// it then waits for the flight, until it is cancelled.
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan struct{})
				go func() {
					defer close(done)
					_, _ = get(t, &http.Client{Transport: tr}, ctx)
				}()
				synctest.Wait()
				cancel()
				<-done
			}}
		_, err := tr.Token(context.Background())
		var re *authtransport.RefreshError
		require.ErrorAs(t, err, &re)
		assert.Contains(t, err.Error(), "rejected before it could be used")
		assert.Equal(t, int32(3), r.calls.Load(), "three flights, each with a refresh")
		tr.Forget() // and the Transport is left usable
	})
}

// A token that is due already when its refresh ends (the Refresher took
// longer than the token's margin) is used by the requests that waited for
// it, once, and not refreshed again at once.
func TestTokenDueOnArrivalIsUsedOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := newAPI()
		var calls int
		ref := authtransport.RefresherFunc(func(context.Context, *authtransport.Token) (*authtransport.Token, error) {
			calls++
			at := fmt.Sprintf("at%d", calls)
			a.accept(at, true)
			// Obtained a minute ago, valid for ten more seconds: due.
			return &authtransport.Token{AccessToken: at, RefreshToken: "rt", Expiry: time.Now().Add(10 * time.Second), ObtainedAt: time.Now().Add(-time.Minute)}, nil
		})
		tr := &authtransport.Transport{Base: a, Store: authtransport.NewMemoryStore(expired()), Refresher: ref, DisableRefreshAhead: true}
		_, err := get(t, &http.Client{Transport: tr}, context.Background())
		require.NoError(t, err)
		assert.Equal(t, 1, calls, "one refresh")
		assert.Equal(t, []string{"Bearer at1"}, a.requests())
	})
}

// A caller waits for a Store or Refresher that ignores its context at most
// three refresh budgets and a second (the lock wait, the load, the refresh
// and save), then gets a *RefreshError.
func TestWaitersGiveUpAfterThreeBudgets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		ref := authtransport.RefresherFunc(func(context.Context, *authtransport.Token) (*authtransport.Token, error) {
			<-release // ignores its context
			return nil, errors.New("too late")
		})
		tr := &authtransport.Transport{Base: newAPI(), Store: authtransport.NewMemoryStore(expired()), Refresher: ref, RefreshTimeout: 10 * time.Second}
		start := time.Now()
		_, err := tr.Token(context.Background())
		waited := time.Since(start)
		var re *authtransport.RefreshError
		require.ErrorAs(t, err, &re)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, 31*time.Second, waited, "3 × RefreshTimeout + 1 s")
		close(release)
	})
}

// A store that recovers starts its backoff over: after a failure, a
// success and a second failure, the store is tried again one second later,
// not two.
func TestStoreBackoffStartsOverAfterARecovery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := newAPI()
		ref := authtransport.RefresherFunc(func(context.Context, *authtransport.Token) (*authtransport.Token, error) {
			at := fmt.Sprintf("at-%d", time.Now().Unix())
			a.accept(at, true)
			return &authtransport.Token{AccessToken: at, RefreshToken: "rt", Expiry: time.Now().Add(2 * time.Second)}, nil
		})
		st := &flakyLoadStore{}
		require.NoError(t, st.MemoryStore.Save(context.Background(), expired()))
		tr := &authtransport.Transport{Base: a, Store: st, Refresher: ref, DisableRefreshAhead: true}
		c := &http.Client{Transport: tr}
		step := func(fail bool, wantOK bool, what string) {
			t.Helper()
			st.fail.Store(fail)
			_, err := get(t, c, context.Background())
			if wantOK {
				assert.NoError(t, err, what)
			} else {
				assert.Error(t, err, what)
			}
		}
		step(true, false, "the store fails")
		time.Sleep(1300 * time.Millisecond) // past 1 s ±20%, short of 2 s ±20%
		step(false, true, "a second later it is tried again, and works")
		time.Sleep(2100 * time.Millisecond) // the token has expired
		step(true, false, "the store fails again")
		time.Sleep(1300 * time.Millisecond) // past 1 s ±20%, short of 2 s ±20%
		step(false, true, "a second later it is tried again: the backoff started over")
	})
}

// firstLockWaits is a MemoryStore whose first Lock waits for release, as
// when another process holds the lock.
type firstLockWaits struct {
	*authtransport.MemoryStore
	once    sync.Once
	release chan struct{}
}

func (s *firstLockWaits) Lock(ctx context.Context) (func(), error) {
	first := false
	s.once.Do(func() { first = true })
	if first {
		select {
		case <-s.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return s.MemoryStore.Lock(ctx)
}

// A flight that is still waiting for the store's lock when Logout ends
// does not call the Refresher once it gets the lock: nothing it obtained
// would be used. The request that waited for it starts over, and with a
// Refresher that needs no token (client credentials) gets one new token:
// one call, not two.
func TestFlightWaitingForTheLockDuringLogoutDoesNotRefresh(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := newAPI()
		r := &countingRefresher{api: a}
		st := &firstLockWaits{MemoryStore: authtransport.NewMemoryStore(expired()), release: make(chan struct{})}
		tr := &authtransport.Transport{Base: a, Store: st, Refresher: r}
		var wg sync.WaitGroup
		var err error
		wg.Go(func() { _, err = get(t, &http.Client{Transport: tr}, context.Background()) })
		synctest.Wait() // the flight waits for the lock
		require.NoError(t, tr.Logout(context.Background()))
		close(st.release)
		wg.Wait()
		assert.NoError(t, err)
		assert.Equal(t, int32(1), r.calls.Load(), "one refresh, after Logout, for the request that waited")
		assert.Equal(t, []string{"Bearer tok-1"}, a.requests())
	})
}

// A refreshed token is stored with the time it was obtained, so that other
// processes sharing the store agree on its life.
func TestRefreshedTokenIsStoredWithItsObtainedAt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := newAPI()
		store := authtransport.NewMemoryStore(expired())
		tr := &authtransport.Transport{Base: a, Store: store, Refresher: &countingRefresher{api: a}}
		time.Sleep(time.Hour)
		refreshedAt := time.Now()
		_, err := get(t, &http.Client{Transport: tr}, context.Background())
		require.NoError(t, err)
		stored, err := store.Load(context.Background())
		require.NoError(t, err)
		assert.True(t, stored.ObtainedAt.Equal(refreshedAt), "ObtainedAt %v, refreshed at %v", stored.ObtainedAt, refreshedAt)
	})
}

// A Refresher's answer that no request could use is a *RefreshError that
// says what was wrong with it; the stored token is replaced only when the
// answer carries a new refresh token (which the server may have rotated).
func TestUnusableRefresherAnswers(t *testing.T) {
	tests := []struct {
		name   string
		tok    *authtransport.Token
		want   string
		stored string // the refresh token in the store afterwards
	}{
		{"no token", nil, "refresher returned no token", "rt"},
		{"no access token", &authtransport.Token{RefreshToken: "rt"}, "refresher returned no access token", "rt"},
		{"expired", &authtransport.Token{AccessToken: "at", Expiry: time.Now().Add(-time.Second)}, "refresher returned an expired token", "rt"},
		{"expired, with the same refresh token", &authtransport.Token{AccessToken: "at", RefreshToken: "rt", Expiry: time.Now().Add(-time.Second)}, "refresher returned an expired token", "rt"},
		{"expired, with a new refresh token", &authtransport.Token{AccessToken: "at", RefreshToken: "rt2", Expiry: time.Now().Add(-time.Second)}, "refresher returned an expired token", "rt2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ref := authtransport.RefresherFunc(func(context.Context, *authtransport.Token) (*authtransport.Token, error) { return tt.tok, nil })
			store := authtransport.NewMemoryStore(expired())
			tr := &authtransport.Transport{Base: newAPI(), Store: store, Refresher: ref}
			_, err := tr.Token(context.Background())
			var re *authtransport.RefreshError
			require.ErrorAs(t, err, &re)
			assert.Contains(t, err.Error(), tt.want)
			stored, err := store.Load(context.Background())
			require.NoError(t, err)
			assert.Equal(t, tt.stored, stored.RefreshToken, "only a new refresh token replaces the stored token")
			if tt.stored == "rt" {
				assert.Equal(t, "old", stored.AccessToken, "the stored token is left as it was")
			}
		})
	}
}

// Logout deletes the stored token under the store's lock: while another
// holder (a refresh in another process) has it, Logout waits, so that the
// holder's save cannot land after the deletion; requests made meanwhile
// wait for it and find no token.
func TestLogoutWaitsForTheStoresLock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := authtransport.NewMemoryStore(valid("at"))
		unlock, err := store.Lock(context.Background())
		require.NoError(t, err)
		a := newAPI("at")
		tr := &authtransport.Transport{Base: a, Store: store}
		done := make(chan error, 1)
		go func() { done <- tr.Logout(context.Background()) }()
		synctest.Wait()
		select {
		case <-done:
			t.Fatal("Logout did not wait for the lock")
		default:
		}
		_, err = store.Load(context.Background())
		assert.NoError(t, err, "the token is still stored while the lock is held")
		// A request made while Logout waits does not start with the token:
		// it waits for Logout, then finds none.
		reqDone := make(chan error, 1)
		go func() { _, err := get(t, &http.Client{Transport: tr}, context.Background()); reqDone <- err }()
		synctest.Wait()
		unlock()
		require.NoError(t, <-done)
		_, err = store.Load(context.Background())
		assert.ErrorIs(t, err, authtransport.ErrNoToken)
		assert.ErrorIs(t, <-reqDone, authtransport.ErrNoRefresher, "the request made during Logout finds no token")
		assert.Empty(t, a.requests(), "and sends nothing")
	})
}

// Forget and Logout drop the store's failure and its backoff: the next
// request reads the store at once.
func TestForgetAndLogoutDropTheStoresBackoff(t *testing.T) {
	for _, logout := range []bool{false, true} {
		synctest.Test(t, func(t *testing.T) {
			a := newAPI("at")
			st := &flakyLoadStore{}
			require.NoError(t, st.MemoryStore.Save(context.Background(), valid("at")))
			st.fail.Store(true)
			tr := &authtransport.Transport{Base: a, Store: st, Refresher: &gatedRefresher{api: a, gate: make(chan struct{})}}
			c := &http.Client{Transport: tr}
			_, err := get(t, c, context.Background())
			require.Error(t, err, "the store fails")
			st.fail.Store(false)
			if logout {
				require.NoError(t, tr.Logout(context.Background()))
				_, err = get(t, c, context.Background())
				var lr *authtransport.LoginRequiredError
				assert.ErrorAs(t, err, &lr, "after Logout the store is read at once, and is empty")
				return
			}
			tr.Forget()
			_, err = get(t, c, context.Background())
			assert.NoError(t, err, "after Forget the store is read at once")
		})
	}
}

// Forget keeps a token the store failed to save, but not the failure of
// its refresh: the next request refreshes it at once.
func TestForgetKeepsAnUnsavedTokenWithoutItsFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := newAPI()
		var calls int
		ref := authtransport.RefresherFunc(func(_ context.Context, old *authtransport.Token) (*authtransport.Token, error) {
			calls++
			if calls == 2 {
				return nil, &authtransport.RefreshError{StatusCode: http.StatusServiceUnavailable, RetryAfter: time.Minute}
			}
			at := fmt.Sprintf("at%d", calls)
			a.accept(at, true)
			return &authtransport.Token{AccessToken: at, RefreshToken: fmt.Sprintf("rt%d", calls), Expiry: time.Now().Add(time.Hour)}, nil
		})
		st := &toggleSaveStore{}
		require.NoError(t, st.MemoryStore.Save(context.Background(), expired()))
		st.fail.Store(true)
		tr := &authtransport.Transport{Base: a, Store: st, Refresher: ref}
		c := &http.Client{Transport: tr}
		_, err := get(t, c, context.Background())
		require.NoError(t, err, "at1, not saved")
		a.accept("at1", false) // revoked
		_, err = get(t, c, context.Background())
		require.Error(t, err, "its refresh fails, to be retried in a minute")
		tr.Forget()
		_, err = get(t, c, context.Background())
		require.NoError(t, err, "after Forget it is refreshed at once")
		assert.Equal(t, 3, calls)
		assert.Equal(t, "Bearer at3", a.requests()[len(a.requests())-1])
	})
}
