package authtransport_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
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

// roundTripFunc adapts a function to http.RoundTripper.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// respond builds a response to req with status and optional challenge.
func respond(req *http.Request, status int, challenge string) *http.Response {
	h := http.Header{}
	if challenge != "" {
		h.Set("WWW-Authenticate", challenge)
	}
	return &http.Response{
		StatusCode: status,
		Header:     h,
		Body:       io.NopCloser(strings.NewReader(http.StatusText(status))),
		Request:    req,
	}
}

// api is a fake resource server that accepts exactly the access tokens in
// valid; everything else gets 401 invalid_token.
type api struct {
	mu    sync.Mutex
	valid map[string]bool
	seen  []string // Authorization values in arrival order
}

func newAPI(valid ...string) *api {
	a := &api{valid: map[string]bool{}}
	for _, v := range valid {
		a.valid[v] = true
	}
	return a
}

func (a *api) accept(tok string, ok bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.valid[tok] = ok
}

func (a *api) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		_, _ = io.Copy(io.Discard, req.Body)
		_ = req.Body.Close()
	}
	auth := req.Header.Get("Authorization")
	a.mu.Lock()
	a.seen = append(a.seen, auth)
	ok := strings.HasPrefix(auth, "Bearer ") && a.valid[strings.TrimPrefix(auth, "Bearer ")]
	a.mu.Unlock()
	if !ok {
		return respond(req, http.StatusUnauthorized, `Bearer realm="api", error="invalid_token"`), nil
	}
	return respond(req, http.StatusOK, ""), nil
}

func (a *api) requests() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.seen...)
}

// countingRefresher hands out "tok-1", "tok-2", ... valid for an hour, and
// marks each valid at the API.
type countingRefresher struct {
	api   *api
	calls atomic.Int32
	gate  chan struct{} // if not nil, each refresh waits for it
}

func (r *countingRefresher) Refresh(ctx context.Context, rejected *authtransport.Token) (*authtransport.Token, error) {
	n := r.calls.Add(1)
	if r.gate != nil {
		select {
		case <-r.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	tok := "tok-" + string(rune('0'+n))
	if r.api != nil {
		r.api.accept(tok, true)
	}
	return &authtransport.Token{AccessToken: tok, RefreshToken: "rt", Expiry: time.Now().Add(time.Hour)}, nil
}

func expired() *authtransport.Token {
	return &authtransport.Token{AccessToken: "old", RefreshToken: "rt", Expiry: time.Now().Add(-time.Minute)}
}

func valid(access string) *authtransport.Token {
	return &authtransport.Token{AccessToken: access, RefreshToken: "rt", Expiry: time.Now().Add(time.Hour)}
}

func get(t *testing.T, c *http.Client, ctx context.Context) (*http.Response, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://api.example/v1/things", nil)
	require.NoError(t, err)
	resp, err := c.Do(req)
	if resp != nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
	}
	return resp, err
}

func TestConcurrentExpiredTokenRefreshesOnce(t *testing.T) {
	a := newAPI()
	ref := &countingRefresher{api: a, gate: make(chan struct{})}
	tr := &authtransport.Transport{Base: a, Store: authtransport.NewMemoryStore(expired()), Refresher: ref}
	c := &http.Client{Transport: tr}

	const n = 1000
	var wg sync.WaitGroup
	var ok atomic.Int32
	for range n {
		wg.Go(func() {
			resp, err := get(t, c, context.Background())
			if assert.NoError(t, err) && resp.StatusCode == http.StatusOK {
				ok.Add(1)
			}
		})
	}
	// Let the callers pile up on the flight, then let the refresh finish.
	for ref.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	close(ref.gate)
	wg.Wait()

	assert.Equal(t, int32(1), ref.calls.Load(), "refreshes")
	assert.Equal(t, int32(n), ok.Load(), "successful requests")
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

func TestStarterCancelsOthersStillGetToken(t *testing.T) {
	a := newAPI()
	ref := &countingRefresher{api: a, gate: make(chan struct{})}
	tr := &authtransport.Transport{Base: a, Store: authtransport.NewMemoryStore(expired()), Refresher: ref}
	c := &http.Client{Transport: tr}

	ctx, cancel := context.WithCancel(context.Background())
	starter := make(chan error)
	go func() {
		_, err := get(t, c, ctx)
		starter <- err
	}()
	for ref.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	others := make(chan error, 5)
	for range 5 {
		go func() {
			resp, err := get(t, c, context.Background())
			if err == nil && resp.StatusCode != http.StatusOK {
				err = errors.New(resp.Status)
			}
			others <- err
		}()
	}
	cancel()
	assert.ErrorIs(t, <-starter, context.Canceled)
	close(ref.gate)
	for range 5 {
		assert.NoError(t, <-others)
	}
	assert.Equal(t, int32(1), ref.calls.Load())
}

func TestHangingRefreshHonoursDeadlinesAndTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var refreshErr atomic.Value
		ref := authtransport.RefresherFunc(func(ctx context.Context, _ *authtransport.Token) (*authtransport.Token, error) {
			<-ctx.Done() // hangs until the refresh timeout
			refreshErr.Store(ctx.Err())
			return nil, ctx.Err()
		})
		tr := &authtransport.Transport{
			Base:           newAPI(),
			Store:          authtransport.NewMemoryStore(expired()),
			Refresher:      ref,
			RefreshTimeout: 10 * time.Second,
		}
		c := &http.Client{Transport: tr}

		start := time.Now()
		var wg sync.WaitGroup
		for _, d := range []time.Duration{time.Second, 2 * time.Second, 3 * time.Second} {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), d)
				defer cancel()
				_, err := get(t, c, ctx)
				assert.ErrorIs(t, err, context.DeadlineExceeded)
				assert.Equal(t, d, time.Since(start), "caller returned at its own deadline")
			})
		}
		wg.Wait()
		synctest.Wait()
		assert.Nil(t, refreshErr.Load(), "the refresh goes on after all callers left")

		time.Sleep(10 * time.Second)
		synctest.Wait()
		assert.Equal(t, context.DeadlineExceeded, refreshErr.Load(), "the refresh timeout fired")

		// The failure is transient: the caller gets a *RefreshError.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, err := get(t, c, ctx)
		var re *authtransport.RefreshError
		assert.ErrorAs(t, err, &re)
		assert.NotErrorIs(t, err, authtransport.ErrLoginRequired)
	})
}

// closeCounter is a request body that counts Close calls.
type closeCounter struct {
	io.Reader
	closes atomic.Int32
}

func (c *closeCounter) Close() error { c.closes.Add(1); return nil }

func TestNonReplayableBody(t *testing.T) {
	a := newAPI() // "old" is not accepted
	ref := &countingRefresher{api: a}
	tr := &authtransport.Transport{Base: a, Store: authtransport.NewMemoryStore(valid("old")), Refresher: ref}
	c := &http.Client{Transport: tr}

	body := &closeCounter{Reader: strings.NewReader("payload")}
	req, err := http.NewRequest(http.MethodPost, "https://api.example/v1/things", body)
	require.NoError(t, err)
	require.Nil(t, req.GetBody, "precondition: the body cannot be replayed")
	_, err = c.Do(req)

	require.ErrorIs(t, err, authtransport.ErrBodyNotReplayable)
	assert.NotErrorIs(t, err, authtransport.ErrLoginRequired, "no login is needed")
	assert.Equal(t, int32(1), body.closes.Load(), "body closed once")
	assert.Equal(t, []string{"Bearer old"}, a.requests(), "no resend")
	assert.Equal(t, int32(1), ref.calls.Load(), "the token was refreshed")

	resp, err := get(t, c, context.Background())
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "Bearer tok-1", a.requests()[1], "the next request uses the refreshed token")
}

func TestAlways401RetriesOnceThenLoginRequired(t *testing.T) {
	a := newAPI() // accepts nothing, even refreshed tokens
	ref := authtransport.RefresherFunc(func(ctx context.Context, _ *authtransport.Token) (*authtransport.Token, error) {
		return valid("new"), nil
	})
	tr := &authtransport.Transport{Base: a, Store: authtransport.NewMemoryStore(valid("old")), Refresher: ref}
	_, err := get(t, &http.Client{Transport: tr}, context.Background())

	var lr *authtransport.LoginRequiredError
	require.ErrorAs(t, err, &lr)
	assert.True(t, errors.Is(err, authtransport.ErrLoginRequired))
	assert.Equal(t, authtransport.ReasonRejectedAfterRefresh, lr.Reason)
	assert.Equal(t, http.StatusUnauthorized, lr.StatusCode)
	require.Len(t, lr.Challenges, 1)
	assert.Equal(t, "invalid_token", lr.Challenges[0].ErrorCode())
	assert.Equal(t, []string{"Bearer old", "Bearer new"}, a.requests(), "exactly one retry")
	var ue *url.Error
	assert.ErrorAs(t, err, &ue, "http.Client wraps the error")
}

func TestRequestBodyClosedExactlyOnce(t *testing.T) {
	cases := []struct {
		name  string
		base  http.RoundTripper
		store authtransport.Store
		ref   authtransport.Refresher
	}{
		{"success", newAPI("old"), authtransport.NewMemoryStore(valid("old")), nil},
		{"retried after refresh", newAPI(), authtransport.NewMemoryStore(valid("old")), &countingRefresher{}},
		{"no token, no refresher", newAPI(), nil, nil},
		{"base fails", roundTripFunc(func(r *http.Request) (*http.Response, error) {
			_ = r.Body.Close()
			return nil, errors.New("network down")
		}), authtransport.NewMemoryStore(valid("old")), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if cr, ok := tc.ref.(*countingRefresher); ok {
				cr.api = tc.base.(*api)
			}
			tr := &authtransport.Transport{Base: tc.base, Store: tc.store, Refresher: tc.ref}
			body := &closeCounter{Reader: strings.NewReader("payload")}
			req, err := http.NewRequest(http.MethodPut, "https://api.example/x", body)
			require.NoError(t, err)
			req.GetBody = func() (io.ReadCloser, error) {
				return io.NopCloser(strings.NewReader("payload")), nil
			}
			resp, err := tr.RoundTrip(req)
			if err == nil {
				_ = resp.Body.Close()
			}
			assert.Equal(t, int32(1), body.closes.Load())
		})
	}
}

func TestCallerRequestUnchanged(t *testing.T) {
	a := newAPI()
	tr := &authtransport.Transport{Base: a, Store: authtransport.NewMemoryStore(valid("old")), Refresher: &countingRefresher{api: a}}
	req, err := http.NewRequest(http.MethodPost, "https://api.example/x?q=1", strings.NewReader("payload"))
	require.NoError(t, err)
	req.Header.Set("X-Trace", "abc")
	wantHeader := req.Header.Clone()
	wantURL := *req.URL
	wantBody := req.Body

	resp, err := tr.RoundTrip(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	assert.Equal(t, wantHeader, req.Header, "header")
	assert.Equal(t, wantURL, *req.URL, "URL")
	assert.Equal(t, wantBody, req.Body, "body")
	assert.Empty(t, req.Header.Get("Authorization"))
}

func TestAdoptsTokenRefreshedByAnotherTransport(t *testing.T) {
	// Two Transports over one store stand for two processes. Their tokens
	// live shorter than the refresh margin.
	a := newAPI("t0")
	var calls atomic.Int32
	ref := authtransport.RefresherFunc(func(context.Context, *authtransport.Token) (*authtransport.Token, error) {
		calls.Add(1)
		a.accept("t1", true)
		return &authtransport.Token{AccessToken: "t1", RefreshToken: "rt1", Expiry: time.Now().Add(5 * time.Second)}, nil
	})
	store := authtransport.NewMemoryStore(valid("t0"))
	trA := &authtransport.Transport{Base: a, Store: store, Refresher: ref}
	trB := &authtransport.Transport{Base: a, Store: store, Refresher: ref}
	for _, tr := range []*authtransport.Transport{trA, trB} {
		tok, err := tr.Token(context.Background())
		require.NoError(t, err)
		require.Equal(t, "t0", tok.AccessToken)
	}
	a.accept("t0", false)
	for _, tr := range []*authtransport.Transport{trA, trB} {
		resp, err := get(t, &http.Client{Transport: tr}, context.Background())
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, resp.StatusCode)
	}
	assert.Equal(t, int32(1), calls.Load(), "the second transport adopted the first one's token")
}
