package authtransport

import (
	"context"
	"errors"
	"sync"
)

// ErrNoToken is returned by [Store.Load] when the store holds no token.
var ErrNoToken = errors.New("authtransport: no token in store")

// Store is where the current token lives. A [Transport] loads it on first
// use and whenever its own copy is due, rejected or failed to refresh, and
// saves every token its [Refresher] returns.
//
// Implementations must be safe for concurrent use and must honour the
// context of every call: a call that blocks past its context's end holds up
// the refresh of every caller.
type Store interface {
	// Load returns the stored token. When there is none it returns an
	// error wrapping ErrNoToken; so does a store whose token cannot be
	// used and will be replaced by the next Save (a corrupt or
	// unreadable file, say): such an error says what is wrong, the
	// Transport treats the store as empty, and the error reaches the user
	// as the Err of the [*LoginRequiredError] when a login is needed. Any
	// other error is a failure of the store: the Transport retries after
	// a backoff and goes on serving a token it holds that is still valid.
	Load(ctx context.Context) (*Token, error)
	// Save replaces the stored token. Save with a nil token removes it,
	// after which Load returns ErrNoToken (a logout).
	Save(ctx context.Context, tok *Token) error
}

// LockingStore is a [Store] shared between processes or machines that can
// hold the others off while one of them refreshes. A [Transport] refreshes
// under the lock: lock, reload, refresh only if the stored token is still the
// one it wants to replace, save, unlock. That is what keeps a rotating
// refresh token from being used twice. It takes the lock only when a
// refresh may be needed: a valid stored token is loaded without it.
type LockingStore interface {
	Store
	// Lock blocks until the caller holds the store's lock or ctx ends. The
	// lock must be released when the holder dies (for example a file lock
	// held by a process that exits). unlock releases it; it is called once.
	Lock(ctx context.Context) (unlock func(), err error)
}

// LoginLocker is a [Store] that can hold other processes off while one of
// them logs the user in (see Transport.Login), with a lock of its own: a
// login takes minutes, while the store's refresh lock must stay free for
// refreshes. A [Transport] whose Store is a LoginLocker takes this lock,
// rereads the store (another process may have logged in meanwhile), and
// only then logs in; the others wait for the lock and find the new token.
type LoginLocker interface {
	// LockLogin blocks until the caller holds the store's login lock or
	// ctx ends. Like LockingStore.Lock, the lock must be released when
	// the holder dies; unlock releases it and is called once.
	LockLogin(ctx context.Context) (unlock func(), err error)
}

// MemoryStore is a [LockingStore] that keeps the token in memory. Its zero
// value is an empty store ready to use. It is safe for concurrent use, and
// several [Transport] values may share one: its lock makes them refresh
// once between them.
type MemoryStore struct {
	mu   sync.Mutex // guards the fields below
	tok  *Token
	held bool          // the lock is held
	wake chan struct{} // closed when the lock is released; made only while someone waits
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

// Lock blocks until the caller holds the store's lock or ctx ends. Calling
// unlock more than once is harmless.
func (s *MemoryStore) Lock(ctx context.Context) (unlock func(), err error) {
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		s.mu.Lock()
		if !s.held {
			s.held = true
			s.mu.Unlock()
			var once sync.Once
			return func() { once.Do(s.release) }, nil
		}
		if s.wake == nil {
			s.wake = make(chan struct{})
		}
		wake := s.wake
		s.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// release frees the lock and wakes its waiters, who race for it again.
func (s *MemoryStore) release() {
	s.mu.Lock()
	s.held = false
	if s.wake != nil {
		close(s.wake)
		s.wake = nil
	}
	s.mu.Unlock()
}
