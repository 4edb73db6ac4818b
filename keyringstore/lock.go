package keyringstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/gofrs/flock"
)

// lockRetryDelay is how often Lock polls the lock file while another
// process holds it.
const lockRetryDelay = 5 * time.Millisecond

// fileLock is an exclusive lock on a file, held across processes (flock(2)
// on Unix, LockFileEx on Windows) and released by the operating system when
// the holder dies.
type fileLock struct {
	path string
	fl   *flock.Flock
	// sem is a semaphore of one, held by the goroutine that holds or waits
	// for fl: a flock.Flock reports success to a second TryLock of the
	// same process, so it does not exclude goroutines by itself.
	sem chan struct{}
}

func newFileLock(path string) *fileLock {
	return &fileLock{
		path: path,
		fl:   flock.New(path, flock.SetPermissions(0o600)),
		sem:  make(chan struct{}, 1),
	}
}

// lock blocks until the caller holds the lock or ctx ends. It creates the
// lock file's directory (mode 0700) when it is missing.
func (l *fileLock) lock(ctx context.Context) (unlock func(), err error) {
	select {
	case l.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("keyringstore: waiting for lock file %s: %w", l.path, ctx.Err())
	}
	if err := os.MkdirAll(filepath.Dir(l.path), 0o700); err != nil {
		<-l.sem
		return nil, fmt.Errorf("keyringstore: lock file directory: %w", err)
	}
	ok, err := l.fl.TryLockContext(ctx, lockRetryDelay)
	if !ok || err != nil {
		<-l.sem
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, fmt.Errorf("keyringstore: waiting for lock file %s: %w", l.path, ctxErr)
		}
		if err == nil {
			err = errors.New("lock not acquired")
		}
		return nil, fmt.Errorf("keyringstore: lock file %s: %w", l.path, err)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			// An error here leaves nothing to do: the lock dies with
			// the process at the latest.
			_ = l.fl.Unlock()
			<-l.sem
		})
	}, nil
}

// defaultLockPath returns <config dir>/<service>/keyring-<account>.lock,
// with characters that do not belong in a file name replaced.
func defaultLockPath(service, account string) (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, fileName(service), "keyring-"+fileName(account)+".lock"), nil
}

// fileName returns s with every character other than ASCII letters,
// digits and ".-_@+" replaced by "_", and with "_" in front of a name that
// would be "" or only dots.
func fileName(s string) string {
	name := strings.Map(func(r rune) rune {
		switch {
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9', strings.ContainsRune(".-_@+", r):
			return r
		}
		return '_'
	}, s)
	if name == "" || strings.Trim(name, ".") == "" {
		return "_" + name
	}
	return name
}
