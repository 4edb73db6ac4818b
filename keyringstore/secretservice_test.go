//go:build linux || freebsd || openbsd || netbsd || dragonfly

package keyringstore

import (
	"context"
	"os"
	"os/user"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d5c4ca72/authtransport"
	"github.com/d5c4ca72/authtransport/filestore"
)

// testService returns a service name of t's own, so that tests never share
// keychain entries.
func testService(t testing.TB) string {
	return "keyringstore-test/" + t.Name()
}

// realStore returns a Store on the test Secret Service.
func realStore(t testing.TB, cfg Config) *Store {
	t.Helper()
	requireKeyring(t)
	if cfg.Service == "" {
		cfg.Service = testService(t)
	}
	if cfg.Account == "" {
		cfg.Account = "alice@example.com"
	}
	if cfg.LockPath == "" {
		cfg.LockPath = filepath.Join(t.TempDir(), "keyring.lock")
	}
	s, err := New(cfg)
	require.NoError(t, err)
	return s
}

func TestSecretServiceRoundTrip16KB(t *testing.T) {
	for _, p := range platformLimits {
		t.Run(p.name, func(t *testing.T) {
			s := realStore(t, Config{})
			s.limit = p.limit
			ctx := t.Context()
			tok := sizedToken(1, 16<<10)
			require.GreaterOrEqual(t, len(tok.AccessToken), 16000, "a 16 KB token")

			require.NoError(t, s.Save(ctx, tok), "save")
			got, err := s.Load(ctx)
			require.NoError(t, err, "load")
			assert.Equal(t, tok, got, "the token read back")

			payload, err := encodeToken(tok)
			require.NoError(t, err)
			lay, err := split(s.service, s.account, payload, newGeneration(), p.limit)
			require.NoError(t, err)
			t.Logf("%d bytes of JSON in %d entries of at most %d bytes", len(payload), serviceItems(t, s.service), p.limit(s.service, s.account))
			assert.Equal(t, 1+len(lay.parts), serviceItems(t, s.service), "the head and the parts are in the keyring")

			// A smaller token replaces it, and its parts go.
			small := sizedToken(2, 300)
			require.NoError(t, s.Save(ctx, small), "save a small token")
			got, err = s.Load(ctx)
			require.NoError(t, err)
			assert.Equal(t, small, got, "the small token")
			assert.Equal(t, 1, serviceItems(t, s.service), "only the head is left")

			require.NoError(t, s.Save(ctx, nil), "logout")
			assert.Zero(t, serviceItems(t, s.service), "no entry is left")
			_, err = s.Load(ctx)
			assert.ErrorIs(t, err, authtransport.ErrNoToken, "no token after the logout")
		})
	}
}

func TestSecretServiceEntryOfAnotherProgram(t *testing.T) {
	s := realStore(t, Config{})
	putEntry(t, s.service, s.account, `{"access_token":"s3cret"}`)
	_, err := s.Load(t.Context())
	var corrupt *CorruptError
	require.ErrorAs(t, err, &corrupt, "an entry this package did not write")
	assert.ErrorIs(t, err, authtransport.ErrNoToken, "it counts as no token")
	assert.Equal(t, "no version field", corrupt.Reason, "the reason")
	assert.NotContains(t, err.Error(), "s3cret", "the error quotes nothing of the entry")

	tok := sizedToken(1, 500)
	require.NoError(t, s.Save(t.Context(), tok), "a login replaces it")
	got, err := s.Load(t.Context())
	require.NoError(t, err)
	assert.Equal(t, tok, got, "the new token")
}

func TestSecretServiceLocked(t *testing.T) {
	plain := realStore(t, Config{})
	tok := sizedToken(1, 500)
	require.NoError(t, plain.Save(t.Context(), tok))
	lockKeyring(t)

	// Without a fallback: the typed error. The test bus has no prompter,
	// as over SSH: the unlock prompt fails at once.
	_, err := plain.Load(t.Context())
	var locked *LockedError
	require.ErrorAs(t, err, &locked, "load from a locked keyring")
	assert.Equal(t, "load token", locked.Op)
	assert.NotErrorIs(t, err, authtransport.ErrNoToken, "a locked keyring is not an empty one")
	err = plain.Save(t.Context(), sizedToken(2, 500))
	require.ErrorAs(t, err, &locked, "save to a locked keyring")
	t.Log(err)

	// With one: the fallback, reported.
	fb := authtransport.NewMemoryStore(nil)
	var reports []error
	s := realStore(t, Config{Service: plain.service, Fallback: fb, OnFallback: func(err error) { reports = append(reports, err) }})
	require.NoError(t, s.Save(t.Context(), sizedToken(3, 500)), "save to the fallback")
	got, err := s.Load(t.Context())
	require.NoError(t, err, "load from the fallback")
	assert.Equal(t, sizedToken(3, 500), got, "the fallback's token")
	require.Len(t, reports, 2, "each use of the fallback reported")
	for _, r := range reports {
		assert.ErrorAs(t, r, &locked, "the report is the typed error")
	}
}

func TestNoSecretService(t *testing.T) {
	requireKeyring(t) // for dbus-daemon
	u, err := user.Current()
	require.NoError(t, err)
	userBus := "/run/user/" + u.Uid + "/bus"
	tests := []struct {
		name    string
		address string
		skip    string // why the row cannot run here, if it cannot
	}{
		{name: "no session bus", address: ""},
		{name: "nothing at the bus address", address: "unix:path=" + filepath.Join(t.TempDir(), "no-bus")},
		{name: "a session bus without a Secret Service", address: startBareBus(t)},
	}
	if _, err := os.Stat(userBus); err == nil {
		tests[0].skip = "godbus finds the user's bus at " + userBus
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.skip != "" {
				t.Skip(tt.skip)
			}
			t.Setenv("DBUS_SESSION_BUS_ADDRESS", tt.address)
			ctx := t.Context()
			s := realStore(t, Config{})
			var nk *NoKeyringError
			_, err := s.Load(ctx)
			require.ErrorAs(t, err, &nk, "load without a Secret Service")
			assert.NotErrorIs(t, err, authtransport.ErrNoToken, "no keyring is not an empty one")
			t.Log(err)
			err = s.Save(ctx, sizedToken(1, 500))
			require.ErrorAs(t, err, &nk, "save without a Secret Service")
			assert.Equal(t, "save token", nk.Op)

			// With a fallback, every use is reported.
			fs, err := filestore.New(filepath.Join(t.TempDir(), "token.json"))
			require.NoError(t, err)
			var mu sync.Mutex
			var reports []string
			s = realStore(t, Config{Fallback: fs, OnFallback: func(err error) {
				mu.Lock()
				defer mu.Unlock()
				reports = append(reports, err.Error())
			}})
			tok := sizedToken(2, 3000)
			require.NoError(t, s.Save(ctx, tok), "save to the fallback")
			for range 3 {
				got, err := s.Load(ctx)
				require.NoError(t, err, "load from the fallback")
				assert.Equal(t, tok, got, "the token in the fallback")
			}
			require.NoError(t, s.Save(ctx, nil), "logout from the fallback")
			_, err = fs.Load(ctx)
			assert.ErrorIs(t, err, authtransport.ErrNoToken, "the fallback's token is gone")
			require.Len(t, reports, 5, "each of the five operations reported")
			for _, r := range reports {
				assert.Contains(t, r, "no keyring service", "the report is the keychain's error")
			}
		})
	}
}

func TestSecretServiceHonoursAnEndedContext(t *testing.T) {
	s := realStore(t, Config{})
	require.NoError(t, s.Save(t.Context(), sizedToken(1, 500)))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := s.Load(ctx)
	assert.ErrorIs(t, err, context.Canceled, "Load")
	sess, err := secretService{service: s.service}.open(ctx)
	assert.Nil(t, sess, "no session")
	assert.ErrorIs(t, err, context.Canceled, "a session does not start on an ended context")
}
