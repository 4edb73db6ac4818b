package authtransport_test

import (
	"context"
	"errors"
	"math"
	"net/http"
	"sync"
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

// A loaded token without expiry is not refreshed ahead of a rejection.
func TestTokenWithoutExpiryIsNotRefreshedAhead(t *testing.T) {
	a := newAPI("static")
	ref := &countingRefresher{api: a}
	tr := &authtransport.Transport{Base: a, Store: authtransport.NewMemoryStore(&authtransport.Token{AccessToken: "static", RefreshToken: "rt"}), Refresher: ref}
	c := &http.Client{Transport: tr}
	for range 3 {
		_, err := get(t, c, context.Background())
		require.NoError(t, err)
	}
	assert.Equal(t, int32(0), ref.calls.Load(), "refreshes of a token without expiry that was never rejected")
}

// Two Transports sharing one MemoryStore present the refresh token once.
func TestSharedMemoryStoreRefreshesOnce(t *testing.T) {
	a := newAPI()
	var mu sync.Mutex
	used := map[string]int{}
	var n atomic.Int32
	ref := authtransport.RefresherFunc(func(ctx context.Context, old *authtransport.Token) (*authtransport.Token, error) {
		mu.Lock()
		used[old.RefreshToken]++
		mu.Unlock()
		time.Sleep(20 * time.Millisecond)
		k := n.Add(1)
		acc := "at" + string(rune('0'+k))
		a.accept(acc, true)
		return &authtransport.Token{AccessToken: acc, RefreshToken: "rt" + string(rune('0'+k)), Expiry: time.Now().Add(time.Hour)}, nil
	})
	st := authtransport.NewMemoryStore(expired())
	t1 := &authtransport.Transport{Base: a, Store: st, Refresher: ref}
	t2 := &authtransport.Transport{Base: a, Store: st, Refresher: ref}
	var wg sync.WaitGroup
	for _, tr := range []*authtransport.Transport{t1, t2} {
		wg.Go(func() { _, _ = get(t, &http.Client{Transport: tr}, context.Background()) })
	}
	wg.Wait()
	assert.Equal(t, 1, used["rt"], "times the refresh token rt was presented")
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

// Waiting for a LockingStore's lock while another Transport's refresh
// hangs must not leave the next refresh too little time: a refresh cut
// short after the server rotated the refresh token loses the new one, and
// the next refresh presents the spent one (the grant is revoked).
func TestLockWaitDoesNotEatRefreshBudget(t *testing.T) {
	srv := authtest.NewServer()
	defer srv.Close()
	store := authtransport.NewMemoryStore(srv.NewExpiredToken())
	inner := authtransport.NewOAuth2Refresher(srv.Config())
	hc := &http.Client{Transport: slowResponses{srv.Client().Transport}}
	newClient := func() *http.Client {
		return &http.Client{Transport: &authtransport.Transport{
			Base: srv.Client().Transport, Store: store, RefreshTimeout: 300 * time.Millisecond,
			Refresher: authtransport.RefresherFunc(func(ctx context.Context, old *authtransport.Token) (*authtransport.Token, error) {
				return inner.Refresh(context.WithValue(ctx, oauth2.HTTPClient, hc), old)
			}),
		}}
	}
	a, b := newClient(), newClient()
	get := func(c *http.Client) error {
		resp, err := c.Get(srv.ResourceURL("items"))
		if err == nil {
			_ = resp.Body.Close()
		}
		return err
	}
	srv.FailTokenRequests(1, authtest.Fault{Kind: authtest.FaultDelay, Delay: 2 * time.Second})
	done := make(chan error)
	go func() { done <- get(a) }()
	time.Sleep(5 * time.Millisecond)
	_ = get(b)
	<-done
	time.Sleep(1500 * time.Millisecond) // past the transient backoff
	err := get(a)
	assert.Zero(t, srv.Stats().RefreshTokenReuse, "refresh tokens presented twice")
	assert.NoError(t, err, "the grant is alive")
}

// A token response that arrives right at RefreshTimeout is not thrown
// away: the server has rotated the refresh token by then, and the next
// refresh would present the spent one.
func TestRefreshAtTheTimeoutKeepsRotatedToken(t *testing.T) {
	const timeout = 100 * time.Millisecond
	for d := timeout - time.Millisecond; d <= timeout+time.Millisecond; d += 200 * time.Microsecond {
		srv := authtest.NewServer()
		srv.SetTokenDelay(d)
		store := authtransport.NewMemoryStore(srv.NewExpiredToken())
		get := func() { // a new Transport each time: no backoff state
			tr := &authtransport.Transport{Base: srv.Client().Transport, Store: store,
				Refresher: authtransport.NewOAuth2Refresher(srv.Config()), RefreshTimeout: timeout}
			if resp, err := (&http.Client{Transport: tr}).Get(srv.ResourceURL("x")); err == nil {
				_ = resp.Body.Close()
			}
		}
		get()
		srv.SetTokenDelay(0)
		get()
		assert.Zero(t, srv.Stats().RefreshTokenReuse, "token delay %v", d)
		srv.Client().CloseIdleConnections()
		srv.Close()
	}
}

func TestConcurrentExpiredTokenRefreshesOnce(t *testing.T) {
	a := newAPI()
	ref := &countingRefresher{api: a, gate: make(chan struct{})}
	tr := &authtransport.Transport{Base: a, Store: authtransport.NewMemoryStore(expired()), Refresher: ref}
	c := &http.Client{Transport: tr}

	const n = 1000
	var wg sync.WaitGroup
	var ok atomic.Int32
	for range n {
		wg.Go(func() {
			resp, err := get(t, c, context.Background())
			if assert.NoError(t, err) && resp.StatusCode == http.StatusOK {
				ok.Add(1)
			}
		})
	}
	// Let the callers pile up on the flight, then let the refresh finish.
	for ref.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	close(ref.gate)
	wg.Wait()

	assert.Equal(t, int32(1), ref.calls.Load(), "refreshes")
	assert.Equal(t, int32(n), ok.Load(), "successful requests")
}

func TestStarterCancelsOthersStillGetToken(t *testing.T) {
	a := newAPI()
	ref := &countingRefresher{api: a, gate: make(chan struct{})}
	tr := &authtransport.Transport{Base: a, Store: authtransport.NewMemoryStore(expired()), Refresher: ref}
	c := &http.Client{Transport: tr}

	ctx, cancel := context.WithCancel(context.Background())
	starter := make(chan error)
	go func() {
		_, err := get(t, c, ctx)
		starter <- err
	}()
	for ref.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	others := make(chan error, 5)
	for range 5 {
		go func() {
			resp, err := get(t, c, context.Background())
			if err == nil && resp.StatusCode != http.StatusOK {
				err = errors.New(resp.Status)
			}
			others <- err
		}()
	}
	cancel()
	assert.ErrorIs(t, <-starter, context.Canceled)
	close(ref.gate)
	for range 5 {
		assert.NoError(t, <-others)
	}
	assert.Equal(t, int32(1), ref.calls.Load())
}

func TestHangingRefreshHonoursDeadlinesAndTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var refreshErr atomic.Value
		ref := authtransport.RefresherFunc(func(ctx context.Context, _ *authtransport.Token) (*authtransport.Token, error) {
			<-ctx.Done() // hangs until the refresh timeout
			refreshErr.Store(ctx.Err())
			return nil, ctx.Err()
		})
		tr := &authtransport.Transport{
			Base:           newAPI(),
			Store:          authtransport.NewMemoryStore(expired()),
			Refresher:      ref,
			RefreshTimeout: 10 * time.Second,
		}
		c := &http.Client{Transport: tr}

		start := time.Now()
		var wg sync.WaitGroup
		for _, d := range []time.Duration{time.Second, 2 * time.Second, 3 * time.Second} {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), d)
				defer cancel()
				_, err := get(t, c, ctx)
				assert.ErrorIs(t, err, context.DeadlineExceeded)
				assert.Equal(t, d, time.Since(start), "caller returned at its own deadline")
			})
		}
		wg.Wait()
		synctest.Wait()
		assert.Nil(t, refreshErr.Load(), "the refresh goes on after all callers left")

		time.Sleep(10 * time.Second)
		synctest.Wait()
		assert.Equal(t, context.DeadlineExceeded, refreshErr.Load(), "the refresh timeout fired")

		// The failure is transient: the caller gets a *RefreshError.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, err := get(t, c, ctx)
		var re *authtransport.RefreshError
		assert.ErrorAs(t, err, &re)
		assert.NotErrorIs(t, err, authtransport.ErrLoginRequired)
	})
}

func TestAdoptsTokenRefreshedByAnotherTransport(t *testing.T) {
	// Two Transports over one store stand for two processes. Their tokens
	// live shorter than the refresh margin.
	a := newAPI("t0")
	var calls atomic.Int32
	ref := authtransport.RefresherFunc(func(context.Context, *authtransport.Token) (*authtransport.Token, error) {
		calls.Add(1)
		a.accept("t1", true)
		return &authtransport.Token{AccessToken: "t1", RefreshToken: "rt1", Expiry: time.Now().Add(5 * time.Second)}, nil
	})
	store := authtransport.NewMemoryStore(valid("t0"))
	trA := &authtransport.Transport{Base: a, Store: store, Refresher: ref}
	trB := &authtransport.Transport{Base: a, Store: store, Refresher: ref}
	for _, tr := range []*authtransport.Transport{trA, trB} {
		tok, err := tr.Token(context.Background())
		require.NoError(t, err)
		require.Equal(t, "t0", tok.AccessToken)
	}
	a.accept("t0", false)
	for _, tr := range []*authtransport.Transport{trA, trB} {
		resp, err := get(t, &http.Client{Transport: tr}, context.Background())
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, resp.StatusCode)
	}
	assert.Equal(t, int32(1), calls.Load(), "the second transport adopted the first one's token")
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

// A Transport loading the store for the first time adopts a short-lived
// token that another process obtained a moment ago (the token says when),
// instead of refreshing it once more; a token whose age it cannot know (an
// older version wrote it) and that lives shorter than the margin is
// refreshed, as before.
func TestFirstLoadAdoptsShortLivedTokenObtainedElsewhere(t *testing.T) {
	for _, tc := range []struct {
		name      string
		obtained  time.Duration // before now; -1: unknown
		refreshes int32
	}{
		{"obtained 100 ms ago", 100 * time.Millisecond, 0},
		{"obtained 3 s ago", 3 * time.Second, 0},
		{"past its half-life", 5 * time.Second, 1},
		{"age unknown", -1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newAPI("short")
			ref := &countingRefresher{api: a}
			tok := &authtransport.Token{AccessToken: "short", RefreshToken: "rt", Expiry: time.Now().Add(8*time.Second - max(tc.obtained, 0))}
			if tc.obtained >= 0 {
				tok.ObtainedAt = time.Now().Add(-tc.obtained)
			}
			tr := &authtransport.Transport{Base: a, Store: authtransport.NewMemoryStore(tok), Refresher: ref}
			resp, err := get(t, &http.Client{Transport: tr}, context.Background())
			require.NoError(t, err)
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Equal(t, tc.refreshes, ref.calls.Load(), "refreshes")
		})
	}
}

// A first request that finds a valid token in a LockingStore loads it
// without taking the lock: with a FileStore every process would otherwise
// lock the file at start-up, with a Redis store every replica the fleet's
// lock.
func TestValidStoredTokenIsLoadedWithoutTheLock(t *testing.T) {
	st := &lockCountingStore{}
	st.MemoryStore = *authtransport.NewMemoryStore(valid("good"))
	a := newAPI("good")
	tr := &authtransport.Transport{Base: a, Store: st, Refresher: &countingRefresher{api: a}}
	for range 3 {
		resp, err := get(t, &http.Client{Transport: tr}, context.Background())
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, resp.StatusCode)
	}
	assert.Equal(t, int32(0), st.locks.Load(), "lock acquisitions")
	assert.Equal(t, int32(1), st.loads.Load(), "loads")

	// Due: now the lock is taken, once.
	st.MemoryStore = *authtransport.NewMemoryStore(expired())
	tr = &authtransport.Transport{Base: a, Store: st, Refresher: &countingRefresher{api: a}}
	_, err := get(t, &http.Client{Transport: tr}, context.Background())
	require.NoError(t, err)
	assert.Equal(t, int32(1), st.locks.Load(), "lock acquisitions for a refresh")
}

// lockCountingStore counts loads and locks.
type lockCountingStore struct {
	authtransport.MemoryStore
	loads, locks atomic.Int32
}

func (s *lockCountingStore) Load(ctx context.Context) (*authtransport.Token, error) {
	s.loads.Add(1)
	return s.MemoryStore.Load(ctx)
}

func (s *lockCountingStore) Lock(ctx context.Context) (func(), error) {
	s.locks.Add(1)
	return s.MemoryStore.Lock(ctx)
}

// Forget while a refresh is in flight does not start a second one: the next
// request joins the running flight, so that even with a Store that has no
// lock one refresh token is presented once.
func TestForgetDuringRefreshDoesNotRefreshTwice(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := newAPI()
		hold := make(chan struct{})
		as := &rotatingAS{live: "rt0", api: a, hold: hold, entered: make(chan struct{}, 1)}
		st := &plainStore{tok: &authtransport.Token{AccessToken: "at0", RefreshToken: "rt0", Expiry: time.Now().Add(-time.Minute)}}
		tr := &authtransport.Transport{Base: a, Store: st, Refresher: as}
		c := &http.Client{Transport: tr}
		var wg sync.WaitGroup
		wg.Go(func() { _, _ = get(t, c, context.Background()) })
		<-as.entered // the server has rotated rt0; its answer is on the way
		tr.Forget()
		wg.Go(func() { _, _ = get(t, c, context.Background()) })
		synctest.Wait()
		close(hold)
		wg.Wait()
		revoked, presented := as.state()
		t.Logf("refresh tokens presented: %v", presented)
		assert.False(t, revoked, "two refreshes presented rt0 in one process: the grant is revoked")
	})
}
