//go:build linux || freebsd || openbsd || netbsd || dragonfly

package keyringstore

import (
	"context"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d5c4ca72/authtransport"
	"github.com/d5c4ca72/authtransport/authtest"
	"github.com/d5c4ca72/authtransport/filestore"
)

// TestTransportWithoutSecretService runs a Transport on a keyring store in
// a D-Bus session without a Secret Service: without a fallback, the
// request fails with a *RefreshError that carries the *NoKeyringError;
// with a filestore fallback, the request succeeds, the expired token in the
// file is refreshed and saved there, and every store operation reports the
// fallback.
func TestTransportWithoutSecretService(t *testing.T) {
	requireKeyring(t)
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", startBareBus(t))
	srv := authtest.NewServer()
	defer srv.Close()

	t.Run("no fallback", func(t *testing.T) {
		s := realStore(t, Config{})
		client := &http.Client{Transport: &authtransport.Transport{Store: s, Refresher: authtransport.NewOAuth2Refresher(srv.Config())}}
		_, err := client.Get(srv.ResourceURL("/items"))
		var re *authtransport.RefreshError
		require.ErrorAs(t, err, &re, "the Transport's error for a store that fails")
		var nk *NoKeyringError
		assert.ErrorAs(t, err, &nk, "the keyring's typed error, through the RefreshError")
		assert.Zero(t, srv.Stats().TokenRequestsTotal(), "no token request without a token")
	})

	t.Run("filestore fallback", func(t *testing.T) {
		fs, err := filestore.New(filepath.Join(t.TempDir(), "token.json"))
		require.NoError(t, err)
		require.NoError(t, fs.Save(t.Context(), srv.NewExpiredToken()))
		var reports atomic.Int32
		s := realStore(t, Config{Fallback: fs, OnFallback: func(err error) { reports.Add(1) }})
		counted := &countingStore{Store: s}
		client := &http.Client{Transport: &authtransport.Transport{Store: counted, Refresher: authtransport.NewOAuth2Refresher(srv.Config())}}
		resp, err := client.Get(srv.ResourceURL("/items"))
		require.NoError(t, err, "a request through the fallback")
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, 1, srv.Stats().Refreshes(), "the expired token was refreshed")
		tok, err := fs.Load(t.Context())
		require.NoError(t, err)
		assert.False(t, tok.Expiry.IsZero(), "the refreshed token is in the file")
		ops := counted.ops()
		assert.GreaterOrEqual(t, ops, 2, "the Transport loaded and saved")
		assert.Equal(t, int32(ops), reports.Load(), "every Load and Save reported the fallback")
	})
}

// countingStore counts the Load and Save calls of the Store it wraps.
type countingStore struct {
	*Store
	mu    sync.Mutex
	calls int
}

func (c *countingStore) Load(ctx context.Context) (*authtransport.Token, error) {
	c.mu.Lock()
	c.calls++
	c.mu.Unlock()
	return c.Store.Load(ctx)
}

func (c *countingStore) Save(ctx context.Context, tok *authtransport.Token) error {
	c.mu.Lock()
	c.calls++
	c.mu.Unlock()
	return c.Store.Save(ctx, tok)
}

func (c *countingStore) ops() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls
}
