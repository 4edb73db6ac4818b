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
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/d5c4ca72/authtransport"
	"github.com/d5c4ca72/authtransport/authtest"
)

type failingSaveStore struct{ authtransport.MemoryStore }

func (s *failingSaveStore) Save(ctx context.Context, tok *authtransport.Token) error {
	return errors.New("disk full")
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

// store Load failing with an expired token: no backoff, one Load (and
// Lock) per request.
type countingFailStore struct {
	authtransport.MemoryStore
	loads atomic.Int32
}

func (s *countingFailStore) Load(ctx context.Context) (*authtransport.Token, error) {
	s.loads.Add(1)
	return nil, errors.New("store unavailable")
}

// flakySaveStore fails as many Saves as failures says, then saves.
type flakySaveStore struct {
	authtransport.MemoryStore
	failures atomic.Int32
}

func (s *flakySaveStore) Save(ctx context.Context, tok *authtransport.Token) error {
	if s.failures.Add(-1) >= 0 {
		return errors.New("disk busy")
	}
	return s.MemoryStore.Save(ctx, tok)
}

type tokenSourceFunc func() (*oauth2.Token, error)

func (f tokenSourceFunc) Token() (*oauth2.Token, error) { return f() }

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

// closeCounter is a request body that counts Close calls.
type closeCounter struct {
	io.Reader
	closes atomic.Int32
}

func (c *closeCounter) Close() error { c.closes.Add(1); return nil }

// newClient returns a client whose Transport refreshes with the server's
// refresh-token grant, starting from tok.
func newClient(srv *authtest.Server, tok *authtransport.Token) (*http.Client, *authtransport.Transport, *authtransport.MemoryStore) {
	store := authtransport.NewMemoryStore(tok)
	tr := &authtransport.Transport{
		Base:      srv.Client().Transport,
		Store:     store,
		Refresher: authtransport.NewOAuth2Refresher(srv.Config()),
	}
	return &http.Client{Transport: tr}, tr, store
}

func getURL(t *testing.T, c *http.Client, url string) (int, error) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}
