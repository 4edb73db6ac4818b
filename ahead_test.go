package authtransport_test

import (
	"context"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d5c4ca72/authtransport"
	"github.com/d5c4ca72/authtransport/authtest"
)

// aheadRun is one run of 4 goroutines calling back to back for 7 s while
// 4 s tokens come from a token endpoint that takes 400 ms.
type aheadRun struct {
	requests, failed int
	slow             int           // requests started after the first token that took over 200 ms
	slowest          time.Duration // of the requests started after the first token
	refreshes        int
}

// runAhead drives tr (whose Refresher takes 400 ms per token) with 4
// goroutines for 7 s and measures each request.
func runAhead(t *testing.T, tr *authtransport.Transport, url string, refreshes func() int) aheadRun {
	c := &http.Client{Transport: tr}
	var mu sync.Mutex
	var run aheadRun
	var gotFirst atomic.Bool
	end := time.Now().Add(7 * time.Second)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for time.Now().Before(end) {
				afterFirst := gotFirst.Load()
				start := time.Now()
				req, err := http.NewRequest(http.MethodGet, url, nil)
				require.NoError(t, err)
				resp, err := c.Do(req)
				took := time.Since(start)
				if err == nil {
					resp.Body.Close()
				}
				mu.Lock()
				run.requests++
				if err != nil || resp.StatusCode != http.StatusOK {
					run.failed++
				}
				if afterFirst && took > 200*time.Millisecond {
					run.slow++
				}
				if afterFirst {
					run.slowest = max(run.slowest, took)
				}
				mu.Unlock()
				gotFirst.Store(true)
			}
		})
	}
	wg.Wait()
	run.refreshes = refreshes()
	return run
}

// With the defaults, a token is refreshed in the background before it is
// due: after the first token no request waits for the token endpoint. In
// the clock of a synctest bubble the figures are exact: 4 s tokens are due
// after 2 s and refreshed from 1.4-1.6 s on, so 7 s see 4-5 refreshes. The
// API takes 10 ms per request.
func TestRefreshAheadKeepsRequestsFromWaiting(t *testing.T) {
	for _, tc := range []struct {
		name      string
		disable   bool
		wantSlow  bool
		refreshLo int
		refreshHi int
	}{
		{name: "default", refreshLo: 4, refreshHi: 6},
		{name: "DisableRefreshAhead", disable: true, wantSlow: true, refreshLo: 3, refreshHi: 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var n atomic.Int32
				a := newAPI()
				ref := authtransport.RefresherFunc(func(ctx context.Context, _ *authtransport.Token) (*authtransport.Token, error) {
					time.Sleep(400 * time.Millisecond)
					tok := valid("t" + string(rune('a'+n.Add(1))))
					tok.Expiry = time.Now().Add(4 * time.Second)
					a.accept(tok.AccessToken, true)
					return tok, nil
				})
				// The API takes 10 ms per request.
				slowAPI := roundTripFunc(func(req *http.Request) (*http.Response, error) {
					time.Sleep(10 * time.Millisecond)
					return a.RoundTrip(req)
				})
				tr := &authtransport.Transport{Base: slowAPI, Refresher: ref, DisableRefreshAhead: tc.disable}
				run := runAhead(t, tr, "https://api.example/v1/things", func() int { return int(n.Load()) })
				t.Logf("%d requests, %d failed, %d over 200 ms after the first token (slowest %v), %d refreshes",
					run.requests, run.failed, run.slow, run.slowest, run.refreshes)
				assert.Zero(t, run.failed, "failed requests")
				if tc.wantSlow {
					assert.Positive(t, run.slow, "without refresh ahead, some requests wait for the refresh")
				} else {
					assert.Zero(t, run.slow, "requests over 200 ms after the first token")
				}
				assert.GreaterOrEqual(t, run.refreshes, tc.refreshLo, "refreshes")
				assert.LessOrEqual(t, run.refreshes, tc.refreshHi, "refreshes")
			})
		})
	}
}

// TestRefreshAheadRealTime is the same run against authtest over loopback,
// in real time, for the figures; it asserts nothing about time. Set
// AUTHTRANSPORT_REALTIME=1 to run it.
func TestRefreshAheadRealTime(t *testing.T) {
	if os.Getenv("AUTHTRANSPORT_REALTIME") == "" {
		t.Skip("set AUTHTRANSPORT_REALTIME=1 to measure in real time")
	}
	srv := authtest.NewServer()
	defer srv.Close()
	srv.SetAccessTokenLifetime(4 * time.Second)
	srv.SetTokenDelay(400 * time.Millisecond)
	c, tr, _ := newClient(srv, srv.NewExpiredToken())
	defer c.CloseIdleConnections()
	run := runAhead(t, tr, srv.ResourceURL("items"), func() int { return srv.Stats().Refreshes() })
	t.Logf("real time: %d requests, %d failed, %d over 200 ms after the first token (slowest %v), %d refreshes",
		run.requests, run.failed, run.slow, run.slowest, run.refreshes)
	assert.Zero(t, run.failed)
}
