package redisstore_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d5c4ca72/authtransport"
	"github.com/d5c4ca72/authtransport/authtest"
	"github.com/d5c4ca72/authtransport/redisstore"
)

// envSoak set to any value makes TestFleetRefreshesOncePerExpiry run each
// row for a minute instead of a few seconds.
const envSoak = "REDISSTORE_SOAK"

const (
	fleetProcesses  = 3
	fleetGoroutines = 50
	fleetLifetime   = 3 * time.Second // of each access token
	fleetPause      = 100 * time.Millisecond
)

// fleetParams are a fleet child's parameters.
type fleetParams struct {
	Duration     time.Duration
	Margin       time.Duration // the Transport's RefreshMargin
	DisableAhead bool          // the Transport's DisableRefreshAhead
}

// fleetResult is what a fleet child reports.
type fleetResult struct {
	OK        int            `json:"ok"`
	Failed    map[string]int `json:"failed"` // requests that did not answer 200, by outcome
	Refreshed int            `json:"refreshed"`
	Adopted   int            `json:"adopted"`
	Events    map[string]int `json:"events"` // other events of note, by kind
}

// TestFleetRefreshesOncePerExpiry runs 3 processes of 50 goroutines that
// share one Redis store and send requests for a while against an
// authorization server that rotates refresh tokens, revokes the grant on
// reuse, and issues tokens that live 3 s. The token is refreshed once per
// generation across the fleet: every refresh-token request succeeds (so
// none presented a refresh token twice), no reuse is detected, no request
// fails, and the number of refreshes stays within what the Transport's
// schedule asks for. The rows differ in that schedule: refreshing when the
// token is due (every process finds it due at the same moment), and
// refreshing ahead of that in the background (the default).
//
// Each row runs 10 s, or a minute with REDISSTORE_SOAK set.
func TestFleetRefreshesOncePerExpiry(t *testing.T) {
	if os.Getenv(envChild) == "fleet" {
		fleetChild(t)
		return
	}
	if testing.Short() {
		t.Skip("runs 3 processes for 10 s per row")
	}
	srvRedis := needRedis(t)
	duration := 10 * time.Second
	if os.Getenv(envSoak) != "" {
		duration = time.Minute
	}
	tests := []struct {
		name   string
		params fleetParams
		// minLife is the shortest time a token serves before the
		// schedule refreshes it.
		minLife time.Duration
	}{
		{
			name:    "refresh when due",
			params:  fleetParams{Duration: duration, Margin: 250 * time.Millisecond, DisableAhead: true},
			minLife: fleetLifetime - 250*time.Millisecond,
		},
		{
			name:    "refresh ahead",
			params:  fleetParams{Duration: duration, Margin: 500 * time.Millisecond},
			minLife: time.Duration(0.7 * float64(fleetLifetime-500*time.Millisecond)),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := authtest.NewServer()
			defer srv.Close()
			srv.SetAccessTokenLifetime(fleetLifetime)
			key := newKey(t)
			c := newClient(t, srvRedis.Addr, nil)
			seed := &redisstore.Store{Client: c, Key: key}
			require.NoError(t, seed.Save(t.Context(), srv.NewExpiredToken()), "storing an expired token")

			var children []*child
			for range fleetProcesses {
				children = append(children, startChild(t, "TestFleetRefreshesOncePerExpiry", "fleet",
					srvRedis.Addr, srv.URL, srv.ClientSecret, key, tt.params))
			}
			start := time.Now()
			for _, ch := range children {
				ch.send("GO")
			}
			results := make([]fleetResult, len(children))
			for i, ch := range children {
				ch.result(&results[i], duration+time.Minute)
			}
			elapsed := time.Since(start)
			for _, ch := range children {
				ch.wait()
			}

			st := srv.Stats()
			attempts := 0
			for _, n := range st.TokenRequests["refresh_token"] {
				attempts += n
			}
			ok, refreshed := 0, 0
			for i, r := range results {
				ok += r.OK
				refreshed += r.Refreshed
				assert.Empty(t, r.Failed, "process %d: failed requests", i)
				t.Logf("process %d: %d requests ok, failed %v, refreshed %d, adopted %d, events %v", i, r.OK, r.Failed, r.Refreshed, r.Adopted, r.Events)
			}
			lifetimes := elapsed.Seconds() / fleetLifetime.Seconds()
			maxRefreshes := 1 + int(math.Ceil(float64(duration)/float64(tt.minLife)))
			t.Logf("%v with %d processes × %d goroutines, tokens living %v: %d requests ok, %.1f lifetimes elapsed, %d refresh_token grants (%v), reuse detected %d; at most %d allowed by the schedule",
				elapsed.Round(time.Millisecond), fleetProcesses, fleetGoroutines, fleetLifetime, ok, lifetimes,
				st.Refreshes(), st.TokenRequests["refresh_token"], st.RefreshTokenReuse, maxRefreshes)

			assert.Zero(t, st.RefreshTokenReuse, "refresh-token reuse detected")
			assert.Equal(t, st.Refreshes(), attempts, "every refresh-token request succeeded")
			assert.Equal(t, st.Refreshes(), refreshed, "the processes' refreshes are the server's")
			assert.GreaterOrEqual(t, st.Refreshes(), int(lifetimes), "at least one refresh per token lifetime elapsed")
			assert.LessOrEqual(t, st.Refreshes(), maxRefreshes, "no more refreshes than the schedule asks for")
			assert.Positive(t, ok, "requests were made")
		})
	}
}

// fleetChild is a fleet process: 50 goroutines send requests until the
// duration has passed, then it prints what happened.
func fleetChild(t *testing.T) {
	var p fleetParams
	redisAddr, url, secret, key := childEnv(t, &p)
	c := newClient(t, redisAddr, nil)
	store := &redisstore.Store{Client: c, Key: key}
	var mu sync.Mutex
	res := fleetResult{Failed: map[string]int{}, Events: map[string]int{}}
	api := newAPIClient(url, secret, store, func(tr *authtransport.Transport) {
		tr.RefreshMargin = p.Margin
		tr.DisableRefreshAhead = p.DisableAhead
		tr.OnEvent = func(ev authtransport.Event) {
			mu.Lock()
			defer mu.Unlock()
			switch ev.Kind {
			case authtransport.EventRefreshSucceeded:
				res.Refreshed++
			case authtransport.EventTokenAdopted:
				res.Adopted++
			case authtransport.EventRefreshFailed, authtransport.EventStoreFailed, authtransport.EventSaveFailed, authtransport.EventLoginRequired:
				res.Events[ev.Kind.String()+": "+fmt.Sprint(ev.Err)]++
			}
		}
	})
	defer api.close()

	fmt.Println("READY")
	waitForLine(t, bufio.NewScanner(os.Stdin), "GO")
	ctx, cancel := context.WithTimeout(context.Background(), p.Duration)
	defer cancel()
	var ok atomic.Int64
	var wg sync.WaitGroup
	for g := range fleetGoroutines {
		wg.Go(func() {
			for n := 0; ctx.Err() == nil; n++ {
				reqCtx, cancelReq := context.WithTimeout(context.Background(), 30*time.Second)
				r := outcome(api.get(reqCtx, fmt.Sprintf("items/%d/%d", g, n)))
				cancelReq()
				if r == "ok" {
					ok.Add(1)
				} else {
					mu.Lock()
					res.Failed[r]++
					mu.Unlock()
				}
				// Jittered, so that the goroutines do not move in step.
				sleepCtx(ctx, fleetPause/2+rand.N(fleetPause))
			}
		})
	}
	wg.Wait()
	mu.Lock()
	res.OK = int(ok.Load())
	data, err := json.Marshal(res)
	mu.Unlock()
	require.NoError(t, err)
	fmt.Printf("RESULT %s\n", data)
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-ctx.Done():
	}
}
