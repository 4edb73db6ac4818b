//go:build !race

package otelauth_test

// raceEnabled is true when the race detector is on; allocation counts are
// not checked then.
const raceEnabled = false
