package keyringstore

import (
	"errors"
	"io/fs"
	"os/exec"
)

// platformKeychain returns the macOS keychain, through go-keyring and the
// security tool.
func platformKeychain(service string) (keychain, limitFunc) {
	return newGoKeyring(service, classifyMacKeychain), macKeychainEntryLimit
}

// securityInteractionNotAllowed is the exit status of the security tool
// when the keychain is locked and it may not ask the user to unlock it
// (errSecInteractionNotAllowed, whose low byte it exits with): in an SSH
// session, say.
const securityInteractionNotAllowed = 36

// classifyMacKeychain tells a locked keychain and a missing security tool
// from other failures of go-keyring.
func classifyMacKeychain(err error) error {
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit) && exit.ExitCode() == securityInteractionNotAllowed:
		return &unavailableError{locked: true, err: errors.New("the security tool may not ask for the keychain password (exit status 36)")}
	case errors.Is(err, exec.ErrNotFound), errors.Is(err, fs.ErrNotExist):
		return &unavailableError{err: err}
	}
	return err
}
