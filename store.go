package authtransport

import (
	"context"
	"errors"
	"sync"
)

// ErrNoToken is returned by [Store.Load] when the store holds no token.
var ErrNoToken = errors.New("authtransport: no token in store")

// Store is where the current token lives. A [Transport] loads it on first
// use and whenever its own copy is stale or rejected, and saves every token
// a [Refresher] returns.
//
// Implementations must be safe for concurrent use.
type Store interface {
	// Load returns the stored token, or an error wrapping ErrNoToken when
	// there is none.
	Load(ctx context.Context) (*Token, error)
	// Save replaces the stored token.
	Save(ctx context.Context, tok *Token) error
}

// LockingStore is a [Store] shared between processes or machines that can
// hold the others off while one of them refreshes. A [Transport] refreshes
// under the lock: lock, reload, refresh only if the stored token is still the
// stale one, save, unlock. That is what keeps a rotating refresh token from
// being used twice.
type LockingStore interface {
	Store
	// Lock blocks until the caller holds the store's lock or ctx ends. The
	// lock must be released when the holder dies (for example a file lock
	// held by a process that exits). unlock releases it; it is called once.
	Lock(ctx context.Context) (unlock func(), err error)
}

// MemoryStore is a [LockingStore] that keeps the token in memory. Its zero
// value is an empty store ready to use. It is safe for concurrent use, and
// several [Transport] values may share one: its lock makes them refresh
// once between them.
type MemoryStore struct {
	mu  sync.Mutex // guards tok and sem
	tok *Token
	sem chan struct{} // the refresh lock, made on first use
}

// NewMemoryStore returns a MemoryStore holding tok, which may be nil.
func NewMemoryStore(tok *Token) *MemoryStore {
	return &MemoryStore{tok: tok}
}

// Load returns the token, or [ErrNoToken].
func (s *MemoryStore) Load(ctx context.Context) (*Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tok == nil {
		return nil, ErrNoToken
	}
	return s.tok, nil
}

// Save replaces the token; nil empties the store.
func (s *MemoryStore) Save(ctx context.Context, tok *Token) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tok = tok
	return nil
}

// Lock blocks until the caller holds the store's lock or ctx ends.
func (s *MemoryStore) Lock(ctx context.Context) (unlock func(), err error) {
	s.mu.Lock()
	if s.sem == nil {
		s.sem = make(chan struct{}, 1)
	}
	sem := s.sem
	s.mu.Unlock()
	select {
	case sem <- struct{}{}:
		if err := ctx.Err(); err != nil {
			// Both were ready and select chose the lock.
			<-sem
			return nil, err
		}
		return func() { <-sem }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
