package keyringstore

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// fakeKeychain is a keychain in memory that enforces an entry size limit,
// as go-keyring does, and fails or runs a hook where a test asks it to.
type fakeKeychain struct {
	service string
	limit   limitFunc

	mu      sync.Mutex // guards the fields below
	entries map[string]string
	fail    map[string]error // op ("open", "get", "set", "remove") -> its error
	gets    map[string]int   // get calls by user
	// beforeGet, if not nil, runs before each get, without mu held.
	beforeGet func(user string)
	// failSet, if not nil, says whether the set of user fails.
	failSet func(user string) error
	// lockPath is the lock file of the Stores on this keychain.
	lockPath string
}

func newFakeKeychain(service string, limit limitFunc) *fakeKeychain {
	return &fakeKeychain{service: service, limit: limit, entries: map[string]string{}, fail: map[string]error{}, gets: map[string]int{}}
}

// store returns a Store on k, with cfg's other settings.
func (k *fakeKeychain) store(t testing.TB, cfg Config) *Store {
	t.Helper()
	if cfg.Service == "" {
		cfg.Service = k.service
	}
	if cfg.Account == "" {
		cfg.Account = "alice@example.com"
	}
	if cfg.LockPath == "" {
		k.mu.Lock()
		if k.lockPath == "" { // one lock for every Store of this keychain
			k.lockPath = filepath.Join(t.TempDir(), "keyring.lock")
		}
		cfg.LockPath = k.lockPath
		k.mu.Unlock()
	}
	s, err := New(cfg)
	require.NoError(t, err)
	s.kc, s.limit = k, k.limit
	return s
}

func (k *fakeKeychain) failWith(op string, err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.fail[op] = err
}

func (k *fakeKeychain) users() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Sorted(maps.Keys(k.entries))
}

func (k *fakeKeychain) value(user string) (string, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	v, ok := k.entries[user]
	return v, ok
}

func (k *fakeKeychain) put(user, value string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.entries[user] = value
}

func (k *fakeKeychain) drop(user string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.entries, user)
}

func (k *fakeKeychain) getCount(user string) int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.gets[user]
}

func (k *fakeKeychain) failure(op string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.fail[op]
}

func (k *fakeKeychain) open(ctx context.Context) (keychainSession, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := k.failure("open"); err != nil {
		return nil, err
	}
	return fakeSession{k}, nil
}

type fakeSession struct{ k *fakeKeychain }

func (s fakeSession) get(ctx context.Context, user string) (string, error) {
	if hook := s.k.beforeGet; hook != nil {
		hook(user)
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if err := s.k.failure("get"); err != nil {
		return "", err
	}
	s.k.mu.Lock()
	defer s.k.mu.Unlock()
	s.k.gets[user]++
	v, ok := s.k.entries[user]
	if !ok {
		return "", errNotFound
	}
	return v, nil
}

func (s fakeSession) set(ctx context.Context, user, label, value string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.k.failure("set"); err != nil {
		return err
	}
	if s.k.failSet != nil {
		if err := s.k.failSet(user); err != nil {
			return err
		}
	}
	if n := s.k.limit(s.k.service, user); len(value) > n {
		return fmt.Errorf("fake keychain: %d bytes for %q, the limit is %d", len(value), user, n)
	}
	if label == "" {
		return errors.New("fake keychain: empty label")
	}
	s.k.mu.Lock()
	defer s.k.mu.Unlock()
	s.k.entries[user] = value
	return nil
}

func (s fakeSession) remove(ctx context.Context, user string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.k.failure("remove"); err != nil {
		return err
	}
	s.k.mu.Lock()
	defer s.k.mu.Unlock()
	delete(s.k.entries, user)
	return nil
}

func (fakeSession) close() {}
