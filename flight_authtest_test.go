package authtransport_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/d5c4ca72/authtransport"
	"github.com/d5c4ca72/authtransport/authtest"
)

// slowResponses adds 20 ms to every answer of base.
type slowResponses struct{ base http.RoundTripper }

func (s slowResponses) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := s.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	select {
	case <-time.After(20 * time.Millisecond):
		return resp, nil
	case <-req.Context().Done():
		_ = resp.Body.Close()
		return nil, req.Context().Err()
	}
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

// A burst of rejections of one refreshed token, seen by many concurrent
// requests, counts as one step of the backoff: once the server accepts
// tokens again, requests keep working (refreshes are not held off for a
// minute).
func TestRejectionBurstCountsOnce(t *testing.T) {
	srv := authtest.NewServer()
	defer srv.Close()
	srv.SetAccessTokenLifetime(2 * time.Second)
	c := &http.Client{Transport: &authtransport.Transport{
		Base:          srv.Client().Transport,
		Store:         authtransport.NewMemoryStore(srv.NewToken()),
		Refresher:     authtransport.NewOAuth2Refresher(srv.Config()),
		RefreshMargin: 200 * time.Millisecond,
	}}
	get := func() error {
		resp, err := c.Get(srv.ResourceURL("items"))
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
