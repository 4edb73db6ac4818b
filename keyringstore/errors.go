package keyringstore

import (
	"errors"
	"fmt"

	"github.com/d5c4ca72/authtransport"
)

// NoKeyringError is returned when there is no keychain to keep the token
// in: on Linux, no D-Bus session bus or no Secret Service on it (a server
// or an SSH session without a desktop); on Windows, no logon session with
// a credential store; on other systems, no keychain support at all. With a
// [Config.Fallback] the operation goes to the fallback store instead, and
// the error is reported to [Config.OnFallback] and [Config.Logger].
//
// A [authtransport.Transport] treats it as a failure of the store: the
// error reaches its caller as the Err of a [*authtransport.RefreshError],
// where errors.As finds it.
type NoKeyringError struct {
	// Op is the operation that failed: "load token", "save token" or
	// "remove token".
	Op string
	// Err is the cause, such as the D-Bus error.
	Err error
}

// Error says which operation failed and why.
func (e *NoKeyringError) Error() string {
	return "keyringstore: " + e.Op + ": no keyring service: " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *NoKeyringError) Unwrap() error { return e.Err }

// LockedError is returned when the keychain is there but locked, and was
// not unlocked: the user dismissed the unlock prompt, or no prompt could be
// shown (no desktop session, macOS without user interaction). The user can
// unlock the keychain (on Linux, for example with Seahorse or by logging in
// on the desktop) and try again. With a [Config.Fallback] the operation
// goes to the fallback store instead, as for a [*NoKeyringError].
type LockedError struct {
	// Op is the operation that failed: "load token", "save token" or
	// "remove token".
	Op string
	// Err is the cause.
	Err error
}

// Error says which operation failed and why.
func (e *LockedError) Error() string {
	return "keyringstore: " + e.Op + ": keyring is locked: " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *LockedError) Unwrap() error { return e.Err }

// CorruptError is returned by [Store.Load] when the keychain entry holds
// something other than a token this package wrote and can read: a value
// that another program stored under the same service and account, a
// format from a newer version of this package, or parts that are missing
// or do not match their checksum. Its Reason never quotes the entry, which
// may hold secrets. The next [Store.Save] (for example after logging in
// again) replaces the entry.
type CorruptError struct {
	// Service and Account name the keychain entry.
	Service, Account string
	// Reason says what is wrong, without quoting the entry.
	Reason string
}

// Error names the entry and the problem, never the contents.
func (e *CorruptError) Error() string {
	return fmt.Sprintf("keyringstore: keychain entry %q of service %q does not hold a usable token: %s; logging in again replaces it", e.Account, e.Service, e.Reason)
}

// Is reports whether target is [authtransport.ErrNoToken]: the entry holds
// no token that can be used, and saving a new one replaces it. A
// [authtransport.Transport] then treats the store as empty and shows this
// error to the user when a login is needed.
func (e *CorruptError) Is(target error) bool { return target == authtransport.ErrNoToken }

// failure returns the error of operation op that failed with err, as the
// package documents it.
func failure(op string, err error) error {
	var ue *unavailableError
	switch {
	case errors.As(err, &ue) && ue.locked:
		return &LockedError{Op: op, Err: ue.err}
	case errors.As(err, &ue):
		return &NoKeyringError{Op: op, Err: ue.err}
	}
	return fmt.Errorf("keyringstore: %s: %w", op, err)
}

// unavailable reports whether err says that the keychain cannot be used
// at all for now, which is when a fallback store takes over.
func unavailable(err error) bool {
	var nk *NoKeyringError
	var lk *LockedError
	return errors.As(err, &nk) || errors.As(err, &lk)
}
