//go:build linux || freebsd || openbsd || netbsd || dragonfly

package keyringstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
	"go.uber.org/goleak"
)

// The tests run against a real Secret Service: gnome-keyring-daemon on a
// private D-Bus session bus, with a keyring of its own in a temporary
// directory, unlocked with a known password. TestMain sets that up itself,
// so that plain `go test` works on a machine with the Debian packages
// dbus-daemon and gnome-keyring: the test binary re-executes itself under
// dbus-run-session, and the re-executed binary starts the daemon.
const (
	// envSession says how far the setup is: "" in the process go test
	// started, "bus" inside dbus-run-session, "ready" once the keyring
	// runs (child processes of the tests inherit it).
	envSession = "KEYRINGSTORE_TEST_SESSION"
	// envNoKeyring says why the tests have no Secret Service, if they
	// have none.
	envNoKeyring = "KEYRINGSTORE_TEST_NO_KEYRING"
	// testKeyringPassword unlocks the test keyring.
	testKeyringPassword = "keyringstore-test-password"
	// keyringStartTimeout bounds the wait for the daemon to serve.
	keyringStartTimeout = 20 * time.Second
)

// runTests runs the tests, against the Secret Service it sets up, and
// fails them if any leaves a goroutine behind.
func runTests(m *testing.M) {
	switch os.Getenv(envSession) {
	case "":
		bin, missing := sessionPrograms()
		if len(missing) > 0 {
			noKeyring(m, "missing "+strings.Join(missing, ", ")+" (Debian packages dbus-daemon and gnome-keyring; bash scripts/test.sh installs them when run as root)")
			return
		}
		os.Exit(runInSession(bin))
	case "bus":
		stop, err := startKeyring()
		if err != nil {
			noKeyring(m, "gnome-keyring-daemon did not start: "+err.Error())
			return
		}
		// IgnoreCurrent: the goroutine that waits for the daemon ends
		// in the cleanup, after the check.
		goleak.VerifyTestMain(m, goleak.IgnoreCurrent(), goleak.Cleanup(func(code int) {
			stop(code)
			os.Exit(code)
		}))
	default:
		goleak.VerifyTestMain(m)
	}
}

// sessionPrograms returns the path of dbus-run-session, and the programs
// of the test session that are missing.
func sessionPrograms() (dbusRunSession string, missing []string) {
	for _, p := range []string{"dbus-run-session", "dbus-daemon", "gnome-keyring-daemon"} {
		path, err := exec.LookPath(p)
		if err != nil {
			missing = append(missing, p)
		}
		if p == "dbus-run-session" {
			dbusRunSession = path
		}
	}
	return dbusRunSession, missing
}

// runInSession runs the test binary again, with the same arguments, under
// dbusRunSession on a bus of its own, and returns its exit code.
func runInSession(dbusRunSession string) int {
	dir, err := os.MkdirTemp("", "keyringstore-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "keyringstore tests:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	conf, err := writeBusConfig(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "keyringstore tests:", err)
		return 1
	}
	for _, d := range []string{"data", "config", "run"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o700); err != nil {
			fmt.Fprintln(os.Stderr, "keyringstore tests:", err)
			return 1
		}
	}
	cmd := exec.Command(dbusRunSession, append([]string{"--config-file=" + conf, "--", os.Args[0]}, os.Args[1:]...)...)
	cmd.Env = append(os.Environ(),
		envSession+"=bus",
		// The daemon keeps its keyrings and sockets there, and the
		// tests' default lock paths land there: nothing of the
		// user's is touched.
		"XDG_DATA_HOME="+filepath.Join(dir, "data"),
		"XDG_CONFIG_HOME="+filepath.Join(dir, "config"),
		"XDG_RUNTIME_DIR="+filepath.Join(dir, "run"),
	)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err = cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		return exit.ExitCode()
	case err != nil:
		fmt.Fprintln(os.Stderr, "keyringstore tests: dbus-run-session:", err)
		return 1
	}
	return 0
}

// noKeyring runs the tests without a Secret Service: those that need one
// skip, or fail when CI is set, and so does the whole run.
func noKeyring(m *testing.M, why string) {
	if os.Getenv("CI") != "" {
		fmt.Fprintln(os.Stderr, "keyringstore tests: no Secret Service, which CI requires:", why)
		os.Exit(1)
	}
	fmt.Fprintln(os.Stderr, "keyringstore tests: no Secret Service, tests that need one skip:", why)
	os.Setenv(envNoKeyring, why)
	goleak.VerifyTestMain(m)
}

// writeBusConfig writes the configuration of a session bus that only
// listens in dir and starts no services on demand: the tests start the
// Secret Service themselves, and a bus without it stays without it.
func writeBusConfig(dir string) (string, error) {
	conf := filepath.Join(dir, "bus.conf")
	content := `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir=` + dir + `</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`
	return conf, os.WriteFile(conf, []byte(content), 0o600)
}

// startKeyring starts gnome-keyring-daemon with only its Secret Service,
// unlocking (and creating) the login keyring with testKeyringPassword, and
// waits until it serves the default collection.
func startKeyring() (stop func(code int), err error) {
	control := filepath.Join(os.Getenv("XDG_RUNTIME_DIR"), "keyring")
	cmd := exec.Command("gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets", "--control-directory="+control)
	cmd.Stdin = strings.NewReader(testKeyringPassword)
	var log strings.Builder
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	stop = func(code int) {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if code != 0 {
			fmt.Fprintf(os.Stderr, "keyringstore tests: gnome-keyring-daemon's log:\n%s\n", lastLines(log.String(), 30))
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), keyringStartTimeout)
	defer cancel()
	for {
		err := defaultCollectionReady(ctx)
		if err == nil {
			break
		}
		select {
		case <-exited:
			return nil, fmt.Errorf("exited: %s", strings.TrimSpace(log.String()))
		case <-ctx.Done():
			stop(1)
			return nil, fmt.Errorf("not serving after %v: %w", keyringStartTimeout, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	os.Setenv(envSession, "ready")
	return stop, nil
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// defaultCollectionReady returns nil once the Secret Service serves an
// unlocked default collection.
func defaultCollectionReady(ctx context.Context) error {
	return withBus(ctx, func(conn *dbus.Conn) error {
		var coll dbus.ObjectPath
		if err := conn.Object(ssName, ssPath).CallWithContext(ctx, ssService+".ReadAlias", 0, "default").Store(&coll); err != nil {
			return err
		}
		if coll == noObject {
			return errors.New("no default collection yet")
		}
		var locked dbus.Variant
		if err := conn.Object(ssName, coll).CallWithContext(ctx, "org.freedesktop.DBus.Properties.Get", 0, ssCollection, "Locked").Store(&locked); err != nil {
			return err
		}
		if l, _ := locked.Value().(bool); l {
			return errors.New("default collection locked")
		}
		return nil
	})
}

// withBus runs f on a private connection to the session bus.
func withBus(ctx context.Context, f func(*dbus.Conn) error) error {
	conn, err := dbus.ConnectSessionBus(dbus.WithContext(ctx))
	if err != nil {
		return err
	}
	defer conn.Close()
	return f(conn)
}

// requireKeyring skips t, or fails it when CI is set, unless the tests run
// against their Secret Service.
func requireKeyring(tb testing.TB) {
	tb.Helper()
	if os.Getenv(envSession) == "ready" {
		return
	}
	why := os.Getenv(envNoKeyring)
	if os.Getenv("CI") != "" {
		tb.Fatalf("needs the test Secret Service, which CI requires: %s", why)
	}
	tb.Skipf("needs the test Secret Service: %s", why)
}
