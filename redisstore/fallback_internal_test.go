package redisstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
)

// serverError is an error reply of a Redis server, as go-redis reports it.
type serverError string

func (e serverError) Error() string { return string(e) }
func (serverError) RedisError()     {}

func TestUnreachable(t *testing.T) {
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	tests := []struct {
		name string
		ctx  context.Context
		err  error
		want bool
	}{
		{name: "connection refused", err: refused, want: true},
		{name: "a dial timeout", err: fmt.Errorf("dial: %w", context.DeadlineExceeded), want: true},
		{name: "connection closed", err: io.EOF, want: true},
		{name: "connection cut", err: io.ErrUnexpectedEOF, want: true},
		{name: "pool timeout", err: redis.ErrPoolTimeout, want: true},
		{name: "loading", err: serverError("LOADING Redis is loading the dataset in memory"), want: true},
		{name: "no master", err: serverError("MASTERDOWN Link with MASTER is down"), want: true},
		{name: "cluster down", err: serverError("CLUSTERDOWN The cluster is down"), want: true},
		{name: "try again", err: serverError("TRYAGAIN Multiple keys request during rehashing"), want: true},
		{name: "wrong type", err: serverError("WRONGTYPE Operation against a key holding the wrong kind of value"), want: false},
		{name: "not allowed", err: serverError("NOPERM this user has no permissions"), want: false},
		{name: "client closed", err: redis.ErrClosed, want: false},
		{name: "another error", err: errors.New("something else"), want: false},
		{name: "the caller's context ended", ctx: ended, err: refused, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := tt.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			assert.Equal(t, tt.want, unreachable(ctx, tt.err), "unreachable(%v)", tt.err)
		})
	}
}
