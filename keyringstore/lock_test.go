package keyringstore

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLockExcludesOthers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing", "dir", "keyring.lock")
	a, err := New(Config{Service: "s", Account: "a", LockPath: path})
	require.NoError(t, err)
	b, err := New(Config{Service: "s", Account: "a", LockPath: path})
	require.NoError(t, err)

	unlock, err := a.Lock(t.Context())
	require.NoError(t, err, "the first lock")
	if runtime.GOOS != "windows" {
		fi, err := os.Stat(filepath.Dir(path))
		require.NoError(t, err, "Lock creates the directory")
		assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm(), "the directory's mode")
	}
	for _, s := range []*Store{a, b} {
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		_, err := s.Lock(ctx)
		cancel()
		assert.ErrorIs(t, err, context.DeadlineExceeded, "a second lock waits, of the same Store or another one on the file")
	}
	unlock()
	unlock() // harmless
	unlock2, err := b.Lock(t.Context())
	require.NoError(t, err, "the lock after it was released")
	unlock2()
}

func TestDefaultLockPath(t *testing.T) {
	dir, err := os.UserConfigDir()
	if err != nil {
		t.Skipf("no user configuration directory: %v", err)
	}
	s, err := New(Config{Service: "my/cli", Account: "alice@example.com"})
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(dir, "my_cli", "keyring-alice@example.com.lock"), s.lock.path, "the default lock path")
}

func TestFileName(t *testing.T) {
	tests := []struct{ in, want string }{
		{in: "mycli", want: "mycli"},
		{in: "com.example.my-cli_2", want: "com.example.my-cli_2"},
		{in: "alice+work@example.com", want: "alice+work@example.com"},
		{in: "../../etc/passwd", want: ".._.._etc_passwd"},
		{in: `C:\x y`, want: "C__x_y"},
		{in: "é", want: "_"},
		{in: "", want: "_"},
		{in: ".", want: "_."},
		{in: "..", want: "_.."},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, fileName(tt.in), "file name for %q", tt.in)
	}
}

// settlingKeychain is a keychain with a write still running in the
// background until release is closed, as a go-keyring call the Store
// stopped waiting for.
type settlingKeychain struct {
	*fakeKeychain
	release chan struct{}
}

func (k settlingKeychain) settle() { <-k.release }

// On macOS and Windows a keychain write the Store stopped waiting for may
// still land: the lock stays held until it has, so that it cannot
// overwrite the token of the next holder.
func TestLockIsReleasedOnceAbandonedWritesEnd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		kc := settlingKeychain{newFakeKeychain("mycli", secretServiceEntryLimit), make(chan struct{})}
		s := kc.store(t, Config{})
		s.kc = kc
		unlock, err := s.Lock(t.Context())
		require.NoError(t, err)
		unlock()
		unlock() // harmless
		next := make(chan struct{})
		go func() {
			defer close(next)
			u, err := s.Lock(t.Context())
			assert.NoError(t, err)
			u()
		}()
		synctest.Wait()
		select {
		case <-next:
			t.Fatal("the lock was released while a write still ran")
		default:
		}
		close(kc.release)
		<-next
	})
}
