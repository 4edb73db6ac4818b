//go:build linux || freebsd || openbsd || netbsd || dragonfly

package keyringstore

// platformKeychain returns the Secret Service on the D-Bus session bus.
func platformKeychain(service string) (keychain, limitFunc) {
	return secretService{service: service}, secretServiceEntryLimit
}
