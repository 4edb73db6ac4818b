//go:build !unix

package main

import "os/exec"

// ownProcessGroup leaves cmd as it is where there are no Unix process groups:
// the cancellation of its context kills go test alone.
func ownProcessGroup(*exec.Cmd) {}
