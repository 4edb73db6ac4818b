package keyringstore

import "testing"

// TestMain fails the package's tests if any test leaves a goroutine behind,
// after setting up what they run against on this platform (see runTests).
func TestMain(m *testing.M) {
	runTests(m)
}
