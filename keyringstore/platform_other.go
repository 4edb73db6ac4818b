//go:build !(linux || freebsd || openbsd || netbsd || dragonfly || darwin || windows)

package keyringstore

import (
	"context"
	"errors"
	"runtime"
)

// platformKeychain returns a keychain that is never there: this package
// knows no keychain on this system.
func platformKeychain(string) (keychain, limitFunc) {
	return noKeychain{}, secretServiceEntryLimit
}

type noKeychain struct{}

func (noKeychain) open(context.Context) (keychainSession, error) {
	return nil, &unavailableError{err: errors.New("no keychain support on " + runtime.GOOS)}
}
