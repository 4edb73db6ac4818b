package authtransport_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d5c4ca72/authtransport"
)

// attemptRecorder is a Refresher that fails transiently (with RetryAfter,
// if set) while failures are left, then hands out a token valid for an
// hour; it records when it was called.
type attemptRecorder struct {
	api        *api
	mu         sync.Mutex
	failures   int
	retryAfter time.Duration
	at         []time.Time
}

func (r *attemptRecorder) Refresh(context.Context, *authtransport.Token) (*authtransport.Token, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.at = append(r.at, time.Now())
	if r.failures > 0 {
		r.failures--
		return nil, &authtransport.RefreshError{StatusCode: http.StatusServiceUnavailable, RetryAfter: r.retryAfter}
	}
	r.api.accept("new", true)
	return valid("new"), nil
}

func (r *attemptRecorder) attempts() []time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Time(nil), r.at...)
}

// tokenFor100s is a token obtained now that lives 100 s: due 50 s from
// now (half its life, under the one-minute margin), refreshed ahead from
// about 37 s (75% of the way to due, ±5%).
func tokenFor100s() *authtransport.Token {
	return &authtransport.Token{AccessToken: "old", RefreshToken: "rt", Expiry: time.Now().Add(100 * time.Second), ObtainedAt: time.Now()}
}

// requestsEvery makes a request every 100 ms for d and returns how many
// failed and how long the slowest took.
func requestsEvery(t *testing.T, c *http.Client, d time.Duration) (failed int, slowest time.Duration) {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		start := time.Now()
		if _, err := get(t, c, context.Background()); err != nil {
			failed++
		}
		slowest = max(slowest, time.Since(start))
	}
	return failed, slowest
}

// A background refresh that fails leaves the token serving until it is
// due; the next background attempt comes after the backoff (1 s ±20%),
// and no request waits or fails meanwhile.
func TestFailedRefreshAheadIsRetriedInTheBackground(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := newAPI("old")
		r := &attemptRecorder{api: a, failures: 1}
		start := time.Now()
		tr := &authtransport.Transport{Base: a, Store: authtransport.NewMemoryStore(tokenFor100s()), Refresher: r}
		failed, slowest := requestsEvery(t, &http.Client{Transport: tr}, 45*time.Second)
		assert.Zero(t, failed, "no request fails")
		assert.Zero(t, slowest, "no request waits for the token endpoint")
		at := r.attempts()
		require.Len(t, at, 2, "a failed background attempt, then a good one")
		first := at[0].Sub(start)
		assert.True(t, first >= 35*time.Second && first <= 40*time.Second, "first attempt ahead of due: %v", first)
		gap := at[1].Sub(at[0])
		assert.True(t, gap >= 800*time.Millisecond && gap <= 1300*time.Millisecond, "retried after 1 s ±20%%: %v", gap)
	})
}

// A refresh that fails when the token is due (refresh-ahead off) leaves the
// token serving, without a wait, until the failure may be retried; then a
// request refreshes again.
func TestDueTokenServesUntilItsRefreshMayBeRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := newAPI("old")
		r := &attemptRecorder{api: a, failures: 1}
		tr := &authtransport.Transport{Base: a, Store: authtransport.NewMemoryStore(tokenFor100s()), Refresher: r, DisableRefreshAhead: true}
		c := &http.Client{Transport: tr}
		time.Sleep(50 * time.Second) // due
		_, err := get(t, c, context.Background())
		require.NoError(t, err, "the failed refresh leaves the token serving")
		failed, _ := requestsEvery(t, c, 700*time.Millisecond)
		assert.Zero(t, failed)
		assert.Len(t, r.attempts(), 1, "no attempt before the backoff ends")
		time.Sleep(600 * time.Millisecond) // past 1 s ±20%
		_, err = get(t, c, context.Background())
		require.NoError(t, err)
		assert.Len(t, r.attempts(), 2, "then a request refreshes again")
		assert.Equal(t, "Bearer new", a.requests()[len(a.requests())-1])
	})
}

// A token whose refresh failed with a Retry-After longer than the token
// has left serves until it expires, not until the retry: after its expiry
// requests fail with the refresh's error until the retry.
func TestTokenServesNoLongerThanItsExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := newAPI("old")
		r := &attemptRecorder{api: a, failures: 1, retryAfter: time.Minute}
		tok := &authtransport.Token{AccessToken: "old", RefreshToken: "rt", Expiry: time.Now().Add(10 * time.Second), ObtainedAt: time.Now()}
		tr := &authtransport.Transport{Base: a, Store: authtransport.NewMemoryStore(tok), Refresher: r, DisableRefreshAhead: true}
		c := &http.Client{Transport: tr}
		time.Sleep(5 * time.Second) // due (half of its life)
		_, err := get(t, c, context.Background())
		require.NoError(t, err, "the failed refresh leaves the token serving")
		time.Sleep(4900 * time.Millisecond)
		_, err = get(t, c, context.Background())
		assert.NoError(t, err, "until its expiry")
		time.Sleep(200 * time.Millisecond)
		_, err = get(t, c, context.Background())
		var re *authtransport.RefreshError
		assert.ErrorAs(t, err, &re, "an expired token is not sent while the retry waits")
		assert.Len(t, r.attempts(), 1)
		assert.Len(t, a.requests(), 2, "nothing was sent with the expired token")
	})
}

// A refusal (a *LoginRequiredError, a terminal *RefreshError, no
// Refresher able to help) holds the next attempt off for five minutes,
// every time, where a transient failure would be retried after a second;
// the event says which.
func TestTerminalFailuresWaitFiveMinutes(t *testing.T) {
	tests := []struct {
		name   string
		stored *authtransport.Token
		err    error
		detail string
	}{
		{"refresh refused", expired(), &authtransport.LoginRequiredError{Reason: authtransport.ReasonRefreshRejected}, "terminal"},
		{"client refused (client credentials)", nil, &authtransport.RefreshError{StatusCode: http.StatusUnauthorized, Terminal: true}, "terminal"},
		{"token endpoint down", expired(), &authtransport.RefreshError{StatusCode: http.StatusServiceUnavailable}, "transient"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var calls int
				ref := authtransport.RefresherFunc(func(context.Context, *authtransport.Token) (*authtransport.Token, error) {
					calls++
					return nil, tt.err
				})
				var events eventLog
				tr := &authtransport.Transport{Base: newAPI(), Store: authtransport.NewMemoryStore(tt.stored), Refresher: ref, OnEvent: events.record}
				c := &http.Client{Transport: tr}
				_, _ = get(t, c, context.Background())
				time.Sleep(1500 * time.Millisecond) // past a transient backoff (1 s ±20%)
				_, _ = get(t, c, context.Background())
				if tt.detail == "transient" {
					assert.Equal(t, 2, calls, "a transient failure is retried after a second")
				} else {
					assert.Equal(t, 1, calls, "a refusal is not retried after a second")
					time.Sleep(5*time.Minute - 2*time.Second)
					_, _ = get(t, c, context.Background())
					assert.Equal(t, 1, calls, "nor before five minutes")
					time.Sleep(time.Second)
					_, _ = get(t, c, context.Background())
					assert.Equal(t, 2, calls, "but after them")
				}
				assert.Contains(t, events.got(), authtransport.Event{Kind: authtransport.EventRefreshFailed, Detail: tt.detail, Err: errSome})
			})
		})
	}
}
