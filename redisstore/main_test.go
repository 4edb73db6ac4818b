package redisstore_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
)

// shared is the redis-server that TestMain starts for the package's tests;
// nil when it could not be started outside CI (sharedErr says why). The
// child processes of the cross-process tests connect to their parent's.
var (
	shared    *redisServer
	sharedErr error
)

// TestMain starts a redis-server on a free loopback port for the tests,
// stops it at the end, and fails the tests if any of them leaves a
// goroutine behind. With CI set, a redis-server that is missing or does not
// start fails the run; otherwise the tests that need it skip.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(withRedis{m})
}

// withRedis runs the tests between starting and stopping the shared server.
type withRedis struct{ m *testing.M }

func (w withRedis) Run() int {
	// go-redis logs every failed dial; the tests make Redis fail on purpose.
	redis.SetLogger(quietLogger{})
	if os.Getenv(envChild) != "" {
		return w.m.Run()
	}
	dir, err := os.MkdirTemp("", "redisstore-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "redisstore tests:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	shared, sharedErr = startRedis(dir)
	if sharedErr != nil {
		if os.Getenv("CI") != "" {
			fmt.Fprintln(os.Stderr, "redisstore tests: CI is set and redis-server cannot be started:", sharedErr)
			return 1
		}
		fmt.Fprintln(os.Stderr, "redisstore tests: tests that need Redis skip:", sharedErr)
	}
	code := w.m.Run()
	if shared != nil {
		if err := shared.stop(); err != nil {
			fmt.Fprintln(os.Stderr, "redisstore tests: stop redis-server:", err)
		}
	}
	return code
}

// quietLogger drops go-redis's log lines.
type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}
