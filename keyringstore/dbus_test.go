//go:build linux || freebsd || openbsd || netbsd || dragonfly

package keyringstore

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/stretchr/testify/require"
)

// Helpers that drive the test Secret Service directly over D-Bus.

// defaultCollection returns the path of the default collection.
func defaultCollection(ctx context.Context, t testing.TB, conn *dbus.Conn) dbus.ObjectPath {
	t.Helper()
	var coll dbus.ObjectPath
	require.NoError(t, conn.Object(ssName, ssPath).CallWithContext(ctx, ssService+".ReadAlias", 0, "default").Store(&coll), "ReadAlias")
	return coll
}

// lockKeyring locks the default collection until the test ends, when it
// unlocks it again with the test keyring's password.
func lockKeyring(t *testing.T) {
	t.Helper()
	require.NoError(t, withBus(t.Context(), func(conn *dbus.Conn) error {
		var locked []dbus.ObjectPath
		var prompt dbus.ObjectPath
		return conn.Object(ssName, ssPath).CallWithContext(t.Context(), ssService+".Lock", 0, []dbus.ObjectPath{defaultCollection(t.Context(), t, conn)}).Store(&locked, &prompt)
	}), "lock the keyring")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, withBus(ctx, func(conn *dbus.Conn) error {
			var ignored dbus.Variant
			var session dbus.ObjectPath
			svc := conn.Object(ssName, ssPath)
			if err := svc.CallWithContext(ctx, ssService+".OpenSession", 0, "plain", dbus.MakeVariant("")).Store(&ignored, &session); err != nil {
				return err
			}
			master := ssSecret{Session: session, Parameters: []byte{}, Value: []byte(testKeyringPassword), ContentType: "text/plain"}
			return svc.CallWithContext(ctx, "org.gnome.keyring.InternalUnsupportedGuiltRiddenInterface.UnlockWithMasterPassword", 0, defaultCollection(ctx, t, conn), master).Store()
		}), "unlock the keyring")
		require.NoError(t, defaultCollectionReady(ctx), "the keyring is unlocked again")
	})
}

// serviceItems returns the number of items of service in the default
// collection.
func serviceItems(t testing.TB, service string) int {
	t.Helper()
	var items []dbus.ObjectPath
	require.NoError(t, withBus(t.Context(), func(conn *dbus.Conn) error {
		return conn.Object(ssName, defaultCollection(t.Context(), t, conn)).CallWithContext(t.Context(), ssCollection+".SearchItems", 0, map[string]string{attrService: service}).Store(&items)
	}), "SearchItems")
	return len(items)
}

// putEntry writes value to user's entry of service, as another program
// could.
func putEntry(t testing.TB, service, user, value string) {
	t.Helper()
	sess, err := secretService{service: service}.open(t.Context())
	require.NoError(t, err, "open the Secret Service")
	defer sess.close()
	require.NoError(t, sess.set(t.Context(), user, "test entry", value), "write the entry")
}

// startBareBus starts a D-Bus session bus on which nothing provides the
// Secret Service, and returns its address.
func startBareBus(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "keyringstore-bus-") // short: socket paths are limited
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	conf, err := writeBusConfig(dir)
	require.NoError(t, err)
	cmd := exec.Command("dbus-daemon", "--config-file="+conf, "--nofork", "--print-address=1")
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start(), "start dbus-daemon")
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err, "dbus-daemon prints its address")
	return strings.TrimSpace(line)
}

// useMemoryCollection makes gnome-keyring's in-memory "session" collection
// the default until the test ends, so that writes do not rewrite the login
// keyring's file each time.
func useMemoryCollection(t *testing.T) {
	t.Helper()
	setAlias := func(ctx context.Context, coll dbus.ObjectPath) error {
		return withBus(ctx, func(conn *dbus.Conn) error {
			return conn.Object(ssName, ssPath).CallWithContext(ctx, ssService+".SetAlias", 0, "default", coll).Store()
		})
	}
	login := dbus.ObjectPath("")
	require.NoError(t, withBus(t.Context(), func(conn *dbus.Conn) error {
		login = defaultCollection(t.Context(), t, conn)
		return nil
	}))
	require.NoError(t, setAlias(t.Context(), "/org/freedesktop/secrets/collection/session"), "make the session collection the default")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, setAlias(ctx, login), "restore the default collection")
	})
}
