package redisstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/d5c4ca72/authtransport"
)

// Defaults for the [Store] fields left zero.
const (
	// DefaultPrefix is put before the keys when Store.Prefix is empty.
	DefaultPrefix = "authtransport:"
	// DefaultLockTTL is the lock's expiry when Store.LockTTL is zero.
	DefaultLockTTL = 10 * time.Second
)

// minLockTTL is the shortest lock expiry: a smaller LockTTL is raised to it.
const minLockTTL = 100 * time.Millisecond

// Store is an [authtransport.LockingStore] that keeps one token in Redis, for
// a fleet of processes on any number of machines that share one OAuth grant:
// with it, the [authtransport.Transport] of every process refreshes under one
// lock, so a rotating refresh token is presented once. See the package
// documentation for the keys, the versioning, the lock and what happens when
// Redis fails.
//
// Set Client and Key; the other fields have working zero values. A Store is
// safe for concurrent use: several goroutines and Transports of a process
// may share one, and its lock excludes them from each other as it excludes
// other processes. Its fields must not change after its first use, and a
// Store must not be copied after first use.
type Store struct {
	// Client is the Redis client: a [*redis.Client], the failover client
	// of a Sentinel setup, a [*redis.ClusterClient], or any other
	// [redis.UniversalClient]. It is required, and the Store never closes
	// it.
	//
	// Set ContextTimeoutEnabled in its options, so that the deadline of a
	// call's context cuts a Redis command short; without it, go-redis
	// bounds each command by the client's ReadTimeout and WriteTimeout
	// only (3 s by default), and the Store checks the context between
	// commands and while it waits for the lock.
	Client redis.UniversalClient

	// Key names the token, typically after the grant it belongs to
	// ("crm-integration"). It is required and must not contain braces:
	// it becomes the keys' hash tag.
	Key string

	// Prefix is put before the keys, to keep them apart from an
	// application's own. If empty, DefaultPrefix is used. It must not
	// contain braces.
	Prefix string

	// TokenTTL, if positive, lets Redis delete the token when it has not
	// been saved for that long (each Save sets the expiry anew). A Load
	// after that finds no token, and a login is needed: make it longer
	// than the refresh token lives, or leave it zero, the default, for no
	// expiry.
	TokenTTL time.Duration

	// LockTTL is how long the lock outlives its holder: a process that
	// dies while it holds the lock keeps the others waiting that long at
	// most. While held, the lock is renewed every third of it, so a slow
	// token endpoint does not let a second process in. If zero,
	// DefaultLockTTL is used; a value below 100 ms is raised to 100 ms.
	// Keep it below the Transport's RefreshTimeout (30 s by default),
	// which bounds how long a Transport waits for the lock, so that a
	// waiter outlasts a dead holder's lock.
	LockTTL time.Duration

	// AllowUnlockedRefresh trades the single-refresh guarantee for
	// availability while Redis cannot be reached: Load then returns the
	// last token this Store read or wrote, and Lock returns an unlock
	// that holds only this Store's own lock, so the Transport refreshes
	// without the fleet-wide lock and keeps the new token in memory until
	// Redis is back. Other processes may refresh the same token at the
	// same time, and a server that detects refresh-token reuse then
	// revokes the grant. Off by default: a Transport then keeps serving a
	// valid token it holds and fails with a [*RedisError] once it expires.
	AllowUnlockedRefresh bool

	// Logger, if not nil, receives a warning when the lock is lost while
	// held, when it cannot be released, and when AllowUnlockedRefresh
	// lets a call go on without Redis. Records never contain a token.
	Logger *slog.Logger

	once     sync.Once
	err      error // the configuration's fault, if any
	tokenKey string
	lockKey  string
	scripts  scripts
	sem      chan struct{} // a semaphore of one: held by the goroutine that holds or takes the lock

	mu   sync.Mutex // guards hold and last
	hold *hold      // the lock this Store holds, or nil
	last *seen      // what Redis last held, as far as this Store knows; kept with AllowUnlockedRefresh
}

var _ authtransport.LockingStore = (*Store)(nil)

// seen is a stored token and its version: nil and 0 when there was none,
// nil and -1 when the key held something else.
type seen struct {
	tok     *authtransport.Token
	version int64
}

// setup checks the configuration and derives the keys, once.
func (s *Store) setup() error {
	s.once.Do(func() {
		switch {
		case s.Client == nil:
			s.err = errors.New("redisstore: Store has no Client")
		case s.Key == "":
			s.err = errors.New("redisstore: Store has no Key")
		case strings.ContainsAny(s.Key, "{}") || strings.ContainsAny(s.Prefix, "{}"):
			s.err = errors.New("redisstore: Store.Key and Store.Prefix must not contain braces: the key is the hash tag")
		}
		prefix := s.Prefix
		if prefix == "" {
			prefix = DefaultPrefix
		}
		tag := prefix + "{" + s.Key + "}"
		s.tokenKey, s.lockKey = tag+":token", tag+":lock"
		s.scripts = newScripts()
		s.sem = make(chan struct{}, 1)
	})
	return s.err
}

// lockTTL returns the lock's expiry.
func (s *Store) lockTTL() time.Duration {
	switch {
	case s.LockTTL == 0:
		return DefaultLockTTL
	case s.LockTTL < minLockTTL:
		return minLockTTL
	}
	return s.LockTTL
}

// Load returns the stored token. It returns an error wrapping
// [authtransport.ErrNoToken] when there is none, a [*CorruptError] (which
// wraps it too) when the key holds something that is not a token, and a
// [*RedisError] when Redis fails or ctx ends. Load does not take the lock
// and does not affect what a later Save compares against.
func (s *Store) Load(ctx context.Context) (*authtransport.Token, error) {
	if err := s.setup(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, redisError(ctx, "load", s.tokenKey, err)
	}
	vals, err := s.Client.HMGet(ctx, s.tokenKey, fieldToken, fieldVersion).Result()
	if redis.HasErrorPrefix(err, "WRONGTYPE") {
		s.remember(nil, -1)
		return nil, &CorruptError{Key: s.tokenKey, Reason: "the key is not a hash"}
	}
	if err != nil {
		if last := s.lastIfUnreachable(ctx, err, "load"); last != nil {
			return last.tok, s.noTokenIfNil(last.tok)
		}
		return nil, redisError(ctx, "load", s.tokenKey, err)
	}
	tok, version, reason := decodeFields(vals)
	if reason != "" {
		s.remember(nil, -1)
		return nil, &CorruptError{Key: s.tokenKey, Reason: reason}
	}
	s.remember(tok, version)
	return tok, s.noTokenIfNil(tok)
}

// noTokenIfNil returns the error of an empty store when tok is nil.
func (s *Store) noTokenIfNil(tok *authtransport.Token) error {
	if tok != nil {
		return nil
	}
	return fmt.Errorf("redisstore: no token under %s: %w", s.tokenKey, authtransport.ErrNoToken)
}

// Save replaces the stored token; Save(ctx, nil) deletes it (a logout),
// after which Load returns [authtransport.ErrNoToken].
//
// While this Store holds the lock, Save writes only if the stored token's
// version is still the one it had when the lock was taken (or the one this
// holder's previous Save wrote), and returns a [*ConflictError] otherwise.
// Without the lock, as for a login, Save writes whatever is stored. A
// deletion always succeeds. Save returns a [*RedisError] when Redis fails
// or ctx ends.
func (s *Store) Save(ctx context.Context, tok *authtransport.Token) error {
	if err := s.setup(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return redisError(ctx, "save", s.tokenKey, err)
	}
	if tok == nil {
		return s.remove(ctx)
	}
	data, err := encodeToken(tok)
	if err != nil {
		return err
	}
	s.mu.Lock()
	h := s.hold
	expected, want := int64(0), ""
	if h != nil {
		expected = h.expected
		want = strconv.FormatInt(expected, 10)
	}
	s.mu.Unlock()
	res, err := s.scripts.save.Run(ctx, s.Client, []string{s.tokenKey},
		want, data, ttlMillis(s.TokenTTL), time.Now().UnixMilli()).Int64Slice()
	if err == nil && len(res) != 2 {
		err = fmt.Errorf("unexpected reply of %d values", len(res))
	}
	if err != nil {
		return redisError(ctx, "save", s.tokenKey, err)
	}
	if res[0] == 0 {
		return &ConflictError{Key: s.tokenKey, Expected: expected, Found: res[1], LockLost: h.isLost()}
	}
	s.mu.Lock()
	if h != nil && s.hold == h {
		h.expected = res[1]
	}
	s.rememberLocked(tok, res[1])
	s.mu.Unlock()
	return nil
}

// remove deletes the token. A hold's next Save then expects no token.
func (s *Store) remove(ctx context.Context) error {
	if err := s.Client.Del(ctx, s.tokenKey).Err(); err != nil {
		return redisError(ctx, "delete", s.tokenKey, err)
	}
	s.mu.Lock()
	if s.hold != nil {
		s.hold.expected = 0
	}
	s.rememberLocked(nil, 0)
	s.mu.Unlock()
	return nil
}

// ttlMillis returns d in whole milliseconds, rounded up; 0 for none.
func ttlMillis(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}

// log writes a warning to Logger, if set.
func (s *Store) log(msg string, attrs ...slog.Attr) {
	if s.Logger == nil {
		return
	}
	attrs = append(attrs, slog.String("key", s.Key))
	s.Logger.LogAttrs(context.Background(), slog.LevelWarn, "redisstore: "+msg, attrs...)
}
