package filestore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/gofrs/flock"

	"github.com/d5c4ca72/authtransport"
)

// fileFormatVersion is the version of the token file format that Store
// reads and writes.
const fileFormatVersion = 1

const (
	// maxTokenFileSize bounds how much of a token file Load reads; a
	// real token file is a few kilobytes at most.
	maxTokenFileSize = 1 << 20
	// lockRetryDelay is how often Lock polls the file lock while another
	// process holds it.
	lockRetryDelay = 5 * time.Millisecond
	// staleTempAge is the age after which New removes a temporary
	// file that a crashed writer left behind.
	staleTempAge = time.Hour
)

// Store is a [authtransport.LockingStore] that keeps one token in a JSON file, for
// command-line tools and other programs of which a user may run several
// copies at once. Create one with [New]; the zero value is not
// usable. A Store is safe for concurrent use by multiple goroutines, and
// several processes may use the same file at once.
//
// # File format and writes
//
// The file holds {"version":1,"token":{...}}, the token encoded with the JSON
// field names of [authtransport.Token]. It is created with mode 0600, and its directory
// with mode 0700 when New has to create it. Every Save is atomic: it
// writes a temporary file in the same directory, syncs it, renames it over the
// token file and syncs the directory, so a crash or a full disk leaves either
// the previous token or the new one, never a partial or empty file. Because
// the file is replaced by a rename, a symbolic link at the path is replaced by
// a regular file.
//
// # Files it refuses
//
// Load never guesses. A missing file is [authtransport.ErrNoToken]. A file that other users
// may read or write (any permission bit outside 0600) is refused with a
// [*ModeError], the way ssh refuses a private key with loose permissions,
// since the token in it must be treated as exposed; saving a new token (for
// example by logging in again) replaces it with a 0600 file. A file that is
// empty or does not parse is a [*CorruptError], a file written by a newer
// version of this package is a [*VersionError], and a file that cannot be
// opened or read is a [*AccessError]. These checks do not apply on
// Windows, where the permission bits do not describe who may read a file.
//
// A file that is not a token this version understands is never silently
// overwritten: before Load reports it, and again before Save replaces it, a
// copy is kept next to it as <path>.corrupt-<time>-<random> (once per
// content), and the error names the copy. Save refuses to replace a file it
// cannot read, since it could not keep a copy.
//
// # Locking
//
// Lock takes an exclusive lock on a separate file, <path>.lock, which is
// never removed. The lock spans processes (flock(2) on Unix, LockFileEx on
// Windows); the operating system releases it when the holding process dies.
// It also excludes the goroutines of one process from each other. A
// [authtransport.Transport] refreshes under this lock, so that a rotating refresh token is
// used once even when several processes find the token expired at the same
// moment.
//
// # Caching
//
// Store itself does not cache: each Load reads the file. A [authtransport.Transport]
// keeps its current token in memory and loads it on first use and when the
// token is expired or rejected, so it picks up a token that another process
// refreshed at that point at the latest, without touching the file on every
// request.
type Store struct {
	path      string
	lock      fileLock // <path>.lock: refreshes
	loginLock fileLock // <path>.login.lock: logins

	// Test seams; nil means the real operation.
	open       func(name string) (*os.File, error) // opens the token file for reading
	afterWrite func(tmp string) error              // runs after the temporary file is synced, before the rename
}

var (
	_ authtransport.LockingStore = (*Store)(nil)
	_ authtransport.LoginLocker  = (*Store)(nil)
)

// New returns a Store that keeps its token in the file at path.
// The file need not exist. New creates the file's directory with mode
// 0700 when it is missing, and removes temporary files that a writer killed
// more than an hour ago left behind. A relative path is made absolute, so a
// later change of working directory does not move the store.
func New(path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("filestore: file store needs a path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("filestore: file store path: %w", err)
	}
	if fi, err := os.Stat(abs); err == nil && fi.IsDir() {
		return nil, &AccessError{Op: "open", Path: abs, Err: errors.New("is a directory")}
	}
	dir := filepath.Dir(abs)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, &AccessError{Op: "create directory", Path: dir, Err: unwrapPathError(err)}
	}
	s := &Store{
		path:      abs,
		lock:      newFileLock(abs + ".lock"),
		loginLock: newFileLock(abs + ".login.lock"),
	}
	s.removeStaleTemps(time.Now())
	return s, nil
}

// Path returns the absolute path of the token file.
func (s *Store) Path() string { return s.path }

// Load returns the token in the file. It returns an error wrapping
// [authtransport.ErrNoToken] when the file does not exist, and a [*ModeError],
// [*CorruptError], [*VersionError] or [*AccessError] when the
// file exists but cannot be used; see [Store] for when each applies.
func (s *Store) Load(ctx context.Context) (*authtransport.Token, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	data, mode, err := s.read()
	if err != nil {
		return nil, err
	}
	if looseMode(mode) {
		return nil, &ModeError{Path: s.path, Mode: mode.Perm()}
	}
	tok, ferr := decodeTokenFile(data)
	if ferr != nil {
		return nil, s.reportBadFile(data, ferr)
	}
	return tok, nil
}

// Save replaces the token in the file atomically. Save(ctx, nil) removes the
// token file, after which Load returns [authtransport.ErrNoToken]. If the existing file is
// not a token this version understands, Save first keeps a copy of it (see
// [Store]); if it cannot read the existing file or keep the copy, it
// returns an error and leaves the file as it was.
//
// Save does not take the lock; a caller that reads, refreshes and saves
// holds it around all three.
func (s *Store) Save(ctx context.Context, tok *authtransport.Token) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.keepBadFile(); err != nil {
		return err
	}
	if tok == nil {
		return s.remove()
	}
	data, err := json.MarshalIndent(tokenFile{Version: fileFormatVersion, Token: tok}, "", "  ")
	if err != nil {
		// Only a Token with an unencodable time gets here; the message
		// of a json error does not include the secrets.
		return fmt.Errorf("filestore: encode token: %w", err)
	}
	return s.writeAtomic(append(data, '\n'))
}

// Lock blocks until the caller holds the store's lock or ctx ends; waiting
// for another goroutine of this process and waiting for another process both
// honour ctx, and an error from an ended ctx wraps ctx.Err(). A lock file
// that cannot be opened gives an [*AccessError]. unlock releases the lock;
// calling it more than once is harmless. The lock is held on the file
// <path>.lock and released by the operating system if the process dies
// while holding it.
func (s *Store) Lock(ctx context.Context) (unlock func(), err error) {
	return s.lock.acquire(ctx)
}

// LockLogin is Lock for logins ([authtransport.LoginLocker]): a lock of its
// own, on <path>.login.lock, so that a login, which takes minutes, does not
// hold off the refreshes of other processes.
func (s *Store) LockLogin(ctx context.Context) (unlock func(), err error) {
	return s.loginLock.acquire(ctx)
}

// fileLock is an exclusive lock on a file, for the processes and the
// goroutines of one process.
type fileLock struct {
	f *flock.Flock
	// sem is a semaphore of one, held by the goroutine that holds or waits
	// for f: a flock.Flock reports success to a second TryLock of the
	// same process, so it does not exclude goroutines by itself.
	sem chan struct{}
}

func newFileLock(path string) fileLock {
	return fileLock{f: flock.New(path, flock.SetPermissions(0o600)), sem: make(chan struct{}, 1)}
}

func (l fileLock) acquire(ctx context.Context) (unlock func(), err error) {
	select {
	case l.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("filestore: waiting for token file lock: %w", ctx.Err())
	}
	ok, err := l.f.TryLockContext(ctx, lockRetryDelay)
	if !ok || err != nil {
		<-l.sem
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, fmt.Errorf("filestore: waiting for token file lock: %w", ctxErr)
		}
		if err == nil {
			err = errors.New("lock not acquired")
		}
		return nil, &AccessError{Op: "lock", Path: l.f.Path(), Err: unwrapPathError(err)}
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			// An error here leaves nothing to do: the descriptor is
			// closed either way on the next lock attempt, and the
			// lock dies with the process at the latest.
			_ = l.f.Unlock()
			<-l.sem
		})
	}, nil
}

// tokenFile is the JSON layout of a token file.
type tokenFile struct {
	Version int                  `json:"version"`
	Token   *authtransport.Token `json:"token"`
}

// badFileError describes why a token file cannot be used, before it is turned
// into the exported error that names the file and its copy.
type badFileError struct {
	version int    // an unsupported version number, or 0
	reason  string // why the file is corrupt, when version is 0
}

func (e *badFileError) Error() string { return e.reason }

// read returns the contents and mode of the token file: all of it, or
// its first maxTokenFileSize+1 bytes when it is larger.
func (s *Store) read() ([]byte, fs.FileMode, error) {
	f, fi, err := s.openFile()
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxTokenFileSize+1))
	if err != nil {
		return nil, 0, &AccessError{Op: "read", Path: s.path, Err: unwrapPathError(err)}
	}
	return data, fi.Mode(), nil
}

// openFile opens the token file, which must be a regular file, without
// blocking on a FIFO.
func (s *Store) openFile() (*os.File, fs.FileInfo, error) {
	open := s.open
	if open == nil {
		open = openNoBlock
	}
	f, err := open(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("filestore: no token file at %s: %w", s.path, authtransport.ErrNoToken)
	}
	if err != nil {
		return nil, nil, &AccessError{Op: "open", Path: s.path, Err: unwrapPathError(err)}
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, &AccessError{Op: "stat", Path: s.path, Err: unwrapPathError(err)}
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, &AccessError{Op: "open", Path: s.path, Err: errors.New("not a regular file")}
	}
	return f, fi, nil
}

// decodeTokenFile parses a token file. Its errors describe the problem
// without quoting the file, which holds secrets.
func decodeTokenFile(data []byte) (*authtransport.Token, *badFileError) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, &badFileError{reason: "file is empty"}
	}
	if len(data) > maxTokenFileSize {
		return nil, &badFileError{reason: fmt.Sprintf("file is larger than %d bytes", maxTokenFileSize)}
	}
	var head struct {
		Version *int            `json:"version"`
		Token   json.RawMessage `json:"token"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, &badFileError{reason: describeJSONError(err)}
	}
	switch {
	case head.Version == nil:
		return nil, &badFileError{reason: "no version field"}
	case *head.Version != fileFormatVersion:
		return nil, &badFileError{version: *head.Version}
	case len(head.Token) == 0 || string(head.Token) == "null":
		return nil, &badFileError{reason: "no token"}
	}
	var tok authtransport.Token
	if err := json.Unmarshal(head.Token, &tok); err != nil {
		return nil, &badFileError{reason: describeJSONError(err)}
	}
	return &tok, nil
}

// describeJSONError says what is wrong with a JSON document without quoting
// it: the messages of some encoding/json and time errors include part of the
// input.
func describeJSONError(err error) string {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return fmt.Sprintf("invalid JSON at byte %d", syntax.Offset)
	case errors.As(err, &typ) && typ.Field != "":
		return fmt.Sprintf("field %q is not a JSON %s", typ.Field, typ.Type.Kind())
	case errors.As(err, &typ):
		return fmt.Sprintf("JSON %s where an object was expected", typ.Value)
	}
	return "invalid field value"
}

// reportBadFile keeps a copy of a file that Load cannot use and returns the
// error that names the file and the copy.
func (s *Store) reportBadFile(data []byte, bad *badFileError) error {
	backup, backupErr := s.keepCopy(data)
	if bad.version != 0 {
		return &VersionError{Path: s.path, Version: bad.version, Backup: backup}
	}
	e := &CorruptError{Path: s.path, Reason: bad.reason, Backup: backup}
	if backupErr != nil {
		e.Reason += " (no copy kept: " + backupErr.Error() + ")"
	}
	return e
}

// keepBadFile keeps a copy of the current token file if it exists and is not
// a token this version understands. It returns an error when the file exists
// but cannot be read or copied, so that Save leaves it alone.
func (s *Store) keepBadFile() error {
	data, _, err := s.read()
	if errors.Is(err, authtransport.ErrNoToken) {
		return nil
	}
	if err != nil {
		return err
	}
	if _, bad := decodeTokenFile(data); bad == nil {
		return nil
	}
	if _, err := s.keepCopy(data); err != nil {
		return &AccessError{Op: "keep copy of", Path: s.path, Err: err}
	}
	return nil
}

const corruptInfix = ".corrupt-"

// keepCopy keeps the token file's content next to it as
// <path>.corrupt-<time>-<random>, unless a copy with the same content is
// already there, and returns the copy's path. data is what read returned:
// the whole file, or only its beginning when the file is larger than a
// token file can be, in which case the file itself is copied, all of it.
// An empty file has nothing worth keeping: it returns "".
func (s *Store) keepCopy(data []byte) (string, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return "", nil
	}
	content := func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
	if len(data) > maxTokenFileSize {
		content = func() (io.ReadCloser, error) {
			f, _, err := s.openFile()
			return f, err
		}
	}
	dir, base := filepath.Split(s.path)
	if entries, err := os.ReadDir(dir); err == nil {
		for _, e := range entries {
			if !e.Type().IsRegular() || !strings.HasPrefix(e.Name(), base+corruptInfix) {
				continue
			}
			if name := filepath.Join(dir, e.Name()); sameContent(name, content) {
				return name, nil
			}
		}
	}
	src, err := content()
	if err != nil {
		return "", err
	}
	defer src.Close()
	stamp := time.Now().UTC().Format("20060102T150405Z")
	f, err := os.CreateTemp(dir, base+corruptInfix+stamp+"-*")
	if err != nil {
		return "", unwrapPathError(err)
	}
	name := f.Name()
	_, err = io.Copy(f, src)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		_ = os.Remove(name)
		return "", unwrapPathError(err)
	}
	return name, nil
}

// sameContent reports whether the file name holds what content returns.
func sameContent(name string, content func() (io.ReadCloser, error)) bool {
	a, err := os.Open(name)
	if err != nil {
		return false
	}
	defer a.Close()
	b, err := content()
	if err != nil {
		return false
	}
	defer b.Close()
	const chunk = 32 << 10
	bufA, bufB := make([]byte, chunk), make([]byte, chunk)
	for {
		na, errA := io.ReadFull(a, bufA)
		nb, errB := io.ReadFull(b, bufB)
		if na != nb || !bytes.Equal(bufA[:na], bufB[:nb]) {
			return false
		}
		doneA := errA == io.EOF || errA == io.ErrUnexpectedEOF
		doneB := errB == io.EOF || errB == io.ErrUnexpectedEOF
		switch {
		case doneA && doneB:
			return true
		case doneA != doneB || errA != nil || errB != nil:
			return false
		}
	}
}

const tempInfix = ".tmp-"

// writeAtomic replaces the token file with data: temporary file in the same
// directory, fsync, rename, fsync of the directory. On failure before the
// rename the old file is untouched and the temporary file is removed.
func (s *Store) writeAtomic(data []byte) (err error) {
	dir, base := filepath.Split(s.path)
	f, err := os.CreateTemp(dir, base+tempInfix+"*")
	if err != nil {
		return &AccessError{Op: "write", Path: s.path, Err: unwrapPathError(err)}
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = os.Remove(tmp)
		}
	}()
	// os.CreateTemp creates the file with mode 0600; Chmod makes sure a
	// platform default or ACL inheritance did not widen it.
	err = f.Chmod(0o600)
	if errors.Is(err, errors.ErrUnsupported) {
		err = nil
	}
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && s.afterWrite != nil {
		err = s.afterWrite(tmp)
	}
	if err == nil {
		err = os.Rename(tmp, s.path)
	}
	if err != nil {
		return &AccessError{Op: "write", Path: s.path, Err: unwrapPathError(err)}
	}
	if err := syncDir(dir); err != nil {
		return &AccessError{Op: "sync directory of", Path: s.path, Err: unwrapPathError(err)}
	}
	return nil
}

// remove deletes the token file, which is not an error when it is missing.
func (s *Store) remove() error {
	err := os.Remove(s.path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return &AccessError{Op: "remove", Path: s.path, Err: unwrapPathError(err)}
	}
	if err := syncDir(filepath.Dir(s.path)); err != nil {
		return &AccessError{Op: "sync directory of", Path: s.path, Err: unwrapPathError(err)}
	}
	return nil
}

// removeStaleTemps removes temporary files of this store older than
// staleTempAge: a writer killed between creating and renaming its temporary
// file leaves it behind. Younger ones may belong to a Save in progress.
func (s *Store) removeStaleTemps(now time.Time) {
	dir, base := filepath.Split(s.path)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.Type().IsRegular() || !strings.HasPrefix(e.Name(), base+tempInfix) {
			continue
		}
		if fi, err := e.Info(); err == nil && now.Sub(fi.ModTime()) > staleTempAge {
			_ = os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// unwrapPathError returns the cause of an [*fs.PathError] or
// [*os.LinkError], whose path the Store errors already name.
func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}

// CorruptError is returned by [Store.Load] for a token file that is
// empty or cannot be parsed. The file is left in place; a copy of it is kept
// at Backup before anything replaces it.
type CorruptError struct {
	// Path is the token file.
	Path string
	// Reason says what is wrong, without quoting the file's contents.
	Reason string
	// Backup is the copy of the file, or "" when the file was empty or the
	// copy could not be written.
	Backup string
}

// Error names the file, the problem and the copy, never the contents.
func (e *CorruptError) Error() string {
	msg := "filestore: token file " + e.Path + " is corrupt: " + e.Reason
	if e.Backup != "" {
		msg += " (copy kept at " + e.Backup + ")"
	}
	return msg
}

// Is reports whether target is [authtransport.ErrNoToken]: the file holds
// no token that can be used, and saving a new one replaces it. A
// [authtransport.Transport] then treats the store as empty and shows this
// error to the user when a login is needed.
func (e *CorruptError) Is(target error) bool { return target == authtransport.ErrNoToken }

// VersionError is returned by [Store.Load] for a token file written
// in a format version that this package does not know, typically by a newer
// version of it. A copy of the file is kept at Backup before anything
// replaces it.
type VersionError struct {
	// Path is the token file.
	Path string
	// Version is the format version found in the file.
	Version int
	// Backup is the copy of the file, or "" when it could not be written.
	Backup string
}

// Error names the file and the version found in it.
func (e *VersionError) Error() string {
	msg := fmt.Sprintf("filestore: token file %s has format version %d, this program reads version %d", e.Path, e.Version, fileFormatVersion)
	if e.Backup != "" {
		msg += " (copy kept at " + e.Backup + ")"
	}
	return msg
}

// Is reports whether target is [authtransport.ErrNoToken]: the file holds
// no token that can be used, and saving a new one replaces it. A
// [authtransport.Transport] then treats the store as empty and shows this
// error to the user when a login is needed.
func (e *VersionError) Is(target error) bool { return target == authtransport.ErrNoToken }

// ModeError is returned by [Store.Load] for a token file that users
// other than its owner may read or write. The token in it must be considered
// exposed; the file is left as it is. Saving a new token replaces it with a
// file of mode 0600.
type ModeError struct {
	// Path is the token file.
	Path string
	// Mode is the file's permission bits.
	Mode fs.FileMode
}

// Error names the file and its mode, and says how to fix it.
func (e *ModeError) Error() string {
	return fmt.Sprintf("filestore: token file %s has mode %#o, refusing to use it: it must not be accessible by others (chmod 600 it, or log in again)", e.Path, uint32(e.Mode.Perm()))
}

// Is reports whether target is [authtransport.ErrNoToken]: the file holds
// no token that can be used, and saving a new one replaces it. A
// [authtransport.Transport] then treats the store as empty and shows this
// error to the user when a login is needed.
func (e *ModeError) Is(target error) bool { return target == authtransport.ErrNoToken }

// AccessError is returned by [Store] when the operating system does
// not let it open, read, write or lock a file. It unwraps to the operating
// system's error, so errors.Is(err, fs.ErrPermission) reports a file the
// process may not read.
type AccessError struct {
	// Op is the operation that failed, such as "open", "read", "write" or
	// "lock".
	Op string
	// Path is the file concerned.
	Path string
	// Err is the cause.
	Err error
}

// Error names the operation, the file and the cause.
func (e *AccessError) Error() string {
	return "filestore: " + e.Op + " token file " + e.Path + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *AccessError) Unwrap() error { return e.Err }
