//go:build !race

package authtransport_test

// raceEnabled is true when the race detector is on; allocation counts are
// different then.
const raceEnabled = false
