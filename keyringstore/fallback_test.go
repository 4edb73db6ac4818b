package keyringstore

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d5c4ca72/authtransport"
	"github.com/d5c4ca72/authtransport/authtest"
)

// The keychain locks while a refresh runs (an auto-locking KeePassXC, a
// dismissed prompt): the rotated token goes to the Fallback. Once the
// keychain is back, the next run must use that token, not the keychain's
// older one, whose refresh token the server already rotated (and would
// take as reuse, revoking the grant).
func TestFallbackNeverServesASpentRefreshToken(t *testing.T) {
	srv := authtest.NewServer()
	defer srv.Close()
	kc := newFakeKeychain("mycli", secretServiceEntryLimit)
	fb := authtransport.NewMemoryStore(nil)
	cfg := Config{Fallback: fb, OnFallback: func(error) {}}
	first := kc.store(t, cfg)
	require.NoError(t, first.Save(t.Context(), srv.NewExpiredToken()))

	refresher := authtransport.NewOAuth2Refresher(srv.Config())
	lockingMidway := authtransport.RefresherFunc(func(ctx context.Context, stale *authtransport.Token) (*authtransport.Token, error) {
		tok, err := refresher.Refresh(ctx, stale)
		kc.failWith("open", &unavailableError{locked: true, err: errors.New("keyring locked")})
		return tok, err
	})
	get := func(t *testing.T, rt http.RoundTripper) {
		t.Helper()
		resp, err := (&http.Client{Transport: rt}).Get(srv.ResourceURL("/items"))
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
	get(t, &authtransport.Transport{Store: first, Refresher: lockingMidway})
	rotated, err := fb.Load(t.Context())
	require.NoError(t, err, "the rotated token went to the fallback")

	kc.failWith("open", nil) // the keychain is back for the next run
	next := kc.store(t, cfg)
	got, err := next.Load(t.Context())
	require.NoError(t, err)
	assert.Equal(t, rotated.RefreshToken, got.RefreshToken, "Load returns the token saved last")

	// When it is due, the next run refreshes the token it loaded.
	refreshed, err := refresher.Refresh(t.Context(), got)
	require.NoError(t, err, "its refresh token still works")
	assert.Zero(t, srv.Stats().RefreshTokenReuse, "no rotated refresh token presented again")
	require.NoError(t, next.Save(t.Context(), refreshed))
	_, err = fb.Load(t.Context())
	assert.ErrorIs(t, err, authtransport.ErrNoToken, "a save that reached the keychain empties the fallback")
	inKeychain, err := kc.store(t, Config{}).Load(t.Context())
	require.NoError(t, err)
	assert.Equal(t, refreshed.RefreshToken, inKeychain.RefreshToken, "the keychain holds the newest token")
}

// A Fallback whose token is older than the keychain's (it could not be
// emptied) loses to the keychain; one with a newer token wins.
func TestFallbackTokenIsUsedOnlyWhenNewer(t *testing.T) {
	now := time.Now()
	older := &authtransport.Token{AccessToken: "older-access", RefreshToken: "older-refresh", ObtainedAt: now.Add(-time.Hour)}
	newer := &authtransport.Token{AccessToken: "newer-access", RefreshToken: "newer-refresh", ObtainedAt: now}
	undated := &authtransport.Token{AccessToken: "undated-access", RefreshToken: "undated-refresh"}
	tests := []struct {
		name               string
		keychain, fallback *authtransport.Token
		want               string
	}{
		{"the keychain's is newer", newer, older, "newer-access"},
		{"the fallback's is newer", older, newer, "newer-access"},
		{"the keychain has none", nil, older, "older-access"},
		{"the fallback has none", older, nil, "older-access"},
		{"the fallback's age is unknown", newer, undated, "undated-access"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kc := newFakeKeychain("mycli", secretServiceEntryLimit)
			if tt.keychain != nil {
				require.NoError(t, kc.store(t, Config{}).Save(t.Context(), tt.keychain))
			}
			s := kc.store(t, Config{Fallback: authtransport.NewMemoryStore(tt.fallback), OnFallback: func(err error) { t.Errorf("no fallback expected: %v", err) }})
			got, err := s.Load(t.Context())
			require.NoError(t, err)
			assert.Equal(t, tt.want, got.AccessToken)
		})
	}
}
