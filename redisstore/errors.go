package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/d5c4ca72/authtransport"
)

// RedisError is returned by a [Store] method when Redis could not be reached
// or answered with an error, or when the call's context ended first. An
// [authtransport.Transport] treats it as a failure of the store: it retries
// after a backoff and goes on serving a token it holds that is still valid;
// once that token expires, requests fail with an
// [*authtransport.RefreshError] that wraps this error.
//
// It unwraps to the go-redis error, so errors.Is finds
// [context.DeadlineExceeded] or [context.Canceled] when the context ended,
// and [redis.ErrClosed] when the client was closed.
type RedisError struct {
	// Op is what failed: "load", "save", "delete", "lock" or
	// "wait for lock" (the caller's context ended while Lock waited,
	// during a try included).
	Op string
	// Key is the Redis key concerned.
	Key string
	// Err is the cause.
	Err error
}

// Error names the operation, the key and the cause.
func (e *RedisError) Error() string {
	return "redisstore: " + e.Op + " " + e.Key + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *RedisError) Unwrap() error { return e.Err }

// redisError wraps err, the failure of op on key. When ctx has ended and
// err does not say so, the context's error is added, so that errors.Is
// finds it.
func redisError(ctx context.Context, op, key string, err error) *RedisError {
	if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
		err = fmt.Errorf("%w (%w)", err, ctxErr)
	}
	return &RedisError{Op: op, Key: key, Err: err}
}

// ConflictError is returned by [Store.Save] when the caller holds the lock
// but the stored token is no longer the one that was stored when the lock
// was taken: another writer replaced or deleted it, typically a replica
// that took the lock over after this one lost it (see [Store.Lock]), or a
// login that saved without the lock. Nothing was written.
//
// An [authtransport.Transport] keeps the token it tried to save in memory,
// goes on using it, and adopts the newer stored token on its next load.
type ConflictError struct {
	// Key is the token's Redis key.
	Key string
	// Expected is the version the stored token had when the lock was
	// taken (or that this holder's last save wrote); 0 means there was
	// none.
	Expected int64
	// Found is the version stored now: 0 means the token was deleted, -1
	// that the key holds something that is not a token.
	Found int64
	// LockLost reports that the lock had been lost before the save (its
	// renewal failed), which is how another replica could write.
	LockLost bool
}

// Error says what happened, without any token.
func (e *ConflictError) Error() string {
	msg := "redisstore: token under " + e.Key + " was "
	switch e.Found {
	case 0:
		msg += "deleted"
	case -1:
		msg += "overwritten with something that is not a token"
	default:
		msg += "replaced (version " + strconv.FormatInt(e.Found, 10) + ")"
	}
	msg += " since version " + strconv.FormatInt(e.Expected, 10) + " was locked; not saved"
	if e.LockLost {
		msg += " (the lock had been lost)"
	}
	return msg
}

// CorruptError is returned by [Store.Load] when the key holds something
// that is not a token this package can read: another type than a hash, a
// hash without a valid version, or a token that does not decode. It wraps
// [authtransport.ErrNoToken]: an [authtransport.Transport] treats the store
// as empty, and the next Save replaces the value.
type CorruptError struct {
	// Key is the token's Redis key.
	Key string
	// Reason says what is wrong, without quoting the stored value.
	Reason string
}

// Error names the key and the problem, never the stored value.
func (e *CorruptError) Error() string {
	return "redisstore: value under " + e.Key + " is not a token: " + e.Reason
}

// Is reports whether target is [authtransport.ErrNoToken]: the key holds no
// token that can be used, and saving a new one replaces it.
func (e *CorruptError) Is(target error) bool { return target == authtransport.ErrNoToken }
