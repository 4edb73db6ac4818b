package redisstore_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// redisServer is a redis-server process of the tests' own, on a free
// loopback port, without persistence unless a test asks for a dump file.
type redisServer struct {
	Addr string
	dir  string   // working directory: the dump file of a persistent server
	args []string // extra arguments

	mu     sync.Mutex // guards cmd and exited
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has exited
}

// startRedis starts a redis-server in dir with the extra arguments. It
// returns an error when redis-server is not installed or does not answer.
func startRedis(dir string, args ...string) (*redisServer, error) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		return nil, fmt.Errorf("redis-server not found (Debian package redis-server): %w", err)
	}
	var lastErr error
	for range 5 { // another program may take the free port first
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		r := &redisServer{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), dir: dir, args: args}
		if lastErr = r.start(); lastErr == nil {
			return r, nil
		}
	}
	return nil, lastErr
}

// freePort returns a loopback port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// start runs the server on its address and waits until it answers PING.
func (r *redisServer) start() error {
	_, port, _ := net.SplitHostPort(r.Addr)
	args := append([]string{
		"--port", port, "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no",
		"--dir", r.dir, "--logfile", "",
	}, r.args...)
	cmd := exec.Command("redis-server", args...)
	out := new(bytes.Buffer)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if ping(r.Addr) == nil {
			r.mu.Lock()
			r.cmd, r.exited = cmd, exited
			r.mu.Unlock()
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("redis-server exited at start: %s", lastLines(out.String()))
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-exited
			return fmt.Errorf("redis-server did not answer within 10 s: %s", lastLines(out.String()))
		}
	}
}

// ping sends PING over a connection of its own and expects PONG.
func ping(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return errors.New("unexpected answer to PING")
	}
	return nil
}

// command sends one inline command over a connection of its own and
// returns the answer: a status or error line, or a bulk string's content.
func (r *redisServer) command(cmd string) (string, error) {
	conn, err := net.DialTimeout("tcp", r.Addr, time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write([]byte(cmd + "\r\n")); err != nil {
		return "", err
	}
	rd := bufio.NewReader(conn)
	line, err := rd.ReadString('\n')
	line = strings.TrimSpace(line)
	if err != nil || !strings.HasPrefix(line, "$") {
		return line, err
	}
	n, err := strconv.Atoi(line[1:])
	if err != nil || n < 0 {
		return "", err
	}
	body := make([]byte, n)
	_, err = io.ReadFull(rd, body)
	return string(body), err
}

// signal sends sig to the server process.
func (r *redisServer) signal(sig syscall.Signal) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		return errors.New("redis-server is not running")
	}
	return r.cmd.Process.Signal(sig)
}

// shutdownSave stops the server after it wrote its data to the dump file,
// as a managed Redis with persistence does on a restart.
func (r *redisServer) shutdownSave() error {
	_, _ = r.command("SHUTDOWN SAVE") // the connection closes without an answer
	return r.waitExit()
}

// stop ends the server without saving.
func (r *redisServer) stop() error {
	_ = r.resume() // a paused server cannot exit
	if err := r.signal(syscall.SIGTERM); err != nil {
		return err
	}
	return r.waitExit()
}

// waitExit waits until the process has exited, killing it after 10 s.
func (r *redisServer) waitExit() error {
	r.mu.Lock()
	cmd, exited := r.cmd, r.exited
	r.cmd = nil
	r.mu.Unlock()
	if cmd == nil {
		return nil
	}
	select {
	case <-exited:
		return nil
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
		return errors.New("redis-server did not exit within 10 s")
	}
}

// lastLines returns the end of a server log.
func lastLines(log string) string {
	lines := strings.Split(strings.TrimSpace(log), "\n")
	if len(lines) > 5 {
		lines = lines[len(lines)-5:]
	}
	return strings.Join(lines, " | ")
}
