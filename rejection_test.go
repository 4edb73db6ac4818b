package authtransport_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
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

// A caller rejected with X that joins a refresh-ahead flight falling back
// to X after a transient failure gets the transient error, not X again
// (which would end in a login error for a passing outage).
func TestRejectedCallerJoiningRefreshAheadIsNotGivenItsTokenBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := newAPI("x")
		gate := make(chan struct{})
		var refreshes atomic.Int32
		ref := authtransport.RefresherFunc(func(ctx context.Context, _ *authtransport.Token) (*authtransport.Token, error) {
			refreshes.Add(1)
			<-gate
			return nil, errors.New("token endpoint unreachable")
		})
		x := &authtransport.Token{AccessToken: "x", RefreshToken: "rt", Expiry: time.Now().Add(2 * time.Minute)}
		hold := make(chan struct{})
		var first atomic.Bool
		base := roundTripFunc(func(req *http.Request) (*http.Response, error) {
			if first.CompareAndSwap(false, true) {
				<-hold
				a.accept("x", false) // server revoked x meanwhile
			}
			return a.RoundTrip(req)
		})
		tr := &authtransport.Transport{Base: base, Store: authtransport.NewMemoryStore(x), Refresher: ref}
		c := &http.Client{Transport: tr}
		errB := make(chan error, 1)
		go func() { _, err := get(t, c, context.Background()); errB <- err }()
		synctest.Wait()                                       // B is inside Base with x
		time.Sleep(61 * time.Second)                          // x is now inside the refresh margin
		go func() { _, _ = tr.Token(context.Background()) }() // refresh-ahead flight, rejected=false
		synctest.Wait()
		close(hold) // B gets its 401, joins the flight
		synctest.Wait()
		close(gate)
		err := <-errB
		t.Logf("refreshes=%d err=%v", refreshes.Load(), err)
		var lr *authtransport.LoginRequiredError
		if errors.As(err, &lr) {
			t.Errorf("transient refresh failure reported as login required (%v); Base saw %q", lr.Reason, a.requests())
		}
	})
}

// After x is rejected and the refresh fails, later requests do not present
// the revoked x again.
func TestRejectedTokenIsWithdrawnAfterFailedRefresh(t *testing.T) {
	a := newAPI() // x is not accepted: revoked
	ref := authtransport.RefresherFunc(func(ctx context.Context, _ *authtransport.Token) (*authtransport.Token, error) {
		return nil, &authtransport.RefreshError{StatusCode: 503}
	})
	tr := &authtransport.Transport{Base: a, Store: authtransport.NewMemoryStore(valid("x")), Refresher: ref}
	c := &http.Client{Transport: tr}
	for range 5 {
		_, _ = get(t, c, context.Background())
	}
	assert.Len(t, a.requests(), 1, "requests sent with the rejected token: %q", a.requests())
}

// A late 401 for an older generation W does not make the rejected current
// token X servable again.
func TestLateRejectionOfOlderTokenDoesNotRevive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := newAPI("W")
		var calls atomic.Int32
		ref := authtransport.RefresherFunc(func(ctx context.Context, _ *authtransport.Token) (*authtransport.Token, error) {
			if calls.Add(1) == 1 {
				a.accept("X", true)
				return valid("X"), nil
			}
			return nil, &authtransport.RefreshError{StatusCode: 503} // auth server down
		})
		holdA, inA := make(chan struct{}), make(chan struct{})
		var once sync.Once
		base := roundTripFunc(func(req *http.Request) (*http.Response, error) {
			if req.URL.Path == "/slow" && req.Header.Get("Authorization") == "Bearer W" {
				once.Do(func() { close(inA) })
				<-holdA
			}
			return a.RoundTrip(req)
		})
		st := authtransport.NewMemoryStore(&authtransport.Token{AccessToken: "W", RefreshToken: "rtW", Expiry: time.Now().Add(time.Hour)})
		tr := &authtransport.Transport{Base: base, Store: st, Refresher: ref}
		c := &http.Client{Transport: tr}

		errA := make(chan error, 1)
		go func() {
			req, _ := http.NewRequest("GET", "https://api.example/slow", nil)
			resp, err := c.Do(req)
			if resp != nil {
				resp.Body.Close()
			}
			errA <- err
		}()
		<-inA                                     // A's long request is out with W
		a.accept("W", false)                      // W revoked
		_, err := get(t, c, context.Background()) // B: 401 -> refresh -> X
		require.NoError(t, err)
		a.accept("X", false)                     // X revoked too
		time.Sleep(2 * time.Second)              // past the spacing of refreshes that rejections ask for
		_, err = get(t, c, context.Background()) // C: 401 -> refresh fails, X withdrawn
		require.Error(t, err)
		nBefore := len(a.requests())
		close(holdA) // A's 401 for W arrives late
		t.Logf("A: %v", <-errA)
		_, err = get(t, c, context.Background()) // D
		t.Logf("D: %v", err)
		after := a.requests()[nBefore:]
		assert.NotContains(t, after, "Bearer X", "X was rejected and must never be sent again; sent after: %q", after)
	})
}

// While the flight after a rejection runs, new requests wait for it instead
// of carrying the rejected token (a non-replayable POST then succeeds).
func TestRejectedTokenNotServedDuringFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := newAPI() // X revoked
		ref := &countingRefresher{api: a, gate: make(chan struct{})}
		tr := &authtransport.Transport{Base: a, Store: authtransport.NewMemoryStore(valid("X")), Refresher: ref}
		c := &http.Client{Transport: tr}
		errA := make(chan error, 1)
		go func() { _, err := get(t, c, context.Background()); errA <- err }()
		synctest.Wait() // A got its 401, the flight waits for the gate
		require.Equal(t, int32(1), ref.calls.Load())
		errB := make(chan error, 1)
		go func() {
			req, _ := http.NewRequest("POST", "https://api.example/v1/things", io.NopCloser(strings.NewReader("payload")))
			resp, err := c.Do(req)
			if resp != nil {
				resp.Body.Close()
			}
			errB <- err
		}()
		synctest.Wait()
		close(ref.gate)
		require.NoError(t, <-errA)
		assert.NoError(t, <-errB, "B was sent with the token already known to be rejected")
		assert.Equal(t, 1, strings.Count(strings.Join(a.requests(), ","), "Bearer X"), "requests carrying X: %q", a.requests())
	})
}

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

// A burst of rejections of one refreshed token, seen by many concurrent
// requests, counts as one step of the backoff: once the server accepts
// tokens again, requests keep working (refreshes are not held off for a
// minute).
func TestRejectionBurstCountsOnce(t *testing.T) {
	srv := authtest.NewServer()
	defer srv.Close()
	srv.SetAccessTokenLifetime(2 * time.Second)
	synctest.Test(t, func(t *testing.T) {
		mem := srv.InMemoryTransport()
		ctx := context.WithValue(context.Background(), oauth2.HTTPClient, &http.Client{Transport: mem})
		c := &http.Client{Transport: &authtransport.Transport{
			Base:          mem,
			Store:         authtransport.NewMemoryStore(srv.NewToken()),
			Refresher:     authtransport.NewOAuth2Refresher(srv.Config()),
			RefreshMargin: 200 * time.Millisecond,
		}}
		get := func() error {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.ResourceURL("items"), nil)
			require.NoError(t, err)
			resp, err := c.Do(req)
			if err == nil {
				_ = resp.Body.Close()
			}
			return err
		}
		srv.Reject("/api/items", authtest.Rejection{Times: 32})
		var wg sync.WaitGroup
		for range 16 {
			wg.Go(func() { _ = get() })
		}
		wg.Wait()
		srv.ClearRejections()
		// Past the tokens' 2 s lifetime, so that refreshes are needed again.
		var err error
		for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
			err = get()
		}
		require.NoError(t, err, "the last request, seconds after the burst")
		assert.Zero(t, srv.Stats().RefreshTokenReuse)
	})
}

func TestRejectionAfterRefreshFinishedDoesNotRefreshAgain(t *testing.T) {
	a := newAPI("old")
	ref := &countingRefresher{api: a}
	// The first request's 401 is held back until another caller has
	// already refreshed: it is the late arrival from an old generation.
	var holding atomic.Bool
	release := make(chan struct{})
	held := make(chan struct{})
	base := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		if req.Header.Get("Authorization") == "Bearer old" {
			a.accept("old", false)
			resp, _ := a.RoundTrip(req)
			if holding.CompareAndSwap(false, true) {
				close(held)
				<-release
			}
			return resp, nil
		}
		return a.RoundTrip(req)
	})
	tr := &authtransport.Transport{Base: base, Store: authtransport.NewMemoryStore(valid("old")), Refresher: ref}
	c := &http.Client{Transport: tr}

	done := make(chan error)
	go func() {
		_, err := get(t, c, context.Background())
		done <- err
	}()
	<-held
	// A second caller meets the rejection and refreshes.
	resp, err := get(t, c, context.Background())
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, int32(1), ref.calls.Load())
	close(release)

	require.NoError(t, <-done)
	assert.Equal(t, int32(1), ref.calls.Load(), "a rejection of the old token after the refresh must not refresh again")
}

// A pool of resource servers where one answers 401 and the next 200, one
// after the other, does not cost a refresh per request: refreshes that
// rejections ask for are spaced whatever their outcome (three at once, then
// 1 s doubling to 1 min), and within the spacing the 401 is returned as it
// is while the token goes on serving the servers that accept it.
func TestAlternatingRejectionsAreBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int64
		base := roundTripFunc(func(req *http.Request) (*http.Response, error) {
			if n.Add(1)%2 == 1 {
				return respond(req, http.StatusUnauthorized, `Bearer error="invalid_token"`), nil
			}
			return respond(req, http.StatusOK, ""), nil
		})
		var refreshes atomic.Int32
		ref := authtransport.RefresherFunc(func(context.Context, *authtransport.Token) (*authtransport.Token, error) {
			return valid(fmt.Sprintf("t%d", refreshes.Add(1))), nil
		})
		var limited atomic.Int32
		tr := &authtransport.Transport{Base: base, Store: authtransport.NewMemoryStore(valid("t0")), Refresher: ref,
			OnEvent: func(ev authtransport.Event) {
				if ev.Kind == authtransport.EventRefreshLimited {
					limited.Add(1)
				}
			}}
		c := &http.Client{Transport: tr}
		statuses := map[int]int{}
		for range 1000 {
			resp, err := get(t, c, context.Background())
			require.NoError(t, err, "every request ends in a response")
			statuses[resp.StatusCode]++
		}
		assert.Equal(t, int32(3), refreshes.Load(), "1,000 requests in an instant: three refreshes, no more")
		assert.Positive(t, statuses[http.StatusOK], "the accepting servers keep serving")
		assert.Equal(t, int32(statuses[http.StatusUnauthorized]), limited.Load(), "each 401 returned as it is is reported")

		// Over a minute and a half at 10 requests a second.
		for range 900 {
			_, _ = get(t, c, context.Background())
			time.Sleep(100 * time.Millisecond)
		}
		extra := refreshes.Load() - 3
		t.Logf("refreshes in 90 s of alternating answers: %d", extra)
		assert.GreaterOrEqual(t, extra, int32(5), "spacing 1 s, 2 s, 4 s, ... (too slow)")
		assert.LessOrEqual(t, extra, int32(8), "spacing 1 s, 2 s, 4 s, ... (too fast)")
	})
}

// Rejections that keep coming, however sparse (one every 2.1 s from one
// server of a pool, say), keep the spacing of the refreshes they ask for
// growing to one a minute: a run ends only after 2 min of quiet.
func TestSparseRejectionsAreStillSpaced(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base := roundTripFunc(func(req *http.Request) (*http.Response, error) {
			if req.URL.Host == "bad.example" {
				return respond(req, http.StatusUnauthorized, `Bearer error="invalid_token"`), nil
			}
			return respond(req, http.StatusOK, ""), nil
		})
		var refreshes atomic.Int32
		ref := authtransport.RefresherFunc(func(context.Context, *authtransport.Token) (*authtransport.Token, error) {
			return valid(fmt.Sprintf("t%d", refreshes.Add(1))), nil
		})
		tr := &authtransport.Transport{Base: base, Store: authtransport.NewMemoryStore(valid("t0")), Refresher: ref}
		c := &http.Client{Transport: tr}
		for range 286 { // ten minutes
			for _, host := range []string{"good.example", "bad.example"} {
				req, _ := http.NewRequest(http.MethodGet, "https://"+host+"/x", nil)
				if resp, err := c.Do(req); err == nil {
					_ = resp.Body.Close()
				}
			}
			time.Sleep(2100 * time.Millisecond)
		}
		t.Logf("refreshes in 10 min, one rejected request every 2.1 s: %d", refreshes.Load())
		assert.LessOrEqual(t, refreshes.Load(), int32(20), "3 + 7 in two minutes, then one a minute")
	})
}

// A caching Refresher (NewTokenSourceRefresher over a ReuseTokenSource)
// that hands an ahead flight the current token back cannot revive it when a
// resource server rejects it while the flight saves: the rejected token is
// never carried again.
func TestCachingRefresherCannotReviveRejectedToken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		now := time.Now()
		cached := &authtransport.Token{AccessToken: "at1-xxxxxx", RefreshToken: "rt1-xxxxxx", ObtainedAt: now.Add(-50 * time.Minute), Expiry: now.Add(10 * time.Minute)}
		var calls atomic.Int32
		src := tokenSourceFunc(func() (*oauth2.Token, error) { calls.Add(1); return cached.OAuth2(), nil })
		st := &blockingSaveStore{entered: make(chan struct{}), release: make(chan struct{})}
		st.MemoryStore = *authtransport.NewMemoryStore(cached)
		var rejecting atomic.Bool
		var sentAfterReject atomic.Int32
		var first atomic.Bool
		base := roundTripFunc(func(req *http.Request) (*http.Response, error) {
			if !rejecting.Load() {
				return respond(req, http.StatusOK, ""), nil
			}
			if first.Swap(true) {
				if req.Header.Get("Authorization") == "Bearer at1-xxxxxx" {
					sentAfterReject.Add(1)
				}
			} else {
				<-st.entered // the ahead flight is saving the token it got back
			}
			return respond(req, http.StatusUnauthorized, `Bearer error="invalid_token"`), nil
		})
		tr := &authtransport.Transport{Base: base, Store: st, Refresher: authtransport.NewTokenSourceRefresher(src)}
		c := &http.Client{Transport: tr}
		_, err := get(t, c, context.Background()) // adopts at1
		require.NoError(t, err)
		st.armed.Store(true)
		rejecting.Store(true)
		var err2 error
		done := make(chan struct{})
		go func() { _, err2 = get(t, c, context.Background()); close(done) }()
		synctest.Wait()
		close(st.release)
		<-done
		t.Logf("rejected request: %v", err2)
		var lr *authtransport.LoginRequiredError
		assert.False(t, errors.As(err2, &lr) && lr.Reason == authtransport.ReasonRejectedAfterRefresh, "resent with the token just rejected")
		assert.Zero(t, sentAfterReject.Load(), "requests carried at1 after its rejection")
		assert.Equal(t, int32(1), calls.Load(), "the Refresher's answer is a failure at once: it is not asked again")
	})
}
