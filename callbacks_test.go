package authtransport_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/d5c4ca72/authtransport"
)

// panicStore panics in the method named by panics: load, save, lock or
// unlock.
type panicStore struct {
	authtransport.MemoryStore
	panics string
}

func (s *panicStore) Load(ctx context.Context) (*authtransport.Token, error) {
	if s.panics == "load" {
		panic("load exploded with a secret-token inside")
	}
	return s.MemoryStore.Load(ctx)
}

func (s *panicStore) Save(ctx context.Context, tok *authtransport.Token) error {
	if s.panics == "save" {
		panic("save exploded")
	}
	return s.MemoryStore.Save(ctx, tok)
}

func (s *panicStore) Lock(ctx context.Context) (func(), error) {
	if s.panics == "lock" {
		panic("lock exploded")
	}
	unlock, err := s.MemoryStore.Lock(ctx)
	if err != nil || s.panics != "unlock" {
		return unlock, err
	}
	return func() { unlock(); panic("unlock exploded") }, nil
}

// panicHandler is a slog handler that panics.
type panicHandler struct{ slog.Handler }

func (panicHandler) Enabled(context.Context, slog.Level) bool  { return true }
func (panicHandler) Handle(context.Context, slog.Record) error { panic("logger exploded") }

// panicSigner is a DPoP key that panics when it signs.
type panicSigner struct{ crypto.Signer }

func (panicSigner) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	panic("signer exploded")
}

// A panic in any of the user's callbacks becomes an error of the request
// (or, where the request can go on, nothing at all), never a crash: a
// refresh runs on a goroutine of its own, where no caller could recover it.
// The panic value, which may hold anything, is not shown.
func TestPanickingCallbacksAreErrors(t *testing.T) {
	refreshPanic := authtransport.RefresherFunc(func(context.Context, *authtransport.Token) (*authtransport.Token, error) {
		panic("refresher exploded with a secret-token inside")
	})
	sourcePanic := authtransport.NewTokenSourceRefresher(tokenSourceFunc(func() (*oauth2.Token, error) {
		panic("source exploded")
	}))
	goodKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	badDPoP, err := authtransport.NewDPoP(panicSigner{goodKey})
	require.NoError(t, err)
	dpopToken := &authtransport.Token{AccessToken: "dpop-token", TokenType: "DPoP", RefreshToken: "rt", Expiry: valid("x").Expiry}

	tests := []struct {
		name   string
		tr     func(a *api) *authtransport.Transport
		req    func(t *testing.T) *http.Request
		wantOK bool   // the request succeeds despite the panic
		errHas string // else its error says this
	}{
		{"Refresher", func(a *api) *authtransport.Transport {
			return &authtransport.Transport{Base: a, Store: authtransport.NewMemoryStore(expired()), Refresher: refreshPanic}
		}, nil, false, "Refresher.Refresh panicked"},
		{"TokenSource", func(a *api) *authtransport.Transport {
			return &authtransport.Transport{Base: a, Store: authtransport.NewMemoryStore(expired()), Refresher: sourcePanic}
		}, nil, false, "TokenSource.Token panicked"},
		{"Store.Load", func(a *api) *authtransport.Transport {
			return &authtransport.Transport{Base: a, Store: &panicStore{panics: "load"}, Refresher: &countingRefresher{api: a}}
		}, nil, false, "Store.Load panicked"},
		{"LockingStore.Lock", func(a *api) *authtransport.Transport {
			return &authtransport.Transport{Base: a, Store: &panicStore{panics: "lock"}, Refresher: &countingRefresher{api: a}}
		}, nil, false, "LockingStore.Lock panicked"},
		{"unlock", func(a *api) *authtransport.Transport {
			return &authtransport.Transport{Base: a, Store: &panicStore{panics: "unlock"}, Refresher: &countingRefresher{api: a}}
		}, nil, true, ""},
		{"Store.Save", func(a *api) *authtransport.Transport {
			return &authtransport.Transport{Base: a, Store: &panicStore{panics: "save"}, Refresher: &countingRefresher{api: a}}
		}, nil, true, ""},
		{"OnEvent", func(a *api) *authtransport.Transport {
			return &authtransport.Transport{Base: a, Store: authtransport.NewMemoryStore(expired()), Refresher: &countingRefresher{api: a},
				OnEvent: func(authtransport.Event) { panic("hook exploded") }}
		}, nil, true, ""},
		{"Logger", func(a *api) *authtransport.Transport {
			return &authtransport.Transport{Base: a, Store: authtransport.NewMemoryStore(expired()), Refresher: &countingRefresher{api: a},
				Logger: slog.New(panicHandler{})}
		}, nil, true, ""},
		{"GetBody", func(a *api) *authtransport.Transport {
			return &authtransport.Transport{Base: a, Store: authtransport.NewMemoryStore(valid("revoked")), Refresher: &countingRefresher{api: a}}
		}, func(t *testing.T) *http.Request {
			req, err := http.NewRequest(http.MethodPost, "https://api.example/v1/things", strings.NewReader("payload"))
			require.NoError(t, err)
			req.GetBody = func() (io.ReadCloser, error) { panic("get body exploded") }
			return req
		}, false, "GetBody panicked"},
		{"DPoP key", func(a *api) *authtransport.Transport {
			return &authtransport.Transport{Base: a, Store: authtransport.NewMemoryStore(dpopToken), DPoP: badDPoP}
		}, nil, false, "crypto.Signer.Sign panicked"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newAPI()
			tr := tt.tr(a)
			req, err := http.NewRequest(http.MethodGet, "https://api.example/v1/things", nil)
			require.NoError(t, err)
			if tt.req != nil {
				req = tt.req(t)
			}
			resp, err := (&http.Client{Transport: tr}).Do(req)
			if tt.wantOK {
				require.NoError(t, err)
				resp.Body.Close()
				assert.Equal(t, http.StatusOK, resp.StatusCode)
				return
			}
			require.Error(t, err)
			assert.Nil(t, resp)
			assert.Contains(t, err.Error(), tt.errHas)
			assert.NotContains(t, err.Error(), "secret-token", "the panic value is not shown")
		})
	}
}

// A Logger whose handler panics in Enabled is recovered like one that
// panics in Handle: the panic does not reach the caller of RoundTrip.
func TestLoggerPanicInEnabled(t *testing.T) {
	tr := &authtransport.Transport{
		Base:   newAPI(),
		Store:  authtransport.NewMemoryStore(valid("tok")),
		Logger: slog.New(enabledPanicHandler{}),
	}
	var panicked any
	func() {
		defer func() { panicked = recover() }()
		// plain http to a non-loopback host: EventNoCredentials is emitted
		// synchronously in RoundTrip.
		req, _ := http.NewRequest(http.MethodGet, "http://api.example/x", nil)
		resp, err := tr.RoundTrip(req)
		if err == nil {
			resp.Body.Close()
		}
	}()
	assert.Nil(t, panicked, "a panic in the Logger must become nothing or an error, got panic %v", panicked)
}

// A DPoP key whose Public panics makes NewDPoP return an error, as every
// other call into the key does.
func TestNewDPoPKeyPanic(t *testing.T) {
	var p any
	func() {
		defer func() { p = recover() }()
		_, _ = authtransport.NewDPoP(panicPublic{})
	}()
	assert.Nil(t, p, "a panic in the DPoP key reached the caller")
}
