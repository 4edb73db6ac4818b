package authtransport_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/d5c4ca72/authtransport"
)

// the token refreshed for a rejected request and rejected again on the
// resend is not marked rejected nor withdrawn: the next request carries it,
// and every request spends one refresh.
func TestTokenRejectedAfterRefreshIsNotSentAgain(t *testing.T) {
	a := newAPI() // accepts nothing
	var calls atomic.Int32
	ref := authtransport.RefresherFunc(func(context.Context, *authtransport.Token) (*authtransport.Token, error) {
		return valid(fmt.Sprintf("t%d", calls.Add(1))), nil
	})
	tr := &authtransport.Transport{Base: a, Store: authtransport.NewMemoryStore(valid("old")), Refresher: ref}
	c := &http.Client{Transport: tr}
	_, err := get(t, c, context.Background())
	require.ErrorIs(t, err, authtransport.ErrLoginRequired)
	_, _ = get(t, c, context.Background())
	t.Logf("sent: %q, refreshes: %d", a.requests(), calls.Load())
	assert.NotContains(t, a.requests()[2:], "Bearer t1", "t1 was rejected by the resource server and sent again")
}

// withdrawal by pointer CAS fails when the same token was republished
// as another *current (here by a late 401 for an older token adopting the
// due token again); the rejected token stays published during the flight.
func TestRejectedTokenWithdrawnDespiteRepublish(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := newAPI("S", "X")
		holdA, holdC := make(chan struct{}), make(chan struct{})
		base := roundTripFunc(func(req *http.Request) (*http.Response, error) {
			switch req.URL.Path {
			case "/slowA":
				<-holdA
			case "/slowC":
				<-holdC
			}
			return a.RoundTrip(req)
		})
		st := authtransport.NewMemoryStore(&authtransport.Token{AccessToken: "S", RefreshToken: "rtS", Expiry: time.Now().Add(90 * time.Second)})
		ref := &countingRefresher{api: a, gate: make(chan struct{})}
		tr := &authtransport.Transport{Base: base, Store: st, Refresher: ref}
		c := &http.Client{Transport: tr}
		do := func(path string) error {
			req, _ := http.NewRequest("GET", "https://api.example"+path, nil)
			resp, err := c.Do(req)
			if resp != nil {
				resp.Body.Close()
			}
			return err
		}
		require.NoError(t, do("/")) // S loaded
		errA := make(chan error, 1)
		go func() { errA <- do("/slowA") }() // A out with S
		synctest.Wait()
		_ = st.Save(context.Background(), &authtransport.Token{AccessToken: "X", RefreshToken: "rtX", Expiry: time.Now().Add(10 * time.Minute)}) // another process refreshed
		time.Sleep(31 * time.Second)
		require.NoError(t, do("/")) // S due: X adopted (c1)
		errC := make(chan error, 1)
		go func() { errC <- do("/slowC") }() // C out with X (c1)
		synctest.Wait()
		time.Sleep(9 * time.Minute) // X inside its margin: due
		a.accept("S", false)
		a.accept("X", false) // X revoked
		close(holdA)         // late 401 for S: the flight adopts X again (c2, not due)
		t.Logf("A: %v", <-errA)
		close(holdC) // C: 401 for X, CAS(c1) fails, flight blocks in Refresh
		synctest.Wait()
		n := len(a.requests())
		errE := make(chan error, 1)
		go func() { errE <- do("/") }() // E: X is known rejected
		synctest.Wait()
		after := a.requests()[n:]
		close(ref.gate)
		t.Logf("C: %v, E: %v", <-errC, <-errE)
		assert.NotContains(t, after, "Bearer X", "known-rejected X sent by a new request: %q", after)
	})
}

// an oauth2 error wrapped by the Refresher in a RefreshError (the way
// to mark it terminal) keeps its response body, which can echo credentials.
func TestWrappedRetrieveErrorBodyRedacted(t *testing.T) {
	ref := authtransport.RefresherFunc(func(context.Context, *authtransport.Token) (*authtransport.Token, error) {
		return nil, &authtransport.RefreshError{Terminal: true, Err: &oauth2.RetrieveError{
			Response: &http.Response{StatusCode: 400, Status: "400 Bad Request", Header: http.Header{}},
			Body:     []byte(`{"refresh_token":"SECRET-RT"}`),
		}}
	})
	tr := &authtransport.Transport{Base: newAPI(), Store: authtransport.NewMemoryStore(expired()), Refresher: ref}
	_, err := get(t, &http.Client{Transport: tr}, context.Background())
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "SECRET-RT")
}

// 2*RefreshTimeout overflows for a very large RefreshTimeout; waiters
// give up at once (or after ~1s) while the refresh is healthy.
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
