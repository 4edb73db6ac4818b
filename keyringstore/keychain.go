package keyringstore

import (
	"context"
	"errors"
)

// keychain is the operating system's store of secrets, whose entries are
// named by a service and a user name.
type keychain interface {
	// open starts a batch of operations; the caller closes the session.
	open(ctx context.Context) (keychainSession, error)
}

// keychainSession runs operations on the entries of one service. Its
// errors are errNotFound, an *unavailableError, the context's error, or
// another failure of the keychain.
type keychainSession interface {
	// get returns the value of user's entry.
	get(ctx context.Context, user string) (string, error)
	// set creates or replaces user's entry; label is what keychain
	// browsers show for it.
	set(ctx context.Context, user, label, value string) error
	// remove deletes user's entry; a missing entry is not an error.
	remove(ctx context.Context, user string) error
	// close ends the session.
	close()
}

// errNotFound is what a keychainSession returns for an entry that does not
// exist.
var errNotFound = errors.New("keyringstore: no such keychain entry")

// unavailableError is a keychainSession's report that there is no keychain
// to talk to, or that it is locked; [Store] turns it into a
// [*NoKeyringError] or a [*LockedError].
type unavailableError struct {
	locked bool
	err    error
}

func (e *unavailableError) Error() string { return e.err.Error() }
func (e *unavailableError) Unwrap() error { return e.err }
