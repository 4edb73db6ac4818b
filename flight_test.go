package authtransport_test

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"sync"
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

// Regression tests for the single flight's edge cases, found in review.

// A static token without expiry and no Refresher serves every request.
func TestStaticTokenWithoutExpiryOrRefresher(t *testing.T) {
	a := newAPI("static")
	tr := &authtransport.Transport{Base: a, Store: authtransport.NewMemoryStore(&authtransport.Token{AccessToken: "static"})}
	c := &http.Client{Transport: tr}
	for i := range 3 {
		resp, err := get(t, c, context.Background())
		if !assert.NoError(t, err, "request %d", i+1) {
			continue
		}
		assert.Equal(t, 200, resp.StatusCode)
	}
}

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

// A Refresher handing back an expired token is a transient failure with
// backoff, not one token-endpoint call per request.
func TestExpiredTokenFromRefresherBacksOff(t *testing.T) {
	a := newAPI("x")
	var calls atomic.Int32
	ref := authtransport.RefresherFunc(func(ctx context.Context, _ *authtransport.Token) (*authtransport.Token, error) {
		calls.Add(1)
		return &authtransport.Token{AccessToken: "x", RefreshToken: "rt", Expiry: time.Now().Add(-time.Hour)}, nil // clock skew
	})
	tr := &authtransport.Transport{Base: a, Refresher: ref}
	c := &http.Client{Transport: tr}
	for range 20 {
		_, _ = get(t, c, context.Background())
	}
	assert.LessOrEqual(t, calls.Load(), int32(2), "token endpoint calls for 20 requests")
}

type failingSaveStore struct{ authtransport.MemoryStore }

func (s *failingSaveStore) Save(ctx context.Context, tok *authtransport.Token) error {
	return errors.New("disk full")
}

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

// Without a Refresher, a token inside the margin but valid for 30 s more
// is served.
func TestNoRefresherServesTokenInsideMargin(t *testing.T) {
	a := newAPI("x")
	x := &authtransport.Token{AccessToken: "x", Expiry: time.Now().Add(30 * time.Second)}
	tr := &authtransport.Transport{Base: a, Store: authtransport.NewMemoryStore(x)}
	_, err := get(t, &http.Client{Transport: tr}, context.Background())
	assert.NoError(t, err, "a token valid for 30s more")
}

// flakyLoadStore fails Load while fail is set.
type flakyLoadStore struct {
	authtransport.MemoryStore
	fail atomic.Bool
}

func (s *flakyLoadStore) Load(ctx context.Context) (*authtransport.Token, error) {
	if s.fail.Load() {
		return nil, errors.New("store unavailable")
	}
	return s.MemoryStore.Load(ctx)
}

func TestStoreLoadErrorKeepsServingValidToken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := newAPI("x")
		st := &flakyLoadStore{}
		_ = st.MemoryStore.Save(context.Background(), &authtransport.Token{AccessToken: "x", RefreshToken: "rt", Expiry: time.Now().Add(2 * time.Minute)})
		tr := &authtransport.Transport{Base: a, Store: st, Refresher: &countingRefresher{api: a}}
		c := &http.Client{Transport: tr}
		_, err := get(t, c, context.Background())
		require.NoError(t, err)
		time.Sleep(61 * time.Second) // inside the margin; x valid ~59s more
		st.fail.Store(true)
		_, err = get(t, c, context.Background())
		assert.NoError(t, err, "x is still valid")
		var re *authtransport.RefreshError
		var lr *authtransport.LoginRequiredError
		t.Logf("error type: RefreshError=%v LoginRequired=%v", errors.As(err, &re), errors.As(err, &lr))
	})
}

// A 401 with only a non-Bearer challenge (a proxy's Basic) spends no
// refresh and reaches the caller.
func TestOtherSchemeChallengeDoesNotRefresh(t *testing.T) {
	ref := &countingRefresher{}
	base := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		return respond(req, 401, `Basic realm="corp-proxy"`), nil
	})
	tr := &authtransport.Transport{Base: base, Store: authtransport.NewMemoryStore(valid("x")), Refresher: ref}
	resp, err := get(t, &http.Client{Transport: tr}, context.Background())
	require.NoError(t, err)
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "the caller gets the proxy's 401")
	assert.Equal(t, int32(0), ref.calls.Load(), "refreshes for a 401 that is not about the bearer token")
}

// A terminal failure with an empty store (client credentials) is retried
// after its backoff, not cached for ever.
func TestTerminalFailureIsRetriedAfterBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int32
		ref := authtransport.RefresherFunc(func(ctx context.Context, _ *authtransport.Token) (*authtransport.Token, error) {
			if calls.Add(1) == 1 {
				return nil, &authtransport.RefreshError{Code: "invalid_client", StatusCode: 401, Terminal: true}
			}
			return valid("x"), nil
		})
		tr := &authtransport.Transport{Base: newAPI("x"), Refresher: ref}
		c := &http.Client{Transport: tr}
		_, _ = get(t, c, context.Background())
		time.Sleep(24 * time.Hour)
		_, err := get(t, c, context.Background())
		assert.NoError(t, err, "a day later the refresher is still never asked (calls=%d)", calls.Load())
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

func TestRejectionWithNilBody(t *testing.T) {
	base := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 401, Header: http.Header{}, Request: req}, nil
	})
	tr := &authtransport.Transport{Base: base, Store: authtransport.NewMemoryStore(valid("x")), Refresher: &countingRefresher{}}
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("panic: %v", r)
		}
	}()
	req, _ := http.NewRequestWithContext(context.Background(), "GET", "https://api.example/", nil)
	_, _ = tr.RoundTrip(req)
}
