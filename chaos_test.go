package authtransport_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/d5c4ca72/authtransport"
	"github.com/d5c4ca72/authtransport/authtest"
)

// chaosAttempt is one token request as the client sent it.
type chaosAttempt struct {
	start, end time.Time
	fault      string        // "" when the real token endpoint answered
	retryAfter time.Duration // what a 429 asked for
	ok         bool          // a token came back
}

// chaosNet sits between the Transport's token client and the real token
// endpoint and, at random, fails token requests before they reach it (so
// that no rotated refresh token is lost, which no client could prevent):
// 500, 503, 429 with Retry-After, garbage, a hang past the refresh timeout,
// a reset connection. It records every attempt and every access token
// issued, in order.
type chaosNet struct {
	base   http.RoundTripper
	hang   time.Duration
	faultP float64
	mu     sync.Mutex
	tries  []chaosAttempt
	issued []string
	rng    *rand.Rand
}

func (c *chaosNet) RoundTrip(req *http.Request) (*http.Response, error) {
	a := chaosAttempt{start: time.Now()}
	c.mu.Lock()
	roll, pick := c.rng.Float64(), c.rng.IntN(6)
	c.mu.Unlock()
	record := func(resp *http.Response, err error) (*http.Response, error) {
		a.end = time.Now()
		c.mu.Lock()
		c.tries = append(c.tries, a)
		c.mu.Unlock()
		return resp, err
	}
	answer := func(status int, h http.Header, body string) (*http.Response, error) {
		closeBody(req.Body)
		if h == nil {
			h = http.Header{}
		}
		return record(&http.Response{StatusCode: status, Status: fmt.Sprintf("%d %s", status, http.StatusText(status)), Header: h, Body: io.NopCloser(strings.NewReader(body)), Request: req}, nil)
	}
	if roll < c.faultP {
		switch pick {
		case 0:
			a.fault = "500"
			return answer(http.StatusInternalServerError, nil, "oops")
		case 1:
			a.fault = "503"
			return answer(http.StatusServiceUnavailable, nil, "maintenance")
		case 2:
			a.fault, a.retryAfter = "429", time.Second
			return answer(http.StatusTooManyRequests, http.Header{"Retry-After": {"1"}}, "slow down")
		case 3:
			a.fault = "garbage"
			return answer(http.StatusOK, http.Header{"Content-Type": {"application/json"}}, `{"access_token":`)
		case 4:
			a.fault = "hang"
			select {
			case <-time.After(c.hang):
			case <-req.Context().Done():
			}
			closeBody(req.Body)
			return record(nil, syscall.ECONNRESET)
		default:
			a.fault = "reset"
			closeBody(req.Body)
			return record(nil, syscall.ECONNRESET)
		}
	}
	resp, err := c.base.RoundTrip(req)
	if err != nil {
		return record(nil, err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return record(nil, err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if resp.StatusCode == http.StatusOK && json.Unmarshal(body, &tok) == nil && tok.AccessToken != "" {
		a.ok = true
		c.mu.Lock()
		c.issued = append(c.issued, tok.AccessToken)
		c.mu.Unlock()
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return record(resp, nil)
}

// index returns the position of access token tok in the issue order, or -1,
// and how many were issued.
func (c *chaosNet) index(tok string) (int, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := len(c.issued) - 1; i >= 0; i-- {
		if c.issued[i] == tok {
			return i, len(c.issued)
		}
	}
	return -1, len(c.issued)
}

func closeBody(b io.ReadCloser) {
	if b != nil {
		_ = b.Close()
	}
}

// TestChaos: 200 goroutines make 10,000 requests through one Transport
// while the access token expires every 4 s and is revoked early every 2.5 to
// 5 s,
// and the token endpoint fails 30% of the requests in every way it
// can. Every request ends in 200, a transient error or a
// LoginRequiredError; no request carries a token older than the one
// before the newest issued; after each failed token request the next one
// waits at least what the backoff allows (and Retry-After); no hang, panic,
// goroutine or connection leak. With CI set it runs a fifth of the
// requests; AUTHTRANSPORT_CHAOS_REQUESTS sets the number.
func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for about 15 s")
	}
	requests := 10000
	if os.Getenv("CI") != "" {
		requests = 2000
	}
	if v := os.Getenv("AUTHTRANSPORT_CHAOS_REQUESTS"); v != "" {
		_, err := fmt.Sscan(v, &requests)
		require.NoError(t, err)
	}
	const goroutines = 200
	const refreshTimeout = 300 * time.Millisecond
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)

	srv := authtest.NewServer()
	defer srv.Close()
	srv.SetAccessTokenLifetime(4 * time.Second)
	base := &http.Transport{}
	defer base.CloseIdleConnections()
	net := &chaosNet{base: base, hang: 3 * refreshTimeout, faultP: 0.3, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}

	var stale atomic.Int32
	var sentMu sync.Mutex
	var staleSamples []string
	resource := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		tok := strings.TrimPrefix(req.Header.Get("Authorization"), "Bearer ")
		if i, n := net.index(tok); i < n-2 {
			stale.Add(1)
			sentMu.Lock()
			staleSamples = append(staleSamples, fmt.Sprintf("token %d of %d", i, n))
			sentMu.Unlock()
		}
		return base.RoundTrip(req)
	})
	tr := &authtransport.Transport{
		Base:           resource,
		Store:          authtransport.NewMemoryStore(srv.NewExpiredToken()),
		Refresher:      authtransport.NewOAuth2Refresher(srv.Config()),
		RefreshTimeout: refreshTimeout,
	}
	c := &http.Client{Transport: tr}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, &http.Client{Transport: net})

	// Revoke the access tokens early now and then.
	stop := make(chan struct{})
	var revocations atomic.Int32
	revoker := make(chan struct{})
	go func() {
		defer close(revoker)
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Duration(2500+rand.IntN(2500)) * time.Millisecond):
				srv.RevokeAccessTokens()
				revocations.Add(1)
			}
		}
	}()

	var mu sync.Mutex
	outcomes := map[string]int{}
	start := time.Now()
	var wg sync.WaitGroup
	perG := requests / goroutines
	for g := range goroutines {
		wg.Go(func() {
			for i := range perG {
				time.Sleep(time.Duration(150+rand.IntN(300)) * time.Millisecond)
				rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				req, err := http.NewRequestWithContext(rctx, http.MethodGet, srv.ResourceURL(fmt.Sprintf("items/%d/%d", g, i)), nil)
				require.NoError(t, err)
				resp, err := c.Do(req)
				var kind string
				var lr *authtransport.LoginRequiredError
				var re *authtransport.RefreshError
				switch {
				case err == nil:
					kind = fmt.Sprintf("status %d", resp.StatusCode)
					resp.Body.Close()
				case errors.As(err, &lr):
					kind = "login required: " + lr.Reason.String()
				case errors.As(err, &re):
					kind = "transient: refresh error"
				case errors.Is(err, context.DeadlineExceeded):
					kind = "transient: deadline"
				default:
					kind = "other: " + err.Error()
				}
				cancel()
				mu.Lock()
				outcomes[kind]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(stop)
	<-revoker
	wall := time.Since(start)

	// The outcomes.
	var kinds []string
	total := 0
	for k, n := range outcomes {
		kinds = append(kinds, fmt.Sprintf("%s: %d", k, n))
		total += n
		assert.True(t, k == "status 200" || strings.HasPrefix(k, "transient:") || strings.HasPrefix(k, "login required:"),
			"outcome %q (%d requests) is not 200, a transient error or a login error", k, n)
	}
	sort.Strings(kinds)
	assert.Equal(t, goroutines*perG, total)
	assert.Positive(t, outcomes["status 200"], "some requests succeed")
	assert.Zero(t, stale.Load(), "requests that carried a token older than the one before the newest: %v", staleSamples)

	// The attempts against the backoff.
	net.mu.Lock()
	tries := append([]chaosAttempt(nil), net.tries...)
	issued := len(net.issued)
	net.mu.Unlock()
	sort.Slice(tries, func(i, j int) bool { return tries[i].start.Before(tries[j].start) })
	faults := map[string]int{}
	tooSoon := 0
	for i, a := range tries {
		if a.fault != "" {
			faults[a.fault]++
		} else if !a.ok {
			faults["answered without a token"]++
		}
		if a.ok || i+1 == len(tries) {
			continue
		}
		// A failed attempt holds the next one off by the backoff: at
		// least 0.8 s (1 s -20% jitter), and Retry-After.
		wait := max(800*time.Millisecond, a.retryAfter)
		if gap := tries[i+1].start.Sub(a.end); gap < wait-20*time.Millisecond {
			tooSoon++
			t.Logf("attempt %d (%s) at %v was followed after %v", i, a.fault, a.start.Sub(start), gap)
		}
	}
	// The bound: each success is followed by at most the attempts the
	// schedule allows before the next one. Over the wall time, with tokens
	// of 4 s refreshed ahead at ~1.5 s, revocations, and failures held off
	// at least 0.8 s each, attempts cannot exceed successes plus one per
	// 0.8 s of wall time.
	bound := issued + int(wall/(800*time.Millisecond)) + 1
	stats := srv.Stats()
	t.Logf("%d requests in %v by %d goroutines: %s", total, wall.Round(time.Millisecond), goroutines, strings.Join(kinds, ", "))
	t.Logf("token requests: %d attempts (bound %d: %d tokens issued + one per 0.8 s of wall time), faults %v; %d early revocations; server: refresh reuse %d",
		len(tries), bound, issued, faults, revocations.Load(), stats.RefreshTokenReuse)
	assert.Zero(t, tooSoon, "failed token requests followed sooner than the backoff allows")
	assert.LessOrEqual(t, len(tries), bound, "token requests")
	assert.Zero(t, stats.RefreshTokenReuse, "refresh-token reuse")
}
