//go:build darwin || windows

package keyringstore

import (
	"context"
	"errors"
	"sync"

	"github.com/zalando/go-keyring"
)

// goKeyring is the platform's keychain as go-keyring reaches it. Its calls
// take no context: each runs on a goroutine of its own that the caller
// stops waiting for when its context ends; the call itself finishes in the
// background and its result is dropped. A write still running so (the
// security tool waiting on a prompt, say) could land after another
// process saved a newer token: the Store's lock is therefore released only
// once no write of this keychain runs (settle).
type goKeyring struct {
	service  string
	classify func(error) error // the platform's own errors
	writes   *sync.WaitGroup   // the set and remove calls running
}

func newGoKeyring(service string, classify func(error) error) goKeyring {
	return goKeyring{service: service, classify: classify, writes: new(sync.WaitGroup)}
}

// settle blocks until no write of k runs.
func (k goKeyring) settle() { k.writes.Wait() }

var _ keychainSession = goKeyring{}

func (k goKeyring) open(ctx context.Context) (keychainSession, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return k, nil
}

func (k goKeyring) get(ctx context.Context, user string) (string, error) {
	v, err := await(ctx, func() (string, error) { return keyring.Get(k.service, user) })
	return v, k.mapError(err)
}

func (k goKeyring) set(ctx context.Context, user, label, value string) error {
	return k.mapError(k.write(ctx, func() error { return keyring.Set(k.service, user, value) }))
}

func (k goKeyring) remove(ctx context.Context, user string) error {
	err := k.write(ctx, func() error { return keyring.Delete(k.service, user) })
	if err = k.mapError(err); errors.Is(err, errNotFound) {
		return nil
	}
	return err
}

func (goKeyring) close() {}

func (k goKeyring) mapError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, keyring.ErrNotFound):
		return errNotFound
	case errors.Is(err, keyring.ErrUnsupportedPlatform):
		return &unavailableError{err: err}
	case errors.Is(err, keyring.ErrSetDataTooBig):
		return errors.New("the keychain refused an entry as too large")
	}
	return k.classify(err)
}

// write runs f, a write, as await does, counted in k.writes until f
// returns.
func (k goKeyring) write(ctx context.Context, f func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	k.writes.Add(1)
	_, err := await(ctx, func() (struct{}, error) {
		defer k.writes.Done()
		return struct{}{}, f()
	})
	return err
}

// await runs f on a goroutine of its own and returns its result, or ctx's
// error when ctx ends first.
func await[T any](ctx context.Context, f func() (T, error)) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := f()
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}
