package redisstore_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d5c4ca72/authtransport"
	"github.com/d5c4ca72/authtransport/redisstore"
)

// versionEnv is what a row of TestSaveComparesVersions works with: A is the
// Store of the process under test, B another process's Store of the same
// key.
type versionEnv struct {
	t    *testing.T
	c    *redis.Client
	key  string
	a, b *redisstore.Store
	logs *logRecorder // A's log
}

func (e *versionEnv) lock(s *redisstore.Store) func() {
	e.t.Helper()
	unlock, err := s.Lock(e.t.Context())
	require.NoError(e.t, err, "taking the lock")
	return unlock
}

func (e *versionEnv) save(s *redisstore.Store, tok *authtransport.Token) {
	e.t.Helper()
	require.NoError(e.t, s.Save(e.t.Context(), tok), "saving")
}

func (e *versionEnv) load(s *redisstore.Store) *authtransport.Token {
	e.t.Helper()
	tok, err := s.Load(e.t.Context())
	require.NoError(e.t, err, "loading")
	return tok
}

// TestSaveComparesVersions plays the interleavings of holders, optimistic
// loads and other writers. Each row ends with a Save by A while A holds the
// lock, and says whether it must be refused and what is stored after it.
// Throughout each row, other goroutines load from A without the lock, as
// the Transports sharing a Store do while one of them refreshes: those
// loads must not change what A's Save compares against.
func TestSaveComparesVersions(t *testing.T) {
	srv := needRedis(t)
	c := newClient(t, srv.Addr, nil)
	tests := []struct {
		name string
		// play runs the row up to A's last Save, and returns the token
		// expected in the store afterwards with that Save's error.
		play     func(e *versionEnv) (stored *authtransport.Token, err error)
		conflict bool // A's Save must be refused
		lockLost bool // and say that A had lost the lock
	}{
		{
			name: "no other writer",
			play: func(e *versionEnv) (*authtransport.Token, error) {
				e.save(e.a, testToken("first", time.Hour))
				defer e.lock(e.a)()
				e.load(e.a)
				mine := testToken("refreshed", time.Hour)
				return mine, e.a.Save(e.t.Context(), mine)
			},
		},
		{
			name: "another process took over a lost lock and saved; an optimistic load saw its token",
			play: func(e *versionEnv) (*authtransport.Token, error) {
				e.save(e.a, testToken("first", time.Hour))
				defer e.lock(e.a)()
				e.load(e.a) // the holder's load
				// A's lock is lost (its key expired or was evicted).
				require.NoError(e.t, e.c.Del(e.t.Context(), lockKey(e.key)).Err())
				require.True(e.t, e.logs.wait("redisstore: lock lost", 5*time.Second), "A notices the loss")
				theirs := testToken("theirs", time.Hour)
				func() {
					defer e.lock(e.b)()
					e.load(e.b)
					e.save(e.b, theirs)
				}()
				// Another goroutine of A's process loads without the
				// lock and sees B's token.
				assert.Equal(e.t, theirs.AccessToken, e.load(e.a).AccessToken, "an optimistic load sees the newer token")
				return theirs, e.a.Save(e.t.Context(), testToken("stale", time.Hour))
			},
			conflict: true,
			lockLost: true,
		},
		{
			name: "a login saved without the lock during the hold",
			play: func(e *versionEnv) (*authtransport.Token, error) {
				e.save(e.a, testToken("first", time.Hour))
				defer e.lock(e.a)()
				e.load(e.a)
				login := testToken("login", time.Hour)
				e.save(e.b, login)
				return login, e.a.Save(e.t.Context(), testToken("refreshed", time.Hour))
			},
			conflict: true,
		},
		{
			name: "a logout by another process during the hold",
			play: func(e *versionEnv) (*authtransport.Token, error) {
				e.save(e.a, testToken("first", time.Hour))
				defer e.lock(e.a)()
				e.load(e.a)
				e.save(e.b, nil)
				return nil, e.a.Save(e.t.Context(), testToken("refreshed", time.Hour))
			},
			conflict: true,
		},
		{
			name: "two saves in one hold",
			play: func(e *versionEnv) (*authtransport.Token, error) {
				e.save(e.a, testToken("first", time.Hour))
				defer e.lock(e.a)()
				e.save(e.a, testToken("resaved", time.Hour))
				mine := testToken("refreshed", time.Hour)
				return mine, e.a.Save(e.t.Context(), mine)
			},
		},
		{
			name: "a delete, then a save in one hold",
			play: func(e *versionEnv) (*authtransport.Token, error) {
				e.save(e.a, testToken("first", time.Hour))
				defer e.lock(e.a)()
				e.save(e.a, nil)
				mine := testToken("login", time.Hour)
				return mine, e.a.Save(e.t.Context(), mine)
			},
		},
		{
			name: "holds one after another",
			play: func(e *versionEnv) (*authtransport.Token, error) {
				e.save(e.a, testToken("first", time.Hour))
				func() {
					defer e.lock(e.a)()
					e.save(e.a, testToken("a1", time.Hour))
				}()
				func() {
					defer e.lock(e.b)()
					e.save(e.b, testToken("b1", time.Hour))
				}()
				defer e.lock(e.a)()
				mine := testToken("a2", time.Hour)
				return mine, e.a.Save(e.t.Context(), mine)
			},
		},
		{
			name: "an empty store",
			play: func(e *versionEnv) (*authtransport.Token, error) {
				defer e.lock(e.a)()
				mine := testToken("first", time.Hour)
				return mine, e.a.Save(e.t.Context(), mine)
			},
		},
		{
			name: "an empty store that another process filled during the hold",
			play: func(e *versionEnv) (*authtransport.Token, error) {
				defer e.lock(e.a)()
				login := testToken("login", time.Hour)
				e.save(e.b, login)
				return login, e.a.Save(e.t.Context(), testToken("mine", time.Hour))
			},
			conflict: true,
		},
		{
			name: "a save without the lock replaces a newer token",
			play: func(e *versionEnv) (*authtransport.Token, error) {
				e.save(e.a, testToken("first", time.Hour))
				e.save(e.b, testToken("theirs", time.Hour))
				login := testToken("login", time.Hour)
				return login, e.a.Save(e.t.Context(), login)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := newKey(t)
			logs := newLogRecorder()
			e := &versionEnv{
				t: t, c: c, key: key, logs: logs,
				a: &redisstore.Store{Client: c, Key: key, LockTTL: 300 * time.Millisecond, Logger: logs.logger()},
				b: &redisstore.Store{Client: c, Key: key, LockTTL: 300 * time.Millisecond},
			}
			loads := optimisticLoads(t, e.a)
			stored, err := tt.play(e)
			loads()

			if !tt.conflict {
				assert.NoError(t, err, "A's save under the lock succeeds")
			} else {
				var ce *redisstore.ConflictError
				require.ErrorAs(t, err, &ce, "A's save is refused with a *ConflictError")
				assert.Equal(t, tokenKey(key), ce.Key, "the error names the key")
				assert.Equal(t, tt.lockLost, ce.LockLost, "LockLost")
				assert.Equal(t, storedVersion(t, c, key), ce.Found, "Found is the stored version")
				assert.NotEqual(t, ce.Expected, ce.Found, "the versions differ")
			}
			got, err := e.b.Load(t.Context())
			if stored == nil {
				assert.ErrorIs(t, err, authtransport.ErrNoToken, "the store stays empty")
				return
			}
			require.NoError(t, err, "loading what is stored")
			assert.Equal(t, stored.AccessToken, got.AccessToken, "the expected token is stored")
		})
	}
}

// optimisticLoads keeps two goroutines loading from s without the lock
// until the returned function is called.
func optimisticLoads(t *testing.T, s *redisstore.Store) (stop func()) {
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for ctx.Err() == nil {
				_, _ = s.Load(ctx)
			}
		})
	}
	return func() {
		cancel()
		wg.Wait()
	}
}
