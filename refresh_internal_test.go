package authtransport

import (
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// slowTextError is a store error whose Error method, from its second call
// on, signals entered and waits for release: it stands for the time
// storeFailed spends between reading the current generation and taking
// Transport.mu (scrubbing the error text for secrets).
type slowTextError struct {
	calls   atomic.Int32
	entered chan struct{}
	release chan struct{}
}

func (e *slowTextError) Error() string {
	if e.calls.Add(1) == 2 {
		close(e.entered)
		<-e.release
	}
	return "store unavailable"
}

type failAfterStore struct {
	MemoryStore
	fail atomic.Bool
	err  error
}

func (s *failAfterStore) Load(ctx context.Context) (*Token, error) {
	if s.fail.Load() {
		return nil, s.err
	}
	return s.MemoryStore.Load(ctx)
}

// A store failure recorded while a request marks the current token
// rejected keeps the mark: the generation is read and replaced under one
// lock, so the rejected token is not carried again.
func TestStoreFailureKeepsRejectionMark(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		now := time.Now()
		tok := &Token{AccessToken: "at1-xxxxxx", RefreshToken: "rt1-xxxxxx", ObtainedAt: now.Add(-50 * time.Minute), Expiry: now.Add(10 * time.Minute)}
		serr := &slowTextError{entered: make(chan struct{}), release: make(chan struct{})}
		st := &failAfterStore{err: serr}
		st.tok = tok
		var accept atomic.Bool
		accept.Store(true)
		var mu sync.Mutex
		var sentAfterReject int
		var rejectedOnce atomic.Bool
		base := roundTripFunc(func(req *http.Request) (*http.Response, error) {
			auth := req.Header.Get("Authorization")
			if accept.Load() {
				return resp(req, 200, ""), nil
			}
			if rejectedOnce.Swap(true) {
				mu.Lock()
				if auth == "Bearer at1-xxxxxx" {
					sentAfterReject++
				}
				mu.Unlock()
			} else {
				<-serr.entered // the ahead flight is inside storeFailed
			}
			return resp(req, 401, `Bearer error="invalid_token"`), nil
		})
		refresher := RefresherFunc(func(context.Context, *Token) (*Token, error) {
			return &Token{AccessToken: "at2-xxxxxx", RefreshToken: "rt2-xxxxxx", Expiry: time.Now().Add(time.Hour)}, nil
		})
		tr := &Transport{Base: base, Store: st, Refresher: refresher}
		c := &http.Client{Transport: tr}
		do := func() error {
			req, _ := http.NewRequest(http.MethodGet, "https://api.example/x", nil)
			r, err := c.Do(req)
			if err == nil {
				_, _ = io.Copy(io.Discard, r.Body)
				_ = r.Body.Close()
			}
			return err
		}
		require.NoError(t, do()) // adopts at1 from the store
		st.fail.Store(true)
		accept.Store(false)
		var err2 error
		done := make(chan struct{})
		go func() { err2 = do(); close(done) }() // starts the ahead flight, then is rejected
		synctest.Wait()
		require.True(t, tr.cur.Load().rejected, "the rejection marked at1")
		close(serr.release)
		<-done
		t.Logf("rejected request ended with: %v", err2)
		var lr *LoginRequiredError
		assert.False(t, errors.As(err2, &lr) && lr.Reason == ReasonRejectedAfterRefresh, "a store hiccup sent the user to log in")
		mu.Lock()
		defer mu.Unlock()
		assert.Zero(t, sentAfterReject, "requests carried the rejected token after its rejection")
		assert.True(t, tr.cur.Load().rejected, "at1 is no longer marked rejected")
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func resp(req *http.Request, status int, challenge string) *http.Response {
	h := http.Header{}
	if challenge != "" {
		h.Set("WWW-Authenticate", challenge)
	}
	return &http.Response{StatusCode: status, Header: h, Body: io.NopCloser(strings.NewReader("x")), Request: req}
}

// instantOf keeps zero as never, takes times before 1970 as long past (not
// never) and times past year 2262 as the latest instant.
func TestInstantOf(t *testing.T) {
	tests := []struct {
		name string
		t    time.Time
		want instant
	}{
		{"zero: never", time.Time{}, 0},
		{"before 1970", time.Date(1969, 7, 20, 0, 0, 0, 0, time.UTC), 1},
		{"the epoch", time.Unix(0, 0), 1},
		{"just after the epoch", time.Unix(0, 2), 2},
		{"now", time.Unix(1_800_000_000, 5), 1_800_000_000_000_000_005},
		{"just past the latest", maxInstant.Add(500 * time.Millisecond), math.MaxInt64},
		{"year 3000", time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC), math.MaxInt64},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, instantOf(tt.t), tt.name)
	}
}
