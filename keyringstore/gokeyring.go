//go:build darwin || windows

package keyringstore

import (
	"context"
	"errors"

	"github.com/zalando/go-keyring"
)

// goKeyring is the platform's keychain as go-keyring reaches it. Its calls
// take no context: each runs on a goroutine of its own that the caller
// stops waiting for when its context ends; the call itself finishes in the
// background and its result is dropped.
type goKeyring struct {
	service  string
	classify func(error) error // the platform's own errors
}

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
	_, err := await(ctx, func() (struct{}, error) { return struct{}{}, keyring.Set(k.service, user, value) })
	return k.mapError(err)
}

func (k goKeyring) remove(ctx context.Context, user string) error {
	_, err := await(ctx, func() (struct{}, error) { return struct{}{}, keyring.Delete(k.service, user) })
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
