package authtransport_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/d5c4ca72/authtransport"
	"github.com/d5c4ca72/authtransport/filestore"
)

// Tests that pin promises no other test checked, each named for the
// promise; most were found by mutating the code (scripts/mutate.sh).

// copyingStore returns a new copy of its token on every Load, as a file or
// a database does: a Transport must compare tokens by value.
type copyingStore struct {
	mu  sync.Mutex
	tok *authtransport.Token
}

func (s *copyingStore) Load(context.Context) (*authtransport.Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tok == nil {
		return nil, authtransport.ErrNoToken
	}
	c := *s.tok
	return &c, nil
}

func (s *copyingStore) Save(_ context.Context, tok *authtransport.Token) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tok = tok
	return nil
}

// A rejected token read back from a store that returns a new copy on each
// load is still the rejected token: it is not adopted again.
func TestRejectedTokenNotReadoptedFromACopyingStore(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := newAPI() // A is not accepted
		var calls atomic.Int32
		down := authtransport.RefresherFunc(func(context.Context, *authtransport.Token) (*authtransport.Token, error) {
			calls.Add(1)
			return nil, &authtransport.RefreshError{StatusCode: 503}
		})
		st := &copyingStore{tok: valid("A")}
		c := &http.Client{Transport: &authtransport.Transport{Base: a, Store: st, Refresher: down}}
		for range 5 {
			_, err := get(t, c, context.Background())
			var re *authtransport.RefreshError
			assert.ErrorAs(t, err, &re, "the refresh is down: a transient error")
		}
		assert.Equal(t, []string{"Bearer A"}, a.requests(), "A sent once: not re-adopted from a copy")
		assert.Equal(t, int32(1), calls.Load(), "one refresh, then its backoff")
	})
}

// A stored token with only a refresh token (no access token) is refreshed
// on first use, never sent.
func TestStoredRefreshTokenOnly(t *testing.T) {
	a := newAPI()
	ref := &countingRefresher{api: a}
	tr := &authtransport.Transport{Base: a, Store: authtransport.NewMemoryStore(&authtransport.Token{RefreshToken: "rt-only"}), Refresher: ref}
	resp, err := get(t, &http.Client{Transport: tr}, context.Background())
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, int32(1), ref.calls.Load())
	assert.Equal(t, []string{"Bearer tok-1"}, a.requests())
}

// A token this Transport failed to save gives way to a newer token another
// process stored meanwhile: it is not saved over it (that token's refresh
// token is the live one), and the stored one is adopted.
func TestUnsavedTokenYieldsToNewerStoredToken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := newAPI()
		var presented []string
		ref := authtransport.RefresherFunc(func(_ context.Context, old *authtransport.Token) (*authtransport.Token, error) {
			presented = append(presented, old.RefreshToken)
			tok := &authtransport.Token{AccessToken: "mine", RefreshToken: "rt-mine", Expiry: time.Now().Add(10 * time.Second)}
			a.accept(tok.AccessToken, true)
			return tok, nil
		})
		st := &toggleSaveStore{}
		st.fail.Store(true)
		_ = st.MemoryStore.Save(context.Background(), &authtransport.Token{AccessToken: "old", RefreshToken: "rt-old", Expiry: time.Now().Add(-time.Second)})
		tr := &authtransport.Transport{Base: a, Store: st, Refresher: ref, RefreshMargin: -1, DisableRefreshAhead: true}
		c := &http.Client{Transport: tr}
		_, err := get(t, c, context.Background())
		require.NoError(t, err, "served from memory although the save failed")

		// Another process refreshes and saves; this one's saves work again.
		other := &authtransport.Token{AccessToken: "theirs", RefreshToken: "rt-theirs", Expiry: time.Now().Add(time.Hour)}
		a.accept("theirs", true)
		_ = st.MemoryStore.Save(context.Background(), other)
		st.fail.Store(false)
		time.Sleep(11 * time.Second) // "mine" expires
		_, err = get(t, c, context.Background())
		require.NoError(t, err)
		stored, err := st.Load(context.Background())
		require.NoError(t, err)
		assert.Equal(t, "theirs", stored.AccessToken, "the other process's token is not overwritten")
		assert.Equal(t, []string{"rt-old"}, presented, "no refresh: the newer stored token is adopted")
		assert.Equal(t, "Bearer theirs", a.requests()[len(a.requests())-1])
	})
}

// toggleSaveStore fails Save while fail is set.
type toggleSaveStore struct {
	authtransport.MemoryStore
	fail atomic.Bool
}

func (s *toggleSaveStore) Save(ctx context.Context, tok *authtransport.Token) error {
	if s.fail.Load() {
		return errors.New("disk full")
	}
	return s.MemoryStore.Save(ctx, tok)
}

// A token a flight has just published and that a resource server rejects
// before the flight's waiters wake is not used by them: they wait for the
// next flight. The flight is held at the exact point with its success
// event, which it reports after publishing and before it lands.
func TestTokenRejectedBeforeWaitersWakeIsNotUsed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := newAPI()
		var n atomic.Int32
		ref := authtransport.RefresherFunc(func(context.Context, *authtransport.Token) (*authtransport.Token, error) {
			tok := valid("t" + string(rune('0'+n.Add(1))))
			if n.Load() > 1 {
				a.accept(tok.AccessToken, true) // the first one is rejected
			}
			return tok, nil
		})
		held := make(chan struct{})
		release := make(chan struct{})
		var once sync.Once
		tr := &authtransport.Transport{Base: a, Store: authtransport.NewMemoryStore(expired()), Refresher: ref,
			OnEvent: func(ev authtransport.Event) {
				if ev.Kind == authtransport.EventRefreshSucceeded {
					once.Do(func() { close(held); <-release })
				}
			}}
		c := &http.Client{Transport: tr}
		waiter := make(chan error, 1)
		go func() { _, err := get(t, c, context.Background()); waiter <- err }()
		<-held // t1 is published; the flight has not landed
		rejected := make(chan error, 1)
		go func() { _, err := get(t, c, context.Background()); rejected <- err }() // carries t1, gets 401
		synctest.Wait()
		close(release)
		assert.NoError(t, <-waiter, "the waiter gets a working token")
		assert.NoError(t, <-rejected)
		var sentT1 int
		for _, r := range a.requests() {
			if r == "Bearer t1" {
				sentT1++
			}
		}
		assert.Equal(t, 1, sentT1, "t1 is sent once (the request that found it rejected), never by the waiter: %v", a.requests())
		assert.Equal(t, int32(2), n.Load(), "refreshes")
	})
}

// Transient refresh failures back off 1 s, 2 s, 4 s, 8 s ... (±20%), each
// wait measured between attempts; a success ends the run, so the next
// failure waits 1 s again.
func TestTransientBackoffShape(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var attempts []time.Time
		fail := atomic.Bool{}
		fail.Store(true)
		a := newAPI()
		ref := authtransport.RefresherFunc(func(context.Context, *authtransport.Token) (*authtransport.Token, error) {
			mu.Lock()
			attempts = append(attempts, time.Now())
			mu.Unlock()
			if fail.Load() {
				return nil, &authtransport.RefreshError{StatusCode: 503}
			}
			tok := valid("ok")
			tok.Expiry = time.Now().Add(30 * time.Second)
			a.accept("ok", true)
			return tok, nil
		})
		tr := &authtransport.Transport{Base: a, Store: authtransport.NewMemoryStore(expired()), Refresher: ref, DisableRefreshAhead: true, RefreshMargin: -1}
		c := &http.Client{Transport: tr}
		tick := func(d time.Duration) {
			for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
				_, _ = get(t, c, context.Background())
			}
		}
		tick(20 * time.Second)
		mu.Lock()
		gaps := make([]time.Duration, 0, len(attempts))
		for i := 1; i < len(attempts); i++ {
			gaps = append(gaps, attempts[i].Sub(attempts[i-1]))
		}
		mu.Unlock()
		require.GreaterOrEqual(t, len(gaps), 4, "attempts in 20 s of failures: %v", gaps)
		for i, nominal := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second} {
			assert.GreaterOrEqual(t, gaps[i], nominal*8/10, "wait %d (want %v ±20%%)", i+1, nominal)
			assert.LessOrEqual(t, gaps[i], nominal*12/10+100*time.Millisecond, "wait %d (want %v ±20%%)", i+1, nominal)
		}

		fail.Store(false)
		tick(20 * time.Second) // a success, and the token lives 30 s
		fail.Store(true)
		mu.Lock()
		before := len(attempts)
		mu.Unlock()
		time.Sleep(35 * time.Second) // the token expires
		tick(3 * time.Second)
		mu.Lock()
		defer mu.Unlock()
		require.GreaterOrEqual(t, len(attempts)-before, 2, "attempts after the success")
		gap := attempts[before+1].Sub(attempts[before])
		assert.Less(t, gap, 1300*time.Millisecond, "after a success the run starts again at 1 s, not where it was: %v", gap)
	})
}

// GetBody that fails, or returns nil, ends the resend (after a refresh or
// for a DPoP nonce) with an error that says so; the request body is closed
// once and the 401 body is closed.
func TestGetBodyFailures(t *testing.T) {
	es, _, _ := dpopKeys(t)
	for _, tc := range []struct {
		name    string
		getBody func() (io.ReadCloser, error)
		want    string
		nonce   bool // a DPoP token asked for a nonce, instead of a rejected Bearer token
	}{
		{"error", func() (io.ReadCloser, error) { return nil, errors.New("cannot reopen") }, "cannot reopen", false},
		{"nil body", func() (io.ReadCloser, error) { return nil, nil }, "GetBody returned nil", false},
		{"error, resending for a nonce", func() (io.ReadCloser, error) { return nil, errors.New("cannot reopen") }, "cannot reopen", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var respBody *closeCounter
			base := roundTripFunc(func(req *http.Request) (*http.Response, error) {
				if req.Body != nil {
					_, _ = io.Copy(io.Discard, req.Body)
					_ = req.Body.Close()
				}
				respBody = &closeCounter{Reader: strings.NewReader("denied")}
				resp := respond(req, http.StatusUnauthorized, `Bearer error="invalid_token"`)
				if tc.nonce {
					resp = useNonce(req, "n1")
				}
				resp.Body = respBody
				return resp, nil
			})
			tr := &authtransport.Transport{Base: base, Store: authtransport.NewMemoryStore(valid("x")), Refresher: &countingRefresher{}}
			if tc.nonce {
				tr.Store, tr.DPoP = authtransport.NewMemoryStore(dpopToken("d")), newTestDPoP(t, es)
			}
			body := &closeCounter{Reader: strings.NewReader("payload")}
			req, err := http.NewRequest(http.MethodPost, "https://api.example/x", body)
			require.NoError(t, err)
			req.GetBody = tc.getBody
			resp, err := tr.RoundTrip(req)
			assert.Nil(t, resp)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Equal(t, int32(1), body.closes.Load(), "request body closed once")
			assert.Equal(t, int32(1), respBody.closes.Load(), "the discarded 401 body is closed")
		})
	}
}

// The token files that only a login fixes, at the Transport: each is a
// LoginRequiredError whose message says what is wrong with the file.
func TestTokenFilesOnlyALoginFixes(t *testing.T) {
	good := `{"version":1,"token":{"access_token":"a","refresh_token":"r"}}`
	for _, tc := range []struct {
		name, content string
		mode          os.FileMode
		says          string
	}{
		{"readable by others", good, 0o644, "has mode 0644"},
		{"corrupt", `{"version":1,"tok`, 0o600, "is corrupt"},
		{"newer version", `{"version":2,"token":{}}`, 0o600, "format version 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.mode != 0o600 && os.Getenv("GOOS") == "windows" {
				t.Skip("no permission bits")
			}
			path := filepath.Join(t.TempDir(), "token.json")
			require.NoError(t, os.WriteFile(path, []byte(tc.content), 0o600))
			require.NoError(t, os.Chmod(path, tc.mode))
			fs, err := filestore.New(path)
			require.NoError(t, err)
			userGrant := authtransport.NewOAuth2Refresher(&oauth2.Config{Endpoint: oauth2.Endpoint{TokenURL: "https://as.example/token"}})
			_, err = get(t, &http.Client{Transport: &authtransport.Transport{Base: newAPI(), Store: fs, Refresher: userGrant}}, context.Background())
			var lr *authtransport.LoginRequiredError
			require.ErrorAs(t, err, &lr)
			assert.Equal(t, authtransport.ReasonNoToken, lr.Reason)
			assert.Contains(t, err.Error(), tc.says)
		})
	}
}

// A token endpoint that refuses a refresh with 401 and no error code:
// retrying cannot help, so the user's grant is refused (a login).
func TestTokenEndpoint401WithoutCodeIsARefusedGrant(t *testing.T) {
	as := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: http.StatusUnauthorized, Status: "401 Unauthorized", Header: http.Header{}, Body: io.NopCloser(strings.NewReader("nope")), Request: req}, nil
	})
	cfg := &oauth2.Config{ClientID: "c", ClientSecret: "s3cret-value", Endpoint: oauth2.Endpoint{TokenURL: "https://as.example/token", AuthStyle: oauth2.AuthStyleInHeader}}
	tr := &authtransport.Transport{Base: newAPI(), Store: authtransport.NewMemoryStore(expired()), Refresher: authtransport.NewOAuth2Refresher(cfg)}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, &http.Client{Transport: as})
	_, err := get(t, &http.Client{Transport: tr}, ctx)
	var lr *authtransport.LoginRequiredError
	require.ErrorAs(t, err, &lr)
	assert.Equal(t, authtransport.ReasonRefreshRejected, lr.Reason)
	var re *authtransport.RefreshError
	require.ErrorAs(t, err, &re)
	assert.True(t, re.Terminal)
	assert.Equal(t, http.StatusUnauthorized, re.StatusCode)
}
