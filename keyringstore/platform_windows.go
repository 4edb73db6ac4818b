package keyringstore

import (
	"errors"
	"syscall"
)

// platformKeychain returns the Windows Credential Manager, through
// go-keyring.
func platformKeychain(service string) (keychain, limitFunc) {
	return newGoKeyring(service, classifyWinCred), winCredEntryLimit
}

// errorNoSuchLogonSession is what the Credential Manager returns to a
// process without a logon session that has a credential store (a service,
// or an SSH session that logged in with a key).
const errorNoSuchLogonSession = syscall.Errno(1312)

// classifyWinCred tells a missing credential store from other failures of
// go-keyring.
func classifyWinCred(err error) error {
	if errors.Is(err, errorNoSuchLogonSession) {
		return &unavailableError{err: err}
	}
	return err
}
