package redisstore_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d5c4ca72/authtransport"
	"github.com/d5c4ca72/authtransport/redisstore"
)

func TestStoreRoundTrip(t *testing.T) {
	srv := needRedis(t)
	c := newClient(t, srv.Addr, nil)
	key := newKey(t)
	s := &redisstore.Store{Client: c, Key: key}
	ctx := t.Context()

	_, err := s.Load(ctx)
	assert.ErrorIs(t, err, authtransport.ErrNoToken, "an empty store loads as ErrNoToken")

	tok := testToken("round-trip", time.Hour)
	require.NoError(t, s.Save(ctx, tok), "saving a token")
	got, err := s.Load(ctx)
	require.NoError(t, err, "loading the saved token")
	assert.Equal(t, tok.AccessToken, got.AccessToken, "access token")
	assert.Equal(t, tok.RefreshToken, got.RefreshToken, "refresh token")
	assert.Equal(t, tok.TokenType, got.TokenType, "token type")
	assert.Equal(t, tok.Scope, got.Scope, "scope")
	assert.True(t, tok.Expiry.Equal(got.Expiry), "expiry: want %v, got %v", tok.Expiry, got.Expiry)
	assert.True(t, tok.ObtainedAt.Equal(got.ObtainedAt), "obtained at: want %v, got %v", tok.ObtainedAt, got.ObtainedAt)

	fields, err := c.HGetAll(ctx, tokenKey(key)).Result()
	require.NoError(t, err, "reading the hash")
	assert.ElementsMatch(t, []string{"token", "version"}, keysOf(fields), "the hash holds the token and its version")
	assert.JSONEq(t, mustJSON(t, tok), fields["token"], "the token is stored as the JSON of authtransport.Token")
	first := storedVersion(t, c, key)
	assert.Positive(t, first, "a first save writes a positive version")

	require.NoError(t, s.Save(ctx, testToken("second", time.Hour)), "saving again")
	assert.Equal(t, first+1, storedVersion(t, c, key), "each save increments the version")

	require.NoError(t, s.Save(ctx, nil), "a logout")
	_, err = s.Load(ctx)
	assert.ErrorIs(t, err, authtransport.ErrNoToken, "after Save(nil) the store is empty")
	n, err := c.Exists(ctx, tokenKey(key)).Result()
	require.NoError(t, err)
	assert.Zero(t, n, "Save(nil) deletes the key")
}

func TestStoreCorruptValues(t *testing.T) {
	srv := needRedis(t)
	c := newClient(t, srv.Addr, nil)
	secret := "s3cr3t-value-" + newKey(t)
	tests := []struct {
		name   string
		write  func(ctx context.Context, key string) error
		reason string
	}{
		{
			name:   "a string instead of a hash",
			write:  func(ctx context.Context, key string) error { return c.Set(ctx, key, secret, 0).Err() },
			reason: "the key is not a hash",
		},
		{
			name:   "a list instead of a hash",
			write:  func(ctx context.Context, key string) error { return c.RPush(ctx, key, secret).Err() },
			reason: "the key is not a hash",
		},
		{
			name: "no version",
			write: func(ctx context.Context, key string) error {
				return c.HSet(ctx, key, "token", `{"access_token":"`+secret+`"}`).Err()
			},
			reason: "no version field",
		},
		{
			name:   "no token",
			write:  func(ctx context.Context, key string) error { return c.HSet(ctx, key, "version", 3).Err() },
			reason: "no token field",
		},
		{
			name: "a version that is not a number",
			write: func(ctx context.Context, key string) error {
				return c.HSet(ctx, key, "token", `{"access_token":"`+secret+`"}`, "version", "x"+secret).Err()
			},
			reason: "version field is not a positive integer",
		},
		{
			name: "JSON that does not parse",
			write: func(ctx context.Context, key string) error {
				return c.HSet(ctx, key, "token", `{"access_token":"`+secret, "version", 1).Err()
			},
			reason: "token field: invalid JSON at byte",
		},
		{
			name: "a field of the wrong type",
			write: func(ctx context.Context, key string) error {
				return c.HSet(ctx, key, "token", `{"access_token":7}`, "version", 1).Err()
			},
			reason: `token field: field "access_token" is a JSON number`,
		},
		{
			name: "an expiry that is not a time",
			write: func(ctx context.Context, key string) error {
				return c.HSet(ctx, key, "token", `{"access_token":"a","expiry":"`+secret+`"}`, "version", 1).Err()
			},
			reason: "token field: invalid field value",
		},
		{
			name: "null",
			write: func(ctx context.Context, key string) error {
				return c.HSet(ctx, key, "token", "null", "version", 1).Err()
			},
			reason: "token field is null",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			key := newKey(t)
			s := &redisstore.Store{Client: c, Key: key}
			require.NoError(t, tt.write(ctx, tokenKey(key)), "writing the bad value")

			_, err := s.Load(ctx)
			var ce *redisstore.CorruptError
			require.ErrorAs(t, err, &ce, "a value that is not a token is a *CorruptError")
			assert.ErrorIs(t, err, authtransport.ErrNoToken, "a *CorruptError wraps ErrNoToken: the Transport treats the store as empty")
			assert.Contains(t, ce.Reason, tt.reason, "the reason says what is wrong")
			assert.Equal(t, tokenKey(key), ce.Key, "the error names the key")
			assert.NotContains(t, err.Error(), secret, "the error never quotes the stored value")

			// The next Save replaces it, with or without the lock.
			unlock, err := s.Lock(ctx)
			require.NoError(t, err, "locking a store with a bad value")
			tok := testToken("replacement", time.Hour)
			require.NoError(t, s.Save(ctx, tok), "a save replaces the bad value")
			unlock()
			got, err := s.Load(ctx)
			require.NoError(t, err, "loading the replacement")
			assert.Equal(t, tok.AccessToken, got.AccessToken, "the replacement is stored")
		})
	}
}

func TestStoreConfiguration(t *testing.T) {
	srv := needRedis(t)
	c := newClient(t, srv.Addr, nil)
	tests := []struct {
		name    string
		store   *redisstore.Store
		wantErr string
		keys    []string // the keys a save and a lock create
	}{
		{name: "no client", store: &redisstore.Store{Key: "k"}, wantErr: "redisstore: Store has no Client"},
		{name: "no key", store: &redisstore.Store{Client: c}, wantErr: "redisstore: Store has no Key"},
		{name: "braces in the key", store: &redisstore.Store{Client: c, Key: "a{b}"}, wantErr: "must not contain braces"},
		{name: "braces in the prefix", store: &redisstore.Store{Client: c, Key: "k", Prefix: "{p}"}, wantErr: "must not contain braces"},
		{name: "default prefix", store: &redisstore.Store{Client: c, Key: "cfg-default"},
			keys: []string{"authtransport:{cfg-default}:token", "authtransport:{cfg-default}:lock"}},
		{name: "own prefix", store: &redisstore.Store{Client: c, Key: "cfg-own", Prefix: "myapp:"},
			keys: []string{"myapp:{cfg-own}:token", "myapp:{cfg-own}:lock"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			if tt.wantErr != "" {
				_, err := tt.store.Load(ctx)
				assert.ErrorContains(t, err, tt.wantErr, "Load reports the configuration's fault")
				assert.NotErrorIs(t, err, authtransport.ErrNoToken, "a misconfigured store is a failure, not an empty store")
				assert.ErrorContains(t, tt.store.Save(ctx, testToken("x", time.Hour)), tt.wantErr, "Save reports it")
				_, err = tt.store.Lock(ctx)
				assert.ErrorContains(t, err, tt.wantErr, "Lock reports it")
				return
			}
			t.Cleanup(func() { c.Del(context.Background(), tt.keys...) })
			require.NoError(t, tt.store.Save(ctx, testToken("cfg", time.Hour)), "saving")
			unlock, err := tt.store.Lock(ctx)
			require.NoError(t, err, "locking")
			n, err := c.Exists(ctx, tt.keys...).Result()
			require.NoError(t, err)
			assert.EqualValues(t, len(tt.keys), n, "the token and the lock are under the documented keys %v", tt.keys)
			unlock()
		})
	}
}

func TestStoreTokenTTL(t *testing.T) {
	srv := needRedis(t)
	c := newClient(t, srv.Addr, nil)
	tests := []struct {
		name string
		ttl  time.Duration
		want func(t *testing.T, left time.Duration)
	}{
		{name: "none by default", ttl: 0, want: func(t *testing.T, left time.Duration) {
			assert.Equal(t, time.Duration(-1), left, "without TokenTTL the key does not expire")
		}},
		{name: "one hour", ttl: time.Hour, want: func(t *testing.T, left time.Duration) {
			assert.InDelta(t, time.Hour, left, float64(time.Minute), "the key expires after TokenTTL")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := newKey(t)
			s := &redisstore.Store{Client: c, Key: key, TokenTTL: tt.ttl}
			require.NoError(t, s.Save(t.Context(), testToken("ttl", time.Hour)), "saving")
			left, err := c.PTTL(t.Context(), tokenKey(key)).Result()
			require.NoError(t, err)
			tt.want(t, left)
		})
	}
}

// TestStoreUnreachable shows the typed error of a Redis that does not
// answer, and that context errors are found through it.
func TestStoreUnreachable(t *testing.T) {
	needRedis(t)
	port, err := freePort() // nothing listens there
	require.NoError(t, err)
	c := newClient(t, net.JoinHostPort("127.0.0.1", itoa(port)), &redis.Options{MaxRetries: -1})
	s := &redisstore.Store{Client: c, Key: newKey(t)}
	tok := testToken("unreachable", time.Hour)

	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	tests := []struct {
		name    string
		ctx     context.Context
		call    func(ctx context.Context) error
		op      string
		wantCtx error
	}{
		{name: "load", ctx: t.Context(), op: "load", call: func(ctx context.Context) error { _, err := s.Load(ctx); return err }},
		{name: "save", ctx: t.Context(), op: "save", call: func(ctx context.Context) error { return s.Save(ctx, tok) }},
		{name: "delete", ctx: t.Context(), op: "delete", call: func(ctx context.Context) error { return s.Save(ctx, nil) }},
		{name: "lock", ctx: t.Context(), op: "lock", call: func(ctx context.Context) error { _, err := s.Lock(ctx); return err }},
		{name: "load, canceled", ctx: canceled, op: "load", wantCtx: context.Canceled,
			call: func(ctx context.Context) error { _, err := s.Load(ctx); return err }},
		{name: "save, canceled", ctx: canceled, op: "save", wantCtx: context.Canceled,
			call: func(ctx context.Context) error { return s.Save(ctx, tok) }},
		{name: "lock, canceled", ctx: canceled, op: "wait for lock", wantCtx: context.Canceled,
			call: func(ctx context.Context) error { _, err := s.Lock(ctx); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call(tt.ctx)
			var re *redisstore.RedisError
			require.ErrorAs(t, err, &re, "a failure to reach Redis is a *RedisError")
			assert.Equal(t, tt.op, re.Op, "the operation that failed")
			assert.NotErrorIs(t, err, authtransport.ErrNoToken, "a failure is not an empty store")
			if tt.wantCtx != nil {
				assert.ErrorIs(t, err, tt.wantCtx, "errors.Is finds the context's error")
			} else {
				var ne net.Error
				assert.True(t, errors.As(err, &ne), "the go-redis network error is wrapped, got %v", err)
			}
			assert.NotContains(t, err.Error(), tok.AccessToken, "no token in the error")
			assert.NotContains(t, err.Error(), tok.RefreshToken, "no refresh token in the error")
		})
	}
}
