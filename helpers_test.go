package authtransport_test

import (
	"bufio"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
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

// rotatingAS models a strict authorization server: each refresh token works
// once; presenting a spent one revokes the whole grant (RFC 9700 §4.14.2).
type rotatingAS struct {
	mu        sync.Mutex
	live      string // the one refresh token that works
	n         int
	revoked   bool
	presented []string
	api       *api
	// hold, if not nil, is waited for after the rotation is committed and
	// before the answer is returned (a slow network); entered is closed
	// once per call before waiting.
	hold    chan struct{}
	entered chan struct{}
	// lifetime is how long its access tokens live (default an hour);
	// failNext, if not nil, is the answer to the next call (then cleared).
	lifetime time.Duration
	failNext error
}

// failOnce makes the next refresh fail with err.
func (s *rotatingAS) failOnce(err error) {
	s.mu.Lock()
	s.failNext = err
	s.mu.Unlock()
}

func (s *rotatingAS) Refresh(ctx context.Context, old *authtransport.Token) (*authtransport.Token, error) {
	s.mu.Lock()
	rt := ""
	if old != nil {
		rt = old.RefreshToken
	}
	if err := s.failNext; err != nil {
		s.failNext = nil
		s.mu.Unlock()
		return nil, err
	}
	s.presented = append(s.presented, rt)
	if s.revoked || rt != s.live {
		s.revoked = true
		s.mu.Unlock()
		return nil, &authtransport.LoginRequiredError{Reason: authtransport.ReasonRefreshRejected}
	}
	s.n++
	n := s.n
	s.live = fmt.Sprintf("rt%d", n)
	hold, entered := s.hold, s.entered
	s.mu.Unlock()
	if entered != nil {
		select {
		case entered <- struct{}{}:
		default:
		}
	}
	if hold != nil {
		<-hold
	}
	at := fmt.Sprintf("at%d", n)
	if s.api != nil {
		s.api.accept(at, true)
	}
	lifetime := s.lifetime
	if lifetime == 0 {
		lifetime = time.Hour
	}
	return &authtransport.Token{AccessToken: at, RefreshToken: fmt.Sprintf("rt%d", n), Expiry: time.Now().Add(lifetime)}, nil
}

func (s *rotatingAS) state() (bool, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.revoked, append([]string(nil), s.presented...)
}

// plainStore is a Store without a lock (a keychain, say): one process.
type plainStore struct {
	mu  sync.Mutex
	tok *authtransport.Token
}

func (s *plainStore) Load(context.Context) (*authtransport.Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tok == nil {
		return nil, authtransport.ErrNoToken
	}
	return s.tok, nil
}

func (s *plainStore) Save(_ context.Context, tok *authtransport.Token) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tok = tok
	return nil
}

// blockingSaveStore blocks its first Save after arm until release.
type blockingSaveStore struct {
	authtransport.MemoryStore
	armed   atomic.Bool
	entered chan struct{}
	release chan struct{}
}

func (s *blockingSaveStore) Save(ctx context.Context, tok *authtransport.Token) error {
	if s.armed.Swap(false) {
		close(s.entered)
		<-s.release
	}
	return s.MemoryStore.Save(ctx, tok)
}

// enabledPanicHandler is a slog handler whose Enabled panics.
type enabledPanicHandler struct{ slog.Handler }

func (enabledPanicHandler) Enabled(context.Context, slog.Level) bool { panic("enabled exploded") }

func (enabledPanicHandler) Handle(context.Context, slog.Record) error { return nil }

// echoStatusServer answers every request with a malformed status line that
// quotes the given request header (what a broken or hostile server does).
func echoStatusServer(t *testing.T, header string) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				req, err := http.ReadRequest(bufio.NewReader(c))
				if err != nil {
					return
				}
				v := req.Header.Get(header)
				v = strings.ReplaceAll(v, " ", "_")
				fmt.Fprintf(c, "HTTP/1.1 %s OK\r\nContent-Length: 0\r\n\r\n", v)
			}(c)
		}
	}()
	return "http://" + ln.Addr().String()
}

// revRecorder is a loopback server that records what credentials reach it.
type revRecorder struct {
	srv  *httptest.Server
	seen atomic.Value // []string
	hits atomic.Int32
}

func newRevRecorder(t *testing.T, h func(w http.ResponseWriter, r *http.Request)) *revRecorder {
	rc := &revRecorder{}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc.hits.Add(1)
		var got []string
		for _, k := range []string{"Authorization", "Dpop", "X-Api-Key"} {
			if v := r.Header.Get(k); v != "" {
				got = append(got, k+": "+v)
			}
		}
		if v := r.URL.Query().Get("api_key"); v != "" {
			got = append(got, "api_key="+v)
		}
		old, _ := rc.seen.Load().([]string)
		rc.seen.Store(append(old, got...))
		if h != nil {
			h(w, r)
		}
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *revRecorder) creds() []string { s, _ := rc.seen.Load().([]string); return s }

type oauthConfig struct{ id, secret, url string }

func (c *oauthConfig) refresher() authtransport.Refresher {
	return authtransport.NewOAuth2Refresher(&oauth2.Config{ClientID: c.id, ClientSecret: c.secret, Endpoint: oauth2.Endpoint{TokenURL: c.url, AuthStyle: oauth2.AuthStyleInParams}})
}

// panicPublic is a crypto.Signer whose Public panics (a hardware key whose
// session is gone, say).
type panicPublic struct{ crypto.Signer }

func (panicPublic) Public() crypto.PublicKey { panic("token removed") }

type countBody struct {
	io.Reader
	closed *atomic.Int32
	read   *atomic.Int32
}

func (b countBody) Read(p []byte) (int, error) {
	n, err := b.Reader.Read(p)
	b.read.Add(int32(n))
	return n, err
}

func (b countBody) Close() error { b.closed.Add(1); return nil }

func dpopTestKey() *authtransport.DPoP {
	k, _, _ := dpopKeysNoT()
	d, err := authtransport.NewDPoP(k)
	if err != nil {
		panic(err)
	}
	return d
}

func dpopKeysNoT() (*ecdsa.PrivateKey, any, any) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return k, nil, nil
}
