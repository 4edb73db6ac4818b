package redisstore_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The cross-process tests re-run the test binary as child processes: each
// child runs the test that started it, which finds envChild set and plays
// its part, talking to its parent through stdin and stdout lines.

// Environment of a child process.
const (
	envRedis  = "REDISSTORE_TEST_REDIS"  // the Redis address
	envURL    = "REDISSTORE_TEST_URL"    // the authtest server's URL
	envSecret = "REDISSTORE_TEST_SECRET" // its client secret
	envKey    = "REDISSTORE_TEST_KEY"    // the Store key
	envParams = "REDISSTORE_TEST_PARAMS" // the part's parameters, as JSON
)

// child is a running child process.
type child struct {
	t     *testing.T
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string // its stdout, line by line; closed at its end
}

// startChild starts the test binary running test as a child playing part,
// with the common environment and params, and waits for its READY line.
func startChild(t *testing.T, test, part, redisAddr, url, secret, key string, params any) *child {
	t.Helper()
	data, err := json.Marshal(params)
	require.NoError(t, err)
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.count=1")
	cmd.Env = append(os.Environ(),
		envChild+"="+part, envRedis+"="+redisAddr, envURL+"="+url,
		envSecret+"="+secret, envKey+"="+key, envParams+"="+string(data))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start(), "starting a child process")
	c := &child{t: t, cmd: cmd, stdin: stdin, lines: make(chan string, 64)}
	go func() {
		defer close(c.lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		if c.cmd.ProcessState == nil {
			_ = c.cmd.Process.Kill()
			c.drain()
			_ = c.cmd.Wait()
		}
	})
	c.expect("READY", 30*time.Second)
	return c
}

// send writes a line to the child's stdin.
func (c *child) send(line string) {
	c.t.Helper()
	_, err := fmt.Fprintln(c.stdin, line)
	require.NoError(c.t, err, "writing to a child")
}

// expect reads lines until one starts with prefix, and returns the rest.
func (c *child) expect(prefix string, within time.Duration) string {
	c.t.Helper()
	timeout := time.After(within)
	for {
		select {
		case line, ok := <-c.lines:
			require.True(c.t, ok, "the child ended before printing %q", prefix)
			if rest, found := strings.CutPrefix(line, prefix); found {
				return strings.TrimSpace(rest)
			}
		case <-timeout:
			require.FailNow(c.t, "no line "+prefix+" from the child within "+within.String())
		}
	}
}

// seen reports whether a line starting with prefix arrives within d; the
// lines read meanwhile are dropped.
func (c *child) seen(prefix string, d time.Duration) bool {
	timeout := time.After(d)
	for {
		select {
		case line, ok := <-c.lines:
			if !ok {
				return false
			}
			if strings.HasPrefix(line, prefix) {
				return true
			}
		case <-timeout:
			return false
		}
	}
}

// result reads the child's RESULT line into v.
func (c *child) result(v any, within time.Duration) {
	c.t.Helper()
	require.NoError(c.t, json.Unmarshal([]byte(c.expect("RESULT", within)), v), "decoding a child's result")
}

// wait waits for the child to exit, and fails the test unless it exits
// cleanly.
func (c *child) wait() {
	c.t.Helper()
	c.drain()
	require.NoError(c.t, c.cmd.Wait(), "the child exits cleanly")
}

// kill kills the child with SIGKILL and waits for it to end.
func (c *child) kill() {
	c.t.Helper()
	require.NoError(c.t, c.cmd.Process.Kill(), "killing a child")
	c.drain()
	_ = c.cmd.Wait()
}

// drain reads the child's output to its end.
func (c *child) drain() {
	for range c.lines {
	}
}

// childEnv returns the common environment of a child and decodes its
// parameters into params.
func childEnv(t *testing.T, params any) (redisAddr, url, secret, key string) {
	t.Helper()
	require.NoError(t, json.Unmarshal([]byte(os.Getenv(envParams)), params), "decoding the parameters")
	return os.Getenv(envRedis), os.Getenv(envURL), os.Getenv(envSecret), os.Getenv(envKey)
}

// waitForLine blocks until the parent writes want on stdin.
func waitForLine(t *testing.T, in *bufio.Scanner, want string) {
	t.Helper()
	for in.Scan() {
		if in.Text() == want {
			return
		}
	}
	require.FailNow(t, "stdin closed before "+want)
}
