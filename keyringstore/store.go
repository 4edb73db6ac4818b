package keyringstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/d5c4ca72/authtransport"
)

// maxReads bounds how many times Load reads the head entry while writers
// keep replacing the token under it.
const maxReads = 10

// Config says where a [Store] keeps its token and what it does when the
// keychain is unavailable. Service and Account are required; the other
// fields have defaults.
type Config struct {
	// Service names the application, as keychain browsers show it (for
	// example "mycli" or "com.example.mycli"): it is the service name of
	// the keychain entries. It must not be empty.
	Service string

	// Account names whose token it is: a user name, an e-mail address, or
	// a profile of the application. It is the account (user) name of the
	// keychain entries. It must not be empty.
	Account string

	// LockPath is the file that [Store.Lock] locks. Every process using
	// the same token must use the same file. If empty, it is
	// keyring-<Account>.lock in the directory <Service> under
	// [os.UserConfigDir] (characters that do not belong in a file name
	// replaced by "_"), for example
	// ~/.config/mycli/keyring-alice@example.com.lock on Linux.
	LockPath string

	// Fallback, if not nil, keeps the token when the keychain is
	// unavailable: when an operation fails with a [*NoKeyringError] or a
	// [*LockedError], the Store reports it to OnFallback and Logger and
	// runs the operation on Fallback instead, every time. Typically it is
	// a *filestore.Store beside the user's configuration.
	//
	// Fallback holds a token only while it is newer than the keychain's,
	// so that a refresh token rotated while the keychain was locked is
	// never traded for the spent one the keychain still holds: each
	// operation tries the keychain first; a Save that reaches it empties
	// Fallback; a Load that reaches it reads Fallback too and returns
	// Fallback's token when the keychain has none, or when it was
	// obtained later (or either token's ObtainedAt is unknown). Save(ctx,
	// nil) empties both; when the keychain is locked it empties Fallback
	// and returns the [*LockedError], since the keychain may still hold
	// a token the logout did not remove (unlock it and log out again).
	// With no keychain at all ([*NoKeyringError]) emptying Fallback is
	// the whole logout. If nil (the default), there is no fallback: the
	// operations return the keychain's error.
	Fallback authtransport.Store

	// OnFallback, if not nil, is called with the keychain's error every
	// time an operation uses Fallback, before it does. It must be safe for
	// concurrent use. A Store with a Fallback needs OnFallback or Logger
	// (or both): a fallback is never silent.
	OnFallback func(err error)

	// Logger, if not nil, receives a warning record every time an
	// operation uses Fallback. Records never contain a token.
	Logger *slog.Logger
}

// Store is a [authtransport.LockingStore] that keeps one token in the
// operating system's keychain: the Secret Service on Linux (GNOME Keyring,
// KWallet, KeePassXC), the keychain on macOS, the Credential Manager on
// Windows. Create one with [New]; the zero value is not usable. A Store is
// safe for concurrent use, and several processes may share one token: a
// [authtransport.Transport] refreshes under [Store.Lock], so that a rotating
// refresh token is used once.
//
// A token larger than one keychain entry holds is split over several, and
// readers never see a mix of two tokens: see the package documentation.
type Store struct {
	service, account string
	fallback         authtransport.Store
	onFallback       func(error)
	logger           *slog.Logger
	lock             *fileLock

	kc    keychain  // the platform's keychain
	limit limitFunc // the largest value of one entry
}

var _ authtransport.LockingStore = (*Store)(nil)

// New returns a Store for cfg. It fails when Service or Account is empty,
// when a Fallback is given without OnFallback or Logger, and when LockPath
// is empty and there is no user configuration directory. It does not
// contact the keychain: an unavailable keychain shows on first use.
func New(cfg Config) (*Store, error) {
	switch {
	case cfg.Service == "":
		return nil, errors.New("keyringstore: Config.Service is empty")
	case cfg.Account == "":
		return nil, errors.New("keyringstore: Config.Account is empty")
	case cfg.Fallback != nil && cfg.OnFallback == nil && cfg.Logger == nil:
		return nil, errors.New("keyringstore: a Config.Fallback needs Config.OnFallback or Config.Logger to report its use")
	}
	path := cfg.LockPath
	if path == "" {
		p, err := defaultLockPath(cfg.Service, cfg.Account)
		if err != nil {
			return nil, fmt.Errorf("keyringstore: no default lock path (set Config.LockPath): %w", err)
		}
		path = p
	}
	kc, limit := platformKeychain(cfg.Service)
	return &Store{
		service:    cfg.Service,
		account:    cfg.Account,
		fallback:   cfg.Fallback,
		onFallback: cfg.OnFallback,
		logger:     cfg.Logger,
		lock:       newFileLock(path),
		kc:         kc,
		limit:      limit,
	}, nil
}

// Load returns the token in the keychain. It returns an error wrapping
// [authtransport.ErrNoToken] when there is none, a [*CorruptError] (which
// wraps it too) when the entry does not hold a usable token, a
// [*NoKeyringError] or [*LockedError] when the keychain is unavailable and
// there is no Fallback, and another error for other failures of the
// keychain, which are worth retrying.
func (s *Store) Load(ctx context.Context) (*authtransport.Token, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	tok, err := s.load(ctx)
	if s.fallingBack(ctx, err) {
		return s.fallback.Load(ctx)
	}
	if s.fallback != nil && (err == nil || errors.Is(err, authtransport.ErrNoToken)) {
		if newer := s.newerInFallback(ctx, tok); newer != nil {
			return newer, nil
		}
	}
	return tok, err
}

// newerInFallback returns the Fallback's token when it is to be used
// rather than kc, the keychain's (nil when the keychain has none): see
// [Config.Fallback]. A Fallback that cannot be read is passed over, as
// when it is empty.
func (s *Store) newerInFallback(ctx context.Context, kc *authtransport.Token) *authtransport.Token {
	fb, err := s.fallback.Load(ctx)
	if err != nil || fb == nil {
		return nil
	}
	if kc != nil && !kc.ObtainedAt.IsZero() && !fb.ObtainedAt.IsZero() && !fb.ObtainedAt.After(kc.ObtainedAt) {
		return nil
	}
	return fb
}

// Save replaces the token in the keychain; readers see the old token or
// the new one, never a mix. Save(ctx, nil) removes it, and removes the
// token from the Fallback too, if there is one (a logout). Errors are as
// for Load.
//
// Save does not take the lock; a caller that reads, refreshes and saves
// holds it around all three.
func (s *Store) Save(ctx context.Context, tok *authtransport.Token) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if tok == nil {
		return s.remove(ctx)
	}
	err := s.save(ctx, tok)
	if s.fallingBack(ctx, err) {
		return s.fallback.Save(ctx, tok)
	}
	if err == nil && s.fallback != nil {
		// The keychain has the newest token now: a copy in Fallback
		// would be older from here on.
		if ferr := s.fallback.Save(ctx, nil); ferr != nil && s.logger != nil {
			s.logger.LogAttrs(ctx, slog.LevelWarn, "keyringstore: saved in the keyring, but could not empty the fallback store",
				slog.String("service", s.service), slog.String("account", s.account), slog.String("error", ferr.Error()))
		}
	}
	return err
}

// Lock blocks until the caller holds the store's lock or ctx ends. The
// lock is an exclusive lock on the file at Config.LockPath, held across
// processes and released by the operating system if the holder dies; it
// also excludes the goroutines of one process from each other. unlock
// releases it; calling it more than once is harmless. On macOS and
// Windows the release waits, in the background, until no keychain write
// that an operation stopped waiting for is still running, so that such a
// write cannot land after another holder saved a newer token. Lock does not
// contact the keychain, and it is the same lock whether or not the
// operations fall back.
func (s *Store) Lock(ctx context.Context) (unlock func(), err error) {
	release, err := s.lock.lock(ctx)
	st, ok := s.kc.(settler)
	if err != nil || !ok {
		return release, err
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			// A write the Store stopped waiting for may still land:
			// the lock is the holder's until it has.
			go func() {
				st.settle()
				release()
			}()
		})
	}, nil
}

// settler is a keychain whose writes may go on after the operation that
// made them returned: settle blocks until none runs.
type settler interface{ settle() }

func (s *Store) load(ctx context.Context) (*authtransport.Token, error) {
	const op = "load token"
	sess, err := s.kc.open(ctx)
	if err != nil {
		return nil, failure(op, err)
	}
	defer sess.close()
	last := ""
	for range maxReads {
		value, err := sess.get(ctx, s.account)
		if errors.Is(err, errNotFound) {
			return nil, fmt.Errorf("keyringstore: no token for %q of service %q in the keychain: %w", s.account, s.service, authtransport.ErrNoToken)
		}
		if err != nil {
			return nil, failure(op, err)
		}
		tok, reason, moved, err := s.read(ctx, sess, value)
		switch {
		case err != nil:
			return nil, failure(op, err)
		case reason == "":
			return tok, nil
		case !moved || value == last:
			// The entry itself is bad, or the head is the one read
			// before its parts were found wanting: they are broken,
			// not replaced.
			return nil, &CorruptError{Service: s.service, Account: s.account, Reason: reason}
		}
		last = value
	}
	return nil, fmt.Errorf("keyringstore: %s: the token was replaced %d times while it was being read", op, maxReads)
}

// read decodes the token of head entry value, reading its parts. The
// reason it returns says why there is no token; moved says that a writer
// may have replaced the token since value was read (a part is missing or
// the parts do not match the head), so that reading the head again may
// help.
func (s *Store) read(ctx context.Context, sess keychainSession, value string) (tok *authtransport.Token, reason string, moved bool, err error) {
	h, reason := parseHead(value)
	if reason != "" {
		return nil, reason, false, nil
	}
	payload := []byte(h.Token)
	if !h.inline() {
		parts := make([]string, h.Parts)
		for i := range parts {
			parts[i], err = sess.get(ctx, partUser(s.account, h.Generation, i))
			if errors.Is(err, errNotFound) {
				return nil, fmt.Sprintf("part %d of %d is missing", i+1, h.Parts), true, nil
			}
			if err != nil {
				return nil, "", false, err
			}
		}
		if payload, reason = join(h, parts); reason != "" {
			return nil, reason, true, nil
		}
	}
	tok, reason = decodeToken(payload)
	return tok, reason, false, nil
}

func (s *Store) save(ctx context.Context, tok *authtransport.Token) error {
	const op = "save token"
	payload, err := encodeToken(tok)
	if err != nil {
		return fmt.Errorf("keyringstore: %s: %w", op, err)
	}
	lay, err := split(s.service, s.account, payload, newGeneration(), s.limit)
	if err != nil {
		return fmt.Errorf("keyringstore: %s: %w", op, err)
	}
	sess, err := s.kc.open(ctx)
	if err != nil {
		return failure(op, err)
	}
	defer sess.close()
	old, err := s.currentParts(ctx, sess)
	if err != nil {
		return failure(op, err)
	}
	for i, p := range lay.parts {
		if err := sess.set(ctx, p.user, p.label, p.value); err != nil {
			// The head still names the old parts: the new ones are
			// nobody's.
			s.removeAll(ctx, sess, lay.parts[:i+1])
			return failure(op, err)
		}
	}
	// The switch: from here on readers find the new token. Should the
	// call fail after the keychain made it, the new parts are needed, so
	// they stay.
	if err := sess.set(ctx, lay.head.user, lay.head.label, lay.head.value); err != nil {
		return failure(op, err)
	}
	s.removeAll(ctx, sess, old)
	return nil
}

// remove deletes the token from the keychain and from the Fallback. When
// the keychain is locked it empties the Fallback all the same and returns
// the keychain's error: the keychain may still hold a token, which the
// logout did not remove.
func (s *Store) remove(ctx context.Context) error {
	err := s.removeKeychain(ctx)
	var locked *LockedError
	switch {
	case s.fallback == nil:
		return err
	case s.fallingBack(ctx, err):
		if ferr := s.fallback.Save(ctx, nil); ferr != nil || !errors.As(err, &locked) {
			return ferr
		}
		return err
	case err != nil:
		return err
	}
	// A token an earlier fallback saved must not outlive the logout.
	return s.fallback.Save(ctx, nil)
}

func (s *Store) removeKeychain(ctx context.Context) error {
	const op = "remove token"
	sess, err := s.kc.open(ctx)
	if err != nil {
		return failure(op, err)
	}
	defer sess.close()
	old, err := s.currentParts(ctx, sess)
	if err != nil {
		return failure(op, err)
	}
	// The head first: readers then find no token rather than a token
	// with parts missing.
	if err := sess.remove(ctx, s.account); err != nil {
		return failure(op, err)
	}
	s.removeAll(ctx, sess, old)
	return nil
}

// currentParts returns the part entries of the stored token, none when it
// is missing, fits in its head, or has a head that does not decode.
func (s *Store) currentParts(ctx context.Context, sess keychainSession) ([]entry, error) {
	value, err := sess.get(ctx, s.account)
	if errors.Is(err, errNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	h, reason := parseHead(value)
	if reason != "" || h.inline() {
		return nil, nil
	}
	parts := make([]entry, h.Parts)
	for i := range parts {
		parts[i] = entry{user: partUser(s.account, h.Generation, i)}
	}
	return parts, nil
}

// removeAll deletes entries that no head names any more. A failure leaves
// an entry behind that nothing reads; it does not fail the operation, which
// has done its work.
func (s *Store) removeAll(ctx context.Context, sess keychainSession, entries []entry) {
	for _, e := range entries {
		_ = sess.remove(ctx, e.user)
	}
}

// fallingBack reports whether the operation that failed with err goes to
// the Fallback, and reports the fallback when it does.
func (s *Store) fallingBack(ctx context.Context, err error) bool {
	if s.fallback == nil || err == nil || !unavailable(err) {
		return false
	}
	if s.onFallback != nil {
		s.onFallback(err)
	}
	if s.logger != nil {
		s.logger.LogAttrs(ctx, slog.LevelWarn, "keyringstore: keyring unavailable, using the fallback store",
			slog.String("service", s.service), slog.String("account", s.account), slog.String("error", err.Error()))
	}
	return true
}
