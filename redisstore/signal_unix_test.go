//go:build unix

package redisstore_test

import "syscall"

// pause stops the server's process without ending it, as a host that
// freezes (a VM migrating, a stopped container) does; resume lets it run on.
func (r *redisServer) pause() error  { return r.signal(syscall.SIGSTOP) }
func (r *redisServer) resume() error { return r.signal(syscall.SIGCONT) }
