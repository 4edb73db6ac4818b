package keyringstore

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d5c4ca72/authtransport"
)

func TestStoreRoundTripAtEachPlatformLimit(t *testing.T) {
	for _, p := range platformLimits {
		t.Run(p.name, func(t *testing.T) {
			kc := newFakeKeychain("mycli", p.limit)
			s := kc.store(t, Config{})
			ctx := t.Context()
			prevUsers := 0
			for gen, size := range []int{500, 16 << 10, 3000, 64 << 10, 200} {
				tok := sizedToken(gen, size)
				require.NoError(t, s.Save(ctx, tok), "save %d bytes", size)
				got, err := s.Load(ctx)
				require.NoError(t, err, "load %d bytes", size)
				assert.Equal(t, tok, got, "the token of %d bytes", size)

				// Only the head and the new parts are left.
				users := kc.users()
				head, _ := kc.value("alice@example.com")
				h, reason := parseHead(head)
				require.Empty(t, reason)
				want := 1 + h.Parts
				assert.Len(t, users, want, "entries after saving %d bytes (before: %d): %v", size, prevUsers, users)
				for _, u := range users {
					if u != "alice@example.com" {
						assert.True(t, strings.HasPrefix(u, "alice@example.com#"+h.Generation+"."), "entry %q belongs to the current generation", u)
					}
				}
				prevUsers = len(users)
			}
		})
	}
}

func TestLoadWithoutToken(t *testing.T) {
	s := newFakeKeychain("mycli", secretServiceEntryLimit).store(t, Config{})
	_, err := s.Load(t.Context())
	require.ErrorIs(t, err, authtransport.ErrNoToken, "no entry means no token")
	var corrupt *CorruptError
	assert.False(t, errors.As(err, &corrupt), "no entry is not a corrupt entry")
	assert.Contains(t, err.Error(), `"alice@example.com"`, "the error names the account")
}

func TestLoadCorruptEntry(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(t *testing.T, kc *fakeKeychain, s *Store)
		reason string
	}{
		{name: "not JSON", setup: func(t *testing.T, kc *fakeKeychain, s *Store) { kc.put("alice@example.com", "s3cret") }, reason: "invalid JSON"},
		{name: "a raw token stored by another program", setup: func(t *testing.T, kc *fakeKeychain, s *Store) {
			kc.put("alice@example.com", `{"access_token":"s3cret","refresh_token":"s3cret-too"}`)
		}, reason: "no version field"},
		{name: "a newer format", setup: func(t *testing.T, kc *fakeKeychain, s *Store) {
			kc.put("alice@example.com", `{"version":9,"token":{"access_token":"s3cret"}}`)
		}, reason: "format version 9"},
		{name: "a token that is not an object", setup: func(t *testing.T, kc *fakeKeychain, s *Store) {
			kc.put("alice@example.com", `{"version":1,"token":["s3cret"]}`)
		}, reason: "JSON array where an object was expected"},
		{name: "a part missing", setup: func(t *testing.T, kc *fakeKeychain, s *Store) {
			require.NoError(t, s.Save(t.Context(), secretToken(8000)))
			kc.drop(kc.users()[2])
		}, reason: "is missing"},
		{name: "a part changed", setup: func(t *testing.T, kc *fakeKeychain, s *Store) {
			require.NoError(t, s.Save(t.Context(), secretToken(8000)))
			users := kc.users()
			v, _ := kc.value(users[1])
			kc.put(users[1], strings.ToUpper(v))
		}, reason: "do not match their checksum"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kc := newFakeKeychain("mycli", winCredEntryLimit)
			s := kc.store(t, Config{})
			tt.setup(t, kc, s)

			_, err := s.Load(t.Context())
			var corrupt *CorruptError
			require.ErrorAs(t, err, &corrupt, "an entry that does not decode")
			assert.ErrorIs(t, err, authtransport.ErrNoToken, "a corrupt entry counts as no token")
			assert.Contains(t, corrupt.Reason, tt.reason, "the reason")
			assert.Equal(t, "alice@example.com", corrupt.Account, "the account")
			assert.NotContains(t, err.Error(), "s3cret", "the error quotes no secret")

			// Logging in again replaces it.
			tok := sizedToken(3, 9000)
			require.NoError(t, s.Save(t.Context(), tok), "saving over a corrupt entry")
			got, err := s.Load(t.Context())
			require.NoError(t, err)
			assert.Equal(t, tok, got, "the new token")
		})
	}
}

// secretToken returns a token of about size bytes whose secrets contain
// "s3cret".
func secretToken(size int) *authtransport.Token {
	tok := sizedToken(1, size)
	tok.AccessToken = "s3cret" + tok.AccessToken
	return tok
}

func TestLoadRereadsTheHeadWhenOvertaken(t *testing.T) {
	kc := newFakeKeychain("mycli", winCredEntryLimit)
	reader, writer := kc.store(t, Config{}), kc.store(t, Config{})
	require.NoError(t, writer.Save(t.Context(), sizedToken(1, 8000)))
	newer := sizedToken(2, 9000)
	var once sync.Once
	kc.beforeGet = func(user string) {
		if strings.Contains(user, "#") {
			// The reader has the head and starts on the parts: a
			// writer replaces the token under it.
			once.Do(func() { require.NoError(t, writer.Save(context.Background(), newer)) })
		}
	}
	headReads := kc.getCount("alice@example.com")
	got, err := reader.Load(t.Context())
	require.NoError(t, err, "a reader overtaken by a writer")
	assert.Equal(t, newer, got, "the reader returns the writer's token")
	// The reader read the head twice, the writer once.
	assert.Equal(t, 3, kc.getCount("alice@example.com")-headReads, "reads of the head")
}

func TestLoadGivesUpWhileTheTokenKeepsChanging(t *testing.T) {
	kc := newFakeKeychain("mycli", winCredEntryLimit)
	s := kc.store(t, Config{})
	require.NoError(t, s.Save(t.Context(), sizedToken(0, 8000)))
	gen := 0
	kc.beforeGet = func(user string) {
		if strings.HasSuffix(user, ".1") {
			gen++
			require.NoError(t, s.Save(context.Background(), sizedToken(gen, 8000)))
		}
	}
	_, err := s.Load(t.Context())
	require.Error(t, err, "a reader overtaken every time")
	assert.NotErrorIs(t, err, authtransport.ErrNoToken, "a token that keeps changing is a transient failure")
	assert.Contains(t, err.Error(), "replaced 10 times", "the error says why")
}

func TestSaveFailureKeepsTheOldToken(t *testing.T) {
	for _, failing := range []string{".3", "alice@example.com"} {
		t.Run("failing "+failing, func(t *testing.T) {
			kc := newFakeKeychain("mycli", winCredEntryLimit)
			s := kc.store(t, Config{})
			old := sizedToken(1, 8000)
			require.NoError(t, s.Save(t.Context(), old))
			before := kc.users()
			kc.failSet = func(user string) error {
				if strings.HasSuffix(user, failing) {
					return errors.New("disk full")
				}
				return nil
			}
			err := s.Save(t.Context(), sizedToken(2, 12000))
			require.ErrorContains(t, err, "keyringstore: save token: disk full", "the failure")
			got, err := s.Load(t.Context())
			require.NoError(t, err)
			assert.Equal(t, old, got, "readers still find the old token")
			if failing != "alice@example.com" {
				assert.Equal(t, before, kc.users(), "the new parts are removed")
			}
		})
	}
}

func TestSaveNilRemovesTheToken(t *testing.T) {
	for _, size := range []int{500, 12000} {
		kc := newFakeKeychain("mycli", winCredEntryLimit)
		fb := authtransport.NewMemoryStore(sizedToken(9, 100))
		s := kc.store(t, Config{Fallback: fb, OnFallback: func(err error) { t.Errorf("unexpected fallback: %v", err) }})
		require.NoError(t, s.Save(t.Context(), sizedToken(1, size)))
		require.NoError(t, s.Save(t.Context(), nil), "logout")
		assert.Empty(t, kc.users(), "no entry is left after removing a token of %d bytes", size)
		_, err := s.Load(t.Context())
		assert.ErrorIs(t, err, authtransport.ErrNoToken, "no token after the logout")
		_, err = fb.Load(t.Context())
		assert.ErrorIs(t, err, authtransport.ErrNoToken, "the logout empties the fallback too")
		require.NoError(t, s.Save(t.Context(), nil), "a second logout")
	}
}

func TestFallback(t *testing.T) {
	tests := []struct {
		name     string
		err      error
		fallback bool  // the operations go to the fallback
		want     error // the type of error without fallback
	}{
		{name: "no keyring", err: &unavailableError{err: errors.New("no D-Bus session bus")}, fallback: true, want: &NoKeyringError{}},
		{name: "locked", err: &unavailableError{locked: true, err: errors.New("prompt dismissed")}, fallback: true, want: &LockedError{}},
		{name: "other failure", err: errors.New("timeout"), fallback: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			kc := newFakeKeychain("mycli", secretServiceEntryLimit)
			kc.failWith("open", tt.err)

			// Without a fallback, the error.
			plain := kc.store(t, Config{})
			_, err := plain.Load(ctx)
			require.Error(t, err, "load from an unusable keychain")
			assert.NotErrorIs(t, err, authtransport.ErrNoToken, "an unusable keychain is not an empty one")
			if tt.want != nil {
				assert.IsType(t, tt.want, err, "the typed error")
				assert.Contains(t, err.Error(), "keyringstore: load token: ", "the error names the operation")
			}

			// With one, every use reported, to both.
			fb := authtransport.NewMemoryStore(nil)
			var reports []error
			var mu sync.Mutex
			var logs bytes.Buffer
			s := kc.store(t, Config{
				Fallback:   fb,
				OnFallback: func(err error) { mu.Lock(); defer mu.Unlock(); reports = append(reports, err) },
				Logger:     slog.New(slog.NewTextHandler(&logs, nil)),
			})
			tok := sizedToken(1, 500)
			saveErr := s.Save(ctx, tok)
			got, loadErr := s.Load(ctx)
			removeErr := s.Save(ctx, nil)
			if !tt.fallback {
				assert.Error(t, saveErr, "no fallback for a failure that is not unavailability")
				assert.Error(t, loadErr, "no fallback for a failure that is not unavailability")
				assert.Error(t, removeErr, "no fallback for a failure that is not unavailability")
				assert.Empty(t, reports, "no fallback reported")
				assert.Empty(t, logs.String(), "no fallback logged")
				return
			}
			require.NoError(t, saveErr, "save to the fallback")
			require.NoError(t, loadErr, "load from the fallback")
			assert.Equal(t, tok, got, "the token from the fallback")
			if _, locked := tt.want.(*LockedError); locked {
				assert.IsType(t, tt.want, removeErr, "a locked keychain may still hold a token the logout did not remove")
			} else {
				require.NoError(t, removeErr, "with no keychain at all, emptying the fallback is the logout")
			}
			_, err = fb.Load(ctx)
			assert.ErrorIs(t, err, authtransport.ErrNoToken, "the fallback is empty after the logout")

			require.Len(t, reports, 3, "each of the three operations reported")
			for i, op := range []string{"save token", "load token", "remove token"} {
				assert.IsType(t, tt.want, reports[i], "report %d is the keychain's typed error", i)
				assert.Contains(t, reports[i].Error(), op, "report %d names the operation", i)
			}
			assert.Equal(t, 3, strings.Count(logs.String(), "level=WARN msg=\"keyringstore: keyring unavailable, using the fallback store\""), "each use logged:\n%s", logs.String())
			assert.NotContains(t, logs.String(), tok.AccessToken, "the log holds no token")
		})
	}
}

func TestNewRejects(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{name: "no service", cfg: Config{Account: "a", LockPath: "x"}, want: "Config.Service is empty"},
		{name: "no account", cfg: Config{Service: "s", LockPath: "x"}, want: "Config.Account is empty"},
		{name: "a silent fallback", cfg: Config{Service: "s", Account: "a", LockPath: "x", Fallback: authtransport.NewMemoryStore(nil)}, want: "a Config.Fallback needs Config.OnFallback or Config.Logger"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(tt.cfg)
			assert.Nil(t, s, "no store")
			assert.ErrorContains(t, err, "keyringstore: "+tt.want, "the error")
		})
	}
}

func TestOperationsHonourAnEndedContext(t *testing.T) {
	s := newFakeKeychain("mycli", secretServiceEntryLimit).store(t, Config{LockPath: t.TempDir() + "/l.lock"})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := s.Load(ctx)
	assert.ErrorIs(t, err, context.Canceled, "Load")
	assert.ErrorIs(t, s.Save(ctx, sizedToken(1, 100)), context.Canceled, "Save")
	assert.ErrorIs(t, s.Save(ctx, nil), context.Canceled, "Save(nil)")
	_, err = s.Lock(ctx)
	assert.ErrorIs(t, err, context.Canceled, "Lock")
}
