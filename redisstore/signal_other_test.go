//go:build !unix

package redisstore_test

import "errors"

// pause and resume need job-control signals, which this system lacks; the
// tests that use them run where redis-server does, on Unix.
func (r *redisServer) pause() error  { return errors.New("pausing a process needs a Unix system") }
func (r *redisServer) resume() error { return errors.New("resuming a process needs a Unix system") }
