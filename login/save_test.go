package login_test

import (
	"context"
	"errors"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d5c4ca72/authtransport"
	"github.com/d5c4ca72/authtransport/authtest"
	"github.com/d5c4ca72/authtransport/filestore"
	"github.com/d5c4ca72/authtransport/login"
)

// Bad input of every kind ends in its typed error, and the token file the
// user had is left as it was.
func TestSaveLeavesTheStoreUntouched(t *testing.T) {
	srv := newServer(t)
	cfg := srv.RegisterPublicClient("cli")
	ctx := withClient(t.Context(), srv.Client())
	wrongIssuer := docServer(t, map[string]string{"/.well-known/oauth-authorization-server": `{"issuer":"https://evil.example","token_endpoint":"{origin}/token"}`})
	wrongResource := docServer(t, map[string]string{"/prm": `{"resource":"https://evil.example/","authorization_servers":["` + srv.URL + `"]}`})

	// discoverThenLogin is what an MCP-style client runs: discovery from
	// the resource, then a browser login with what it found.
	discoverThenLogin := func(metadataURL, resourceURL string) func(context.Context) (*authtransport.Token, error) {
		return func(ctx context.Context) (*authtransport.Token, error) {
			var d login.Discovery
			rm, sm, err := d.ForResource(ctx, metadataURL, resourceURL)
			if err != nil {
				return nil, err
			}
			b := &browser{client: srv.Client()}
			flow := &login.Browser{Config: sm.Config("cli", ""), Issuer: sm.Issuer, Resource: rm.Resource, Open: b.Open, Output: io.Discard}
			return flow.Login(ctx)
		}
	}
	browserLogin := func(issuer string, rewrite func(url.Values)) func(context.Context) (*authtransport.Token, error) {
		b := &browser{client: srv.Client(), rewrite: rewrite}
		return (&login.Browser{Config: cfg, Issuer: issuer, Open: b.Open, Output: io.Discard}).Login
	}
	tests := []struct {
		name    string
		setup   func()
		login   func(context.Context) (*authtransport.Token, error)
		wantErr any
	}{
		{"metadata for another issuer", nil, func(ctx context.Context) (*authtransport.Token, error) {
			_, err := (&login.Discovery{}).Server(ctx, wrongIssuer.URL)
			return nil, err
		}, new(*login.MismatchError)},
		{"resource metadata for another resource", nil, discoverThenLogin(wrongResource.URL+"/prm", wrongResource.URL+"/api"), new(*login.MismatchError)},
		{"a redirect with the wrong state", nil, browserLogin(srv.URL, func(q url.Values) { q.Set("state", "x") }), new(*login.MismatchError)},
		{"the user denies", nil, browserLogin(srv.URL, func(q url.Values) { q.Del("code"); q.Set("error", "access_denied") }), new(*login.OAuthError)},
		{"a wrong iss", func() { srv.SetAuthorizationResponseIssuer("https://evil.example") }, browserLogin(srv.URL, nil), new(*login.MismatchError)},
		{"a device endpoint answering garbage", func() { srv.FailDeviceAuthorizations(1, authtest.Fault{Kind: authtest.FaultGarbage}) },
			(&login.Device{Config: cfg, Output: io.Discard}).Login, new(*login.ResponseError)},
		{"a cancelled login", nil, func(ctx context.Context) (*authtransport.Token, error) {
			ctx, cancel := context.WithCancel(ctx)
			cancel()
			return (&login.Browser{Config: cfg, Output: io.Discard, Open: func(context.Context, string) error { return nil }}).Login(ctx)
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer srv.SetAuthorizationResponseIssuer("")
			path := filepath.Join(t.TempDir(), "token.json")
			store, err := filestore.New(path)
			require.NoError(t, err)
			old := &authtransport.Token{AccessToken: "old-access", RefreshToken: "old-refresh", TokenType: "Bearer"}
			require.NoError(t, store.Save(t.Context(), old))
			before, err := os.ReadFile(path)
			require.NoError(t, err)
			if tt.setup != nil {
				tt.setup()
			}

			tok, err := login.Save(ctx, store, tt.login)
			require.Error(t, err)
			assert.Nil(t, tok)
			if tt.wantErr != nil {
				assert.ErrorAs(t, err, tt.wantErr, "the typed error")
			} else {
				assert.ErrorIs(t, err, context.Canceled)
			}
			t.Logf("%s: %v", tt.name, err)
			after, err := os.ReadFile(path)
			require.NoError(t, err)
			assert.Equal(t, string(before), string(after), "the token file is untouched")
		})
	}
}

// lockingStore records whether Save ran under the lock, and whether the
// lock was held while the login ran.
type lockingStore struct {
	authtransport.MemoryStore
	mu          sync.Mutex // guards the fields below
	held        bool
	savedLocked bool
	lockErr     error
}

func (s *lockingStore) Lock(ctx context.Context) (func(), error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lockErr != nil {
		return nil, s.lockErr
	}
	s.held = true
	return func() {
		s.mu.Lock()
		s.held = false
		s.mu.Unlock()
	}, nil
}

func (s *lockingStore) Save(ctx context.Context, tok *authtransport.Token) error {
	s.mu.Lock()
	s.savedLocked = s.held
	s.mu.Unlock()
	return s.MemoryStore.Save(ctx, tok)
}

func (s *lockingStore) locked() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.held
}

func TestSave(t *testing.T) {
	t.Run("under the lock, taken after the login", func(t *testing.T) {
		store := &lockingStore{}
		var lockedDuringLogin bool
		tok, err := login.Save(t.Context(), store, func(context.Context) (*authtransport.Token, error) {
			lockedDuringLogin = store.locked()
			return &authtransport.Token{AccessToken: "at"}, nil
		})
		require.NoError(t, err)
		assert.False(t, lockedDuringLogin, "the lock is not held while the user signs in")
		assert.True(t, store.savedLocked, "the token is saved under the lock")
		assert.False(t, store.locked(), "and the lock released")
		assert.WithinDuration(t, time.Now(), tok.ObtainedAt, time.Minute, "ObtainedAt set")
		stored, err := store.Load(t.Context())
		require.NoError(t, err)
		assert.Equal(t, tok, stored)
	})
	t.Run("ObtainedAt kept", func(t *testing.T) {
		at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
		tok, err := login.Save(t.Context(), authtransport.NewMemoryStore(nil), func(context.Context) (*authtransport.Token, error) {
			return &authtransport.Token{AccessToken: "at", ObtainedAt: at}, nil
		})
		require.NoError(t, err)
		assert.Equal(t, at, tok.ObtainedAt)
	})
	t.Run("a lock that fails", func(t *testing.T) {
		store := &lockingStore{lockErr: errors.New("lock broken")}
		_, err := login.Save(t.Context(), store, func(context.Context) (*authtransport.Token, error) {
			return &authtransport.Token{AccessToken: "at"}, nil
		})
		assert.ErrorContains(t, err, "login: lock the token store: lock broken")
		_, err = store.Load(t.Context())
		assert.ErrorIs(t, err, authtransport.ErrNoToken, "nothing saved")
	})
	t.Run("a login without a token", func(t *testing.T) {
		_, err := login.Save(t.Context(), authtransport.NewMemoryStore(nil), func(context.Context) (*authtransport.Token, error) { return nil, nil })
		assert.ErrorContains(t, err, "returned no token")
	})
	t.Run("no store", func(t *testing.T) {
		_, err := login.Save(t.Context(), nil, func(context.Context) (*authtransport.Token, error) { return nil, nil })
		assert.ErrorContains(t, err, "needs a store")
	})
	t.Run("a real file, then a Transport reads it", func(t *testing.T) {
		srv := newServer(t)
		store, err := filestore.New(filepath.Join(t.TempDir(), "token.json"))
		require.NoError(t, err)
		b := &browser{client: srv.Client()}
		flow := &login.Browser{Config: srv.RegisterPublicClient("cli"), Open: b.Open, Output: io.Discard}
		tok, err := login.Save(withClient(t.Context(), srv.Client()), store, flow.Login)
		require.NoError(t, err)
		stored, err := store.Load(t.Context())
		require.NoError(t, err)
		assert.Equal(t, tok.AccessToken, stored.AccessToken)
		assert.True(t, tok.ObtainedAt.Equal(stored.ObtainedAt), "ObtainedAt persisted")
	})
}
