package redisstore_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/d5c4ca72/authtransport/redisstore"
)

// TestLockExcludes has goroutines take the lock in turn, sharing one Store
// (the goroutines of a process) or each with its own (processes), and
// checks that no two are inside at once.
func TestLockExcludes(t *testing.T) {
	srv := needRedis(t)
	c := newClient(t, srv.Addr, nil)
	const workers, rounds = 8, 20
	tests := []struct {
		name   string
		shared bool
	}{
		{name: "goroutines sharing one Store", shared: true},
		{name: "one Store each", shared: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := newKey(t)
			one := &redisstore.Store{Client: c, Key: key}
			var inside, most, entries atomic.Int32
			var wg sync.WaitGroup
			for range workers {
				s := one
				if !tt.shared {
					s = &redisstore.Store{Client: c, Key: key}
				}
				wg.Go(func() {
					for range rounds {
						unlock, err := s.Lock(t.Context())
						if !assert.NoError(t, err, "taking the lock") {
							return
						}
						n := inside.Add(1)
						for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
						}
						entries.Add(1)
						time.Sleep(100 * time.Microsecond)
						inside.Add(-1)
						unlock()
					}
				})
			}
			wg.Wait()
			assert.EqualValues(t, workers*rounds, entries.Load(), "every Lock call got the lock")
			assert.EqualValues(t, 1, most.Load(), "at most one holder at a time")
		})
	}
}

// TestLockWaitHonoursContext checks that a waiter gives up when its context
// ends, whether the holder is a goroutine of the same Store or another
// process.
func TestLockWaitHonoursContext(t *testing.T) {
	srv := needRedis(t)
	c := newClient(t, srv.Addr, nil)
	tests := []struct {
		name   string
		shared bool
	}{
		{name: "holder shares the Store", shared: true},
		{name: "holder has its own Store", shared: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := newKey(t)
			holder := &redisstore.Store{Client: c, Key: key}
			waiter := holder
			if !tt.shared {
				waiter = &redisstore.Store{Client: c, Key: key}
			}
			unlock, err := holder.Lock(t.Context())
			require.NoError(t, err, "the holder takes the lock")
			defer unlock()

			ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
			defer cancel()
			_, err = waiter.Lock(ctx)
			var re *redisstore.RedisError
			require.ErrorAs(t, err, &re, "a wait cut short is a *RedisError")
			assert.Equal(t, "wait for lock", re.Op, "the operation")
			assert.ErrorIs(t, err, context.DeadlineExceeded, "errors.Is finds the context's error")
		})
	}
}

// TestLockRenewedWhileHeld holds a lock of 300 ms for four times as long:
// the renewal keeps it, so a second process gets it only after unlock.
func TestLockRenewedWhileHeld(t *testing.T) {
	srv := needRedis(t)
	c := newClient(t, srv.Addr, nil)
	key := newKey(t)
	const ttl = 300 * time.Millisecond
	a := &redisstore.Store{Client: c, Key: key, LockTTL: ttl}
	b := &redisstore.Store{Client: c, Key: key, LockTTL: ttl}

	unlockA, err := a.Lock(t.Context())
	require.NoError(t, err, "A takes the lock")
	var released atomic.Bool
	got := make(chan error, 1)
	go func() {
		unlockB, err := b.Lock(t.Context())
		if err == nil {
			if !released.Load() {
				err = assert.AnError
			}
			unlockB()
		}
		got <- err
	}()
	for range 4 {
		time.Sleep(ttl)
		left, err := c.PTTL(t.Context(), lockKey(key)).Result()
		require.NoError(t, err)
		assert.Positive(t, left, "the lock is still held after %v", ttl)
	}
	released.Store(true)
	unlockA()
	assert.NoError(t, <-got, "B gets the lock, and only after A's unlock")
}

// TestLockExpiresWhenHolderDies leaves a lock behind as a killed holder
// does: the next Lock gets it once it has expired.
func TestLockExpiresWhenHolderDies(t *testing.T) {
	srv := needRedis(t)
	c := newClient(t, srv.Addr, nil)
	key := newKey(t)
	require.NoError(t, c.Set(t.Context(), lockKey(key), "a-dead-holder", 300*time.Millisecond).Err(), "a dead holder's lock")
	s := &redisstore.Store{Client: c, Key: key}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	unlock, err := s.Lock(ctx)
	require.NoError(t, err, "the lock is taken after the dead holder's expires")
	owner, err := c.Get(t.Context(), lockKey(key)).Result()
	require.NoError(t, err)
	assert.NotEqual(t, "a-dead-holder", owner, "the lock has a new owner")
	unlock()
	unlock() // a second call is harmless
	n, err := c.Exists(t.Context(), lockKey(key)).Result()
	require.NoError(t, err)
	assert.Zero(t, n, "unlock deletes the lock")
}

// TestLockReleasedOnlyByHolder gives the lock key another owner while A
// holds it (as when A's lock expired and B took it): A's unlock leaves B's
// lock alone.
func TestLockReleasedOnlyByHolder(t *testing.T) {
	srv := needRedis(t)
	c := newClient(t, srv.Addr, nil)
	key := newKey(t)
	logs := newLogRecorder()
	a := &redisstore.Store{Client: c, Key: key, LockTTL: 300 * time.Millisecond, Logger: logs.logger()}
	unlock, err := a.Lock(t.Context())
	require.NoError(t, err)
	require.NoError(t, c.Set(t.Context(), lockKey(key), "another-owner", time.Minute).Err(), "another owner takes the key")
	assert.True(t, logs.wait("redisstore: lock lost", 5*time.Second), "the renewal notices the loss and logs it")
	unlock()
	owner, err := c.Get(t.Context(), lockKey(key)).Result()
	require.NoError(t, err, "the other owner's lock is still there")
	assert.Equal(t, "another-owner", owner, "unlock deleted only its own lock")
}

// TestLockNoGoroutineOutlivesUnlock checks that the renewal goroutine ends
// with the hold.
func TestLockNoGoroutineOutlivesUnlock(t *testing.T) {
	srv := needRedis(t)
	c := newClient(t, srv.Addr, nil)
	s := &redisstore.Store{Client: c, Key: newKey(t), LockTTL: 150 * time.Millisecond}
	require.NoError(t, c.Ping(t.Context()).Err(), "a connection exists before the baseline")
	before := goleak.IgnoreCurrent()
	unlock, err := s.Lock(t.Context())
	require.NoError(t, err)
	time.Sleep(200 * time.Millisecond) // a few renewals
	unlock()
	assert.NoError(t, goleak.Find(before), "no goroutine of the hold is left after unlock")
}

// TestLockLostWhenRedisGoesAway stops Redis while a lock is held: the
// renewal fails for a whole LockTTL, the loss is logged, and unlock, which
// cannot release the key, logs that it will expire.
func TestLockLostWhenRedisGoesAway(t *testing.T) {
	r := ownRedis(t)
	c := newClient(t, r.Addr, &redis.Options{MaxRetries: -1, DialerRetries: 1, DialTimeout: 100 * time.Millisecond})
	logs := newLogRecorder()
	s := &redisstore.Store{Client: c, Key: newKey(t), LockTTL: 300 * time.Millisecond, Logger: logs.logger()}
	unlock, err := s.Lock(t.Context())
	require.NoError(t, err)
	require.NoError(t, r.stop(), "stopping Redis")
	assert.True(t, logs.wait("redisstore: lock lost", 5*time.Second), "the loss is logged: %v", logs.all())
	unlock()
	assert.Equal(t, 1, logs.count("could not release the lock"), "the failed release is logged: %v", logs.all())

}
