package authtransport_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"

	"github.com/d5c4ca72/authtransport"
)

// eventLog keeps the events a Transport reports, without their durations
// and with their errors replaced by whether there was one.
type eventLog struct {
	mu     sync.Mutex
	events []authtransport.Event
}

func (l *eventLog) record(ev authtransport.Event) {
	if ev.Err != nil {
		ev.Err = errSome
	}
	ev.Duration = 0
	l.mu.Lock()
	l.events = append(l.events, ev)
	l.mu.Unlock()
}

func (l *eventLog) got() []authtransport.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]authtransport.Event(nil), l.events...)
}

var errSome = errors.New("an error")

// failingLockStore is a LockingStore whose lock cannot be taken.
type failingLockStore struct{ *authtransport.MemoryStore }

var errLockBroken = errors.New("lock broken")

func (s *failingLockStore) Lock(context.Context) (func(), error) { return nil, errLockBroken }

// lockedLoadFails is a LockingStore that cannot be read while it is locked.
type lockedLoadFails struct {
	*authtransport.MemoryStore
	locked atomic.Bool
}

var errLockedLoad = errors.New("read under the lock failed")

func (s *lockedLoadFails) Lock(ctx context.Context) (func(), error) {
	unlock, err := s.MemoryStore.Lock(ctx)
	if err != nil {
		return nil, err
	}
	s.locked.Store(true)
	return func() { s.locked.Store(false); unlock() }, nil
}

func (s *lockedLoadFails) Load(ctx context.Context) (*authtransport.Token, error) {
	if s.locked.Load() {
		return nil, errLockedLoad
	}
	return s.MemoryStore.Load(ctx)
}

// Each kind of event is reported, once, with the fields its documentation
// lists (status, detail, reason, an error), in the order things happen.
func TestEachEventIsReportedWithItsFields(t *testing.T) {
	type ev = authtransport.Event
	rejected := ev{Kind: authtransport.EventRequestRejected, Status: http.StatusUnauthorized, Detail: "Bearer invalid_token"}
	started := ev{Kind: authtransport.EventRefreshStarted}
	succeeded := ev{Kind: authtransport.EventRefreshSucceeded}
	tests := []struct {
		name string
		// run sets up tr (Base, Store, Refresher are set to an API that
		// accepts "good" and a Refresher handing out tok-1, tok-2, ...)
		// and makes requests through c.
		run  func(t *testing.T, tr *authtransport.Transport, a *api, c *http.Client)
		want []ev
	}{
		{
			name: "a valid token taken from the store",
			run: func(t *testing.T, tr *authtransport.Transport, a *api, c *http.Client) {
				tr.Store = authtransport.NewMemoryStore(valid("good"))
				mustGet(t, c, "https://api.example/v1")
				mustGet(t, c, "https://api.example/v1")
			},
			want: []ev{{Kind: authtransport.EventTokenAdopted}},
		},
		{
			name: "an expired token refreshed",
			run: func(t *testing.T, tr *authtransport.Transport, a *api, c *http.Client) {
				mustGet(t, c, "https://api.example/v1")
			},
			want: []ev{started, succeeded},
		},
		{
			name: "a rejected token refreshed and the request resent",
			run: func(t *testing.T, tr *authtransport.Transport, a *api, c *http.Client) {
				tr.Store = authtransport.NewMemoryStore(valid("revoked"))
				mustGet(t, c, "https://api.example/v1")
			},
			want: []ev{{Kind: authtransport.EventTokenAdopted}, rejected, started, succeeded, {Kind: authtransport.EventResent, Detail: "refreshed"}},
		},
		{
			name: "a rejected token whose request cannot be resent",
			run: func(t *testing.T, tr *authtransport.Transport, a *api, c *http.Client) {
				tr.Store = authtransport.NewMemoryStore(valid("revoked"))
				req, _ := http.NewRequest(http.MethodPost, "https://api.example/v1", io.NopCloser(strings.NewReader("once")))
				_, err := tr.RoundTrip(req)
				assert.ErrorIs(t, err, authtransport.ErrBodyNotReplayable)
			},
			want: []ev{{Kind: authtransport.EventTokenAdopted}, rejected, started, succeeded, {Kind: authtransport.EventResendSkipped, Status: http.StatusUnauthorized}},
		},
		{
			name: "a refreshed token rejected again: a login is required",
			run: func(t *testing.T, tr *authtransport.Transport, a *api, c *http.Client) {
				tr.Refresher = &countingRefresher{} // its tokens are not accepted
				_, err := c.Get("https://api.example/v1")
				var lr *authtransport.LoginRequiredError
				assert.ErrorAs(t, err, &lr)
			},
			want: []ev{started, succeeded, rejected, started, succeeded, {Kind: authtransport.EventResent, Detail: "refreshed"}, rejected,
				{Kind: authtransport.EventLoginRequired, Status: http.StatusUnauthorized, Reason: authtransport.ReasonRejectedAfterRefresh}},
		},
		{
			name: "a refused refresh: terminal, and a login is required",
			run: func(t *testing.T, tr *authtransport.Transport, a *api, c *http.Client) {
				tr.Refresher = authtransport.RefresherFunc(func(context.Context, *authtransport.Token) (*authtransport.Token, error) {
					return nil, &authtransport.LoginRequiredError{Reason: authtransport.ReasonRefreshRejected}
				})
				_, err := c.Get("https://api.example/v1")
				assert.Error(t, err)
			},
			want: []ev{started, {Kind: authtransport.EventRefreshFailed, Detail: "terminal", Err: errSome},
				{Kind: authtransport.EventLoginRequired, Reason: authtransport.ReasonRefreshRejected}},
		},
		{
			name: "a failed refresh: transient",
			run: func(t *testing.T, tr *authtransport.Transport, a *api, c *http.Client) {
				tr.Refresher = authtransport.RefresherFunc(func(context.Context, *authtransport.Token) (*authtransport.Token, error) {
					return nil, errors.New("connection reset")
				})
				_, err := c.Get("https://api.example/v1")
				assert.Error(t, err)
			},
			want: []ev{started, {Kind: authtransport.EventRefreshFailed, Detail: "transient", Err: errSome}},
		},
		{
			name: "a store that cannot be read",
			run: func(t *testing.T, tr *authtransport.Transport, a *api, c *http.Client) {
				st := &flakyLoadStore{}
				st.fail.Store(true)
				tr.Store = st
				_, err := c.Get("https://api.example/v1")
				assert.Error(t, err)
			},
			want: []ev{{Kind: authtransport.EventStoreFailed, Err: errSome}},
		},
		{
			name: "a store that cannot be locked",
			run: func(t *testing.T, tr *authtransport.Transport, a *api, c *http.Client) {
				tr.Store = &failingLockStore{MemoryStore: authtransport.NewMemoryStore(expired())}
				_, err := c.Get("https://api.example/v1")
				var re *authtransport.RefreshError
				assert.ErrorAs(t, err, &re)
				assert.ErrorIs(t, err, errLockBroken, "the request's error is the lock's")
			},
			want: []ev{{Kind: authtransport.EventStoreFailed, Err: errSome}},
		},
		{
			name: "a store that cannot be read under its lock",
			run: func(t *testing.T, tr *authtransport.Transport, a *api, c *http.Client) {
				tr.Store = &lockedLoadFails{MemoryStore: authtransport.NewMemoryStore(expired())}
				_, err := c.Get("https://api.example/v1")
				assert.ErrorIs(t, err, errLockedLoad, "the request's error is the store's")
			},
			want: []ev{{Kind: authtransport.EventStoreFailed, Err: errSome}},
		},
		{
			name: "a refreshed token that cannot be saved",
			run: func(t *testing.T, tr *authtransport.Transport, a *api, c *http.Client) {
				st := &failingSaveStore{}
				_ = st.MemoryStore.Save(context.Background(), expired())
				tr.Store = st
				mustGet(t, c, "https://api.example/v1")
			},
			want: []ev{started, succeeded, {Kind: authtransport.EventSaveFailed, Err: errSome}},
		},
		{
			name: "rejections summed up: no challenge, or only another scheme's",
			run: func(t *testing.T, tr *authtransport.Transport, a *api, c *http.Client) {
				n := 0
				tr.Base = roundTripFunc(func(req *http.Request) (*http.Response, error) {
					n++
					switch n {
					case 1:
						return respond(req, http.StatusUnauthorized, ""), nil
					case 3:
						return respond(req, http.StatusUnauthorized, `Basic realm="api"`), nil
					}
					return respond(req, http.StatusOK, ""), nil
				})
				tr.Store = authtransport.NewMemoryStore(valid("good"))
				tr.Basic = &authtransport.Basic{Username: "user", Password: "password"}
				mustGet(t, c, "https://api.example/v1")
				mustGet(t, c, "https://api.example/v1")
			},
			want: []ev{{Kind: authtransport.EventTokenAdopted},
				{Kind: authtransport.EventRequestRejected, Status: http.StatusUnauthorized, Detail: "no challenge"}, started, succeeded, {Kind: authtransport.EventResent, Detail: "refreshed"},
				{Kind: authtransport.EventRequestRejected, Status: http.StatusUnauthorized, Detail: "Basic"}, {Kind: authtransport.EventResent, Detail: "scheme"}},
		},
		{
			name: "a login",
			run: func(t *testing.T, tr *authtransport.Transport, a *api, c *http.Client) {
				tr.Store, tr.Refresher = authtransport.NewMemoryStore(nil), nil
				tr.Login = func(context.Context) (*authtransport.Token, error) { return valid("good"), nil }
				mustGet(t, c, "https://api.example/v1")
			},
			want: []ev{{Kind: authtransport.EventLoginStarted, Reason: authtransport.ReasonNoToken}, {Kind: authtransport.EventLoginSucceeded}},
		},
		{
			name: "a login after a rejection, failed",
			run: func(t *testing.T, tr *authtransport.Transport, a *api, c *http.Client) {
				tr.Store, tr.Refresher = authtransport.NewMemoryStore(valid("revoked")), nil
				tr.Login = func(context.Context) (*authtransport.Token, error) {
					return nil, errors.New("the user closed the browser")
				}
				_, err := c.Get("https://api.example/v1")
				var lr *authtransport.LoginRequiredError
				assert.ErrorAs(t, err, &lr)
			},
			want: []ev{{Kind: authtransport.EventTokenAdopted}, rejected,
				{Kind: authtransport.EventLoginStarted, Status: http.StatusUnauthorized, Reason: authtransport.ReasonNoToken},
				{Kind: authtransport.EventLoginFailed, Reason: authtransport.ReasonNoToken, Detail: "transient", Err: errSome},
				{Kind: authtransport.EventLoginRequired, Status: http.StatusUnauthorized, Reason: authtransport.ReasonNoToken}},
		},
		{
			name: "a refused refresh, then a login",
			run: func(t *testing.T, tr *authtransport.Transport, a *api, c *http.Client) {
				tr.Refresher = authtransport.RefresherFunc(func(context.Context, *authtransport.Token) (*authtransport.Token, error) {
					return nil, &authtransport.LoginRequiredError{Reason: authtransport.ReasonRefreshRejected}
				})
				tr.Login = func(context.Context) (*authtransport.Token, error) { return valid("good"), nil }
				mustGet(t, c, "https://api.example/v1")
			},
			want: []ev{started, {Kind: authtransport.EventRefreshFailed, Detail: "terminal", Err: errSome},
				{Kind: authtransport.EventLoginStarted, Reason: authtransport.ReasonRefreshRejected}, {Kind: authtransport.EventLoginSucceeded}},
		},
		{
			name: "requests sent without credentials, by reason",
			run: func(t *testing.T, tr *authtransport.Transport, a *api, c *http.Client) {
				tr.Origins = []string{"https://api.example"}
				tr.Store = authtransport.NewMemoryStore(valid("good"))
				mustGet(t, c, "http://api.example/v1")
				mustGet(t, c, "https://other.example/v1")
				req, _ := http.NewRequest(http.MethodGet, "https://api.example/v1", nil)
				req.Header.Set("Authorization", "Bearer good")
				resp, err := tr.RoundTrip(req)
				if assert.NoError(t, err) {
					resp.Body.Close()
				}
			},
			want: []ev{
				{Kind: authtransport.EventNoCredentials, Detail: "plain-http"},
				{Kind: authtransport.EventNoCredentials, Detail: "other-origin"},
				{Kind: authtransport.EventNoCredentials, Detail: "own-authorization"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				a := newAPI("good")
				var log eventLog
				tr := &authtransport.Transport{
					Base: roundTripFunc(func(req *http.Request) (*http.Response, error) {
						if req.Header.Get("Authorization") == "" {
							return respond(req, http.StatusOK, ""), nil
						}
						return a.RoundTrip(req)
					}),
					Store:     authtransport.NewMemoryStore(expired()),
					Refresher: &countingRefresher{api: a},
					OnEvent:   log.record,
				}
				tt.run(t, tr, a, &http.Client{Transport: tr})
				assert.Equal(t, tt.want, log.got())
			})
		})
	}
}

func mustGet(t *testing.T, c *http.Client, url string) {
	t.Helper()
	resp, err := c.Get(url)
	if assert.NoError(t, err, url) {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode, url)
	}
}
