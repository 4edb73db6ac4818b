package redisstore

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	mrand "math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// A waiter polls the lock after a delay that starts at lockPollMin
	// and doubles up to lockPollMax, each with ±50% jitter, and never
	// sleeps past the holder's expiry.
	lockPollMin = 2 * time.Millisecond
	lockPollMax = 50 * time.Millisecond
	// releaseTimeout bounds the release of the lock (and LockTTL does):
	// a release that fails leaves the lock to expire.
	releaseTimeout = 2 * time.Second
)

// hold is one holding of the lock by a Store.
type hold struct {
	owner    string // the lock key's random value; "" for a hold taken while Redis was unreachable
	expected int64  // the version a Save must find; guarded by Store.mu
	lost     atomic.Bool
	stop     context.CancelFunc // ends the renewal; nil without an owner
	done     chan struct{}      // closed when the renewal has ended
}

// isLost reports whether h is known to have lost the lock.
func (h *hold) isLost() bool { return h != nil && h.lost.Load() }

// Lock blocks until the caller holds the lock, or ctx ends, or Redis fails.
//
// The lock is a key next to the token's (see the package documentation)
// whose value is a random owner, set only if absent, with LockTTL as its
// expiry; only its owner extends it (every LockTTL/3, on a goroutine that
// unlock stops) and deletes it. A waiter polls it with a short jittered
// delay, and stops when ctx ends with a [*RedisError] that wraps ctx's
// error. Within a process, the goroutines sharing a Store wait for each
// other without Redis. The version of the stored token when the lock is
// taken is what the holder's Saves compare against.
//
// If the renewal finds the lock gone or held by another owner, or cannot
// reach Redis for a whole LockTTL, the lock is lost: another process may
// take it and refresh. The holder is not stopped, since the refresh it is
// making must still be saved if it can: a Save succeeds as long as nobody
// else has saved since the lock was taken, and returns a [*ConflictError]
// with LockLost set otherwise. The loss is logged to Logger.
//
// Lock returns a [*RedisError] when Redis fails, unless AllowUnlockedRefresh
// is set and Redis cannot be reached: then it returns an unlock that holds
// only this Store's own lock. unlock releases the lock; calling it more
// than once is harmless. It waits for the renewal to end, then deletes the
// key if this holder still owns it; if Redis cannot be reached, the key
// expires after LockTTL.
func (s *Store) Lock(ctx context.Context) (unlock func(), err error) {
	if err := s.setup(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, redisError(ctx, "wait for lock", s.lockKey, err)
	}
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, redisError(ctx, "wait for lock", s.lockKey, ctx.Err())
	}
	h, err := s.acquire(ctx)
	if err != nil {
		<-s.sem
		return nil, err
	}
	s.mu.Lock()
	s.hold = h
	s.mu.Unlock()
	var once sync.Once
	return func() { once.Do(func() { s.release(h) }) }, nil
}

// acquire takes the Redis lock, polling while another owner holds it.
func (s *Store) acquire(ctx context.Context) (*hold, error) {
	owner := rand.Text()
	ttl := s.lockTTL()
	keys := []string{s.lockKey, s.tokenKey}
	delay := lockPollMin
	for {
		sent := time.Now()
		res, err := s.scripts.lock.Run(ctx, s.Client, keys, owner, ttl.Milliseconds()).Int64Slice()
		if err == nil && len(res) != 2 {
			err = errors.New("unexpected reply")
		}
		if err != nil {
			if last := s.lastIfUnreachable(ctx, err, "lock"); last != nil {
				return &hold{expected: last.version}, nil
			}
			op := "lock"
			if ctx.Err() != nil {
				// The caller's context ended during the attempt: the wait
				// was cut short, whatever Redis was doing.
				op = "wait for lock"
			}
			return nil, redisError(ctx, op, s.lockKey, err)
		}
		if res[0] == 1 {
			renewCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
			h := &hold{owner: owner, expected: res[1], stop: stop, done: make(chan struct{})}
			go s.renew(renewCtx, h, sent)
			return h, nil
		}
		wait := delay/2 + mrand.N(delay)
		if left := time.Duration(res[1]) * time.Millisecond; left > 0 && left < wait {
			wait = left
		}
		if !sleep(ctx, wait) {
			return nil, redisError(ctx, "wait for lock", s.lockKey, ctx.Err())
		}
		delay = min(2*delay, lockPollMax)
	}
}

// renew extends h's lock every third of its TTL until ctx ends. renewed is
// when the last successful extension (or the acquisition) was sent. It
// marks h lost, and stops, when the lock is gone or held by another owner,
// or when no extension has succeeded for a whole TTL: the lock has expired
// by then.
func (s *Store) renew(ctx context.Context, h *hold, renewed time.Time) {
	defer close(h.done)
	ttl := s.lockTTL()
	every := ttl / 3
	ticker := time.NewTicker(every)
	defer ticker.Stop()
	keys := []string{s.lockKey}
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		sent := time.Now()
		callCtx, cancel := context.WithTimeout(ctx, every)
		n, err := s.scripts.renew.Run(callCtx, s.Client, keys, h.owner, ttl.Milliseconds()).Int64()
		cancel()
		switch {
		case ctx.Err() != nil:
			return // unlocked meanwhile
		case err == nil && n == 1:
			renewed = sent
		case err == nil:
			s.lost(h, "it expired or another owner took it")
			return
		case time.Since(renewed) >= ttl:
			s.lost(h, "it could not be renewed for a whole LockTTL: "+err.Error())
			return
		}
	}
}

// lost records that h no longer holds the lock.
func (s *Store) lost(h *hold, why string) {
	h.lost.Store(true)
	s.log("lock lost while held; another process may refresh meanwhile", slog.String("reason", why))
}

// release ends h: it stops the renewal, deletes the lock if h still owns
// it, and lets the next goroutine of this process take it.
func (s *Store) release(h *hold) {
	if h.owner != "" {
		h.stop()
		<-h.done
		ctx, cancel := context.WithTimeout(context.Background(), min(s.lockTTL(), releaseTimeout))
		err := s.scripts.release.Run(ctx, s.Client, []string{s.lockKey}, h.owner).Err()
		cancel()
		if err != nil {
			s.log("could not release the lock; it expires after LockTTL", slog.String("error", err.Error()))
		}
	}
	s.mu.Lock()
	if s.hold == h {
		s.hold = nil
	}
	s.mu.Unlock()
	<-s.sem
}

// sleep waits d and reports true, or reports false when ctx ends first.
func sleep(ctx context.Context, d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}
