//go:build !(linux || freebsd || openbsd || netbsd || dragonfly)

package keyringstore

import (
	"testing"

	"go.uber.org/goleak"
)

// runTests runs the tests that need no keychain, and fails them if any
// leaves a goroutine behind: the tests against a real keychain use the
// Secret Service.
func runTests(m *testing.M) {
	goleak.VerifyTestMain(m)
}
