package authtransport

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Calls into the Store and the Refresher, made by flights. Each turns a
// panic of the user's code into an error: a flight runs on its own
// goroutine, where a panic would end the process.

// load reads the store. A store holding no usable token gives a nil token;
// why is then the store's reason when it gave one (a corrupt file, say).
func (t *Transport) load(ctx context.Context, store Store) (tok *Token, why error, err error) {
	defer func() {
		if v := recover(); v != nil {
			tok, why, err = nil, nil, panicError("Store.Load", v)
		}
	}()
	tok, err = store.Load(ctx)
	switch {
	case err == nil && tok == nil:
		return nil, nil, nil
	case errors.Is(err, ErrNoToken) && err != ErrNoToken:
		return nil, err, nil
	case errors.Is(err, ErrNoToken):
		return nil, nil, nil
	case err != nil:
		return nil, nil, fmt.Errorf("load token: %w", err)
	}
	return tok, nil, nil
}

// lock takes the store's lock.
func (t *Transport) lock(ctx context.Context, ls LockingStore) (unlock func(), err error) {
	return safeLock(ctx, "LockingStore.Lock", "lock token store", ls.Lock)
}

// safeLock takes a lock with lockFn, named callee, turning a panic of the
// lock or of its unlock into an error or nothing; op describes a failure.
func safeLock(ctx context.Context, callee, op string, lockFn func(context.Context) (func(), error)) (unlock func(), err error) {
	defer func() {
		if v := recover(); v != nil {
			unlock, err = nil, panicError(callee, v)
		}
	}()
	release, err := lockFn(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if release == nil {
		return func() {}, nil
	}
	return func() {
		defer func() { _ = recover() }() // an unlock that panics has released nothing we can help
		release()
	}, nil
}

// Saving a refreshed token is tried at these delays, on its own timeout:
// the refresh token that came with it may be the only one that still
// works, and other processes can only get it from the store.
var saveDelays = [...]time.Duration{0, 50 * time.Millisecond, 200 * time.Millisecond}

// save stores tok, trying a few times. Saving is not cut short by the
// refresh's deadline.
func (t *Transport) save(ctx context.Context, store Store, tok *Token) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), t.refreshTimeout())
	defer cancel()
	var err error
	for _, wait := range saveDelays {
		if wait > 0 && !sleep(ctx, wait) {
			break
		}
		if err = saveOnce(ctx, store, tok); err == nil {
			return nil
		}
	}
	return err
}

func saveOnce(ctx context.Context, store Store, tok *Token) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = panicError("Store.Save", v)
		}
	}()
	if err := store.Save(ctx, tok); err != nil {
		return fmt.Errorf("save token: %w", err)
	}
	return nil
}

// callRefresher calls the Refresher.
func (t *Transport) callRefresher(ctx context.Context, base *Token) (tok *Token, err error) {
	defer func() {
		if v := recover(); v != nil {
			tok, err = nil, &RefreshError{Err: panicError("Refresher.Refresh", v)}
		}
	}()
	return t.Refresher.Refresh(ctx, base)
}

// panicError describes a recovered panic of the named callback. Only the
// panic value's type is included: the value may hold anything, credentials
// too.
func panicError(callee string, v any) error {
	return fmt.Errorf("authtransport: %s panicked (%T)", callee, v)
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

// storeFailed records that the store could not be locked or read.
func (t *Transport) storeFailed(f *flight, err error) {
	now := time.Now()
	err = &RefreshError{Err: scrubError(err, t.secretsOf(t.cur.Load().tokOrNil()))}
	t.mu.Lock()
	if !f.forgotten.Load() && !f.loggedOut.Load() {
		tr := t.troubleLocked()
		tr.store = tr.store.next(now, transientSchedule, 0)
		tr.storeErr = err
		if cur := t.cur.Load(); cur != nil {
			// A token that has not expired goes on serving until the
			// store may be tried again. cur is read under the lock, so
			// that a rejection marked meanwhile is kept.
			t.cur.Store(cur.servingUntil(tr.store.until, now))
		}
	}
	t.mu.Unlock()
	t.emit(context.Background(), Event{Kind: EventStoreFailed, Err: err})
}

// storeRecovered ends a run of store failures after a successful read.
func (t *Transport) storeRecovered(f *flight) {
	t.mu.Lock()
	if tr := t.trouble; tr != nil && !f.forgotten.Load() {
		tr.store, tr.storeErr = backoff{}, nil
	}
	t.mu.Unlock()
}
