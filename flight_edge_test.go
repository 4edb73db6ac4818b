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

	"github.com/d5c4ca72/authtransport"
)

// Regression tests from the second review of the single flight.

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

// store Load failing with an expired token: no backoff, one Load (and
// Lock) per request.
type countingFailStore struct {
	authtransport.MemoryStore
	loads atomic.Int32
}

func (s *countingFailStore) Load(ctx context.Context) (*authtransport.Token, error) {
	s.loads.Add(1)
	return nil, errors.New("store unavailable")
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
		t.Logf("token endpoint calls for 20 requests: %d", calls.Load())
		assert.LessOrEqual(t, calls.Load(), int32(2))
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
