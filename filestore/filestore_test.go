package filestore

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d5c4ca72/authtransport"
)

// Secrets used in test tokens; no error message may contain them.
const (
	testAccessSecret  = "at-SECRET-0123456789"
	testRefreshSecret = "rt-SECRET-9876543210"
)

func testToken() *authtransport.Token {
	return &authtransport.Token{
		AccessToken:  testAccessSecret,
		TokenType:    "Bearer",
		RefreshToken: testRefreshSecret,
		Expiry:       time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC),
		Scope:        "read write",
	}
}

func newTestFileStore(t *testing.T) *Store {
	t.Helper()
	s, err := New(filepath.Join(t.TempDir(), "tok", "token.json"))
	require.NoError(t, err, "New")
	return s
}

// dirNames lists the names in dir, sorted.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func backups(t *testing.T, s *Store) []string {
	t.Helper()
	var out []string
	for _, n := range dirNames(t, filepath.Dir(s.Path())) {
		if strings.HasPrefix(n, filepath.Base(s.Path())+corruptInfix) {
			out = append(out, filepath.Join(filepath.Dir(s.Path()), n))
		}
	}
	return out
}

func TestFileStoreRoundTrip(t *testing.T) {
	ctx := t.Context()
	s := newTestFileStore(t)

	_, err := s.Load(ctx)
	assert.ErrorIs(t, err, authtransport.ErrNoToken, "Load of a missing file")

	want := testToken()
	require.NoError(t, s.Save(ctx, want))
	got, err := s.Load(ctx)
	require.NoError(t, err)
	assert.Equal(t, want.AccessToken, got.AccessToken)
	assert.Equal(t, want.RefreshToken, got.RefreshToken)
	assert.Equal(t, want.TokenType, got.TokenType)
	assert.Equal(t, want.Scope, got.Scope)
	assert.True(t, want.Expiry.Equal(got.Expiry), "expiry: want %v, got %v", want.Expiry, got.Expiry)

	// A token without expiry keeps a zero Expiry.
	require.NoError(t, s.Save(ctx, &authtransport.Token{AccessToken: "a"}))
	got, err = s.Load(ctx)
	require.NoError(t, err)
	assert.True(t, got.Expiry.IsZero(), "zero expiry survives the round trip, got %v", got.Expiry)

	var raw map[string]any
	data, err := os.ReadFile(s.Path())
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &raw))
	assert.EqualValues(t, 1, raw["version"], "file format version")

	if runtime.GOOS != "windows" {
		fi, err := os.Stat(s.Path())
		require.NoError(t, err)
		assert.Equal(t, fs.FileMode(0o600), fi.Mode().Perm(), "token file mode")
		di, err := os.Stat(filepath.Dir(s.Path()))
		require.NoError(t, err)
		assert.Equal(t, fs.FileMode(0o700), di.Mode().Perm(), "created directory mode")
	}
	assert.Equal(t, []string{"token.json"}, dirNames(t, filepath.Dir(s.Path())), "no temporary or lock files after Save")
}

func TestNewFileStore(t *testing.T) {
	dir := t.TempDir()
	t.Run("empty path", func(t *testing.T) {
		_, err := New("")
		assert.Error(t, err)
	})
	t.Run("directory", func(t *testing.T) {
		_, err := New(dir)
		var ae *AccessError
		assert.ErrorAs(t, err, &ae, "a directory at the path")
	})
	t.Run("relative path is made absolute", func(t *testing.T) {
		t.Chdir(dir)
		s, err := New("rel.json")
		require.NoError(t, err)
		assert.Equal(t, filepath.Join(dir, "rel.json"), s.Path())
	})
	t.Run("stale temporary files are removed", func(t *testing.T) {
		d := t.TempDir()
		path := filepath.Join(d, "token.json")
		old := filepath.Join(d, "token.json"+tempInfix+"111")
		young := filepath.Join(d, "token.json"+tempInfix+"222")
		other := filepath.Join(d, "other.json"+tempInfix+"333")
		for _, p := range []string{old, young, other} {
			require.NoError(t, os.WriteFile(p, []byte("x"), 0o600))
		}
		past := time.Now().Add(-2 * staleTempAge)
		require.NoError(t, os.Chtimes(old, past, past))
		require.NoError(t, os.Chtimes(other, past, past))
		_, err := New(path)
		require.NoError(t, err)
		assert.NoFileExists(t, old, "a temporary file older than an hour")
		assert.FileExists(t, young, "a temporary file that may belong to a Save in progress")
		assert.FileExists(t, other, "another store's file")
	})
}

func TestFileStoreSaveNilRemoves(t *testing.T) {
	ctx := t.Context()
	s := newTestFileStore(t)
	require.NoError(t, s.Save(ctx, testToken()))
	require.NoError(t, s.Save(ctx, nil))
	_, err := s.Load(ctx)
	assert.ErrorIs(t, err, authtransport.ErrNoToken)
	assert.NoError(t, s.Save(ctx, nil), "removing a missing file")
}

func TestFileStoreCanceledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	s := newTestFileStore(t)
	_, err := s.Load(ctx)
	assert.ErrorIs(t, err, context.Canceled, "Load")
	assert.ErrorIs(t, s.Save(ctx, testToken()), context.Canceled, "Save")
	_, err = s.Lock(ctx)
	assert.ErrorIs(t, err, context.Canceled, "Lock")
}

// TestFileStoreBadFiles checks each kind of file that Load must refuse: the
// typed error, that the error names the file and no secret, that the file
// is left alone, and what a later Save does with it.
func TestFileStoreBadFiles(t *testing.T) {
	validJSON := func(version int) string {
		return fmt.Sprintf(`{"version":%d,"token":{"access_token":%q,"refresh_token":%q}}`, version, testAccessSecret, testRefreshSecret)
	}
	type check func(t *testing.T, s *Store, err error)
	corrupt := func(reason string, wantBackup bool) check {
		return func(t *testing.T, s *Store, err error) {
			var ce *CorruptError
			require.ErrorAs(t, err, &ce, "want *CorruptError")
			assert.Equal(t, s.Path(), ce.Path)
			assert.Contains(t, ce.Reason, reason)
			if wantBackup {
				require.NotEmpty(t, ce.Backup, "a copy of the corrupt file is kept")
				assert.Contains(t, err.Error(), ce.Backup, "the message names the copy")
			} else {
				assert.Empty(t, ce.Backup)
			}
		}
	}
	tests := []struct {
		name    string
		content string
		mode    fs.FileMode
		unix    bool // permission bits only mean something on Unix
		notRoot bool // root reads files whatever their mode
		open    func(string) (*os.File, error)
		check   check
		// after Save: true if the file is replaced, false if Save refuses.
		saveReplaces bool
		wantBackup   bool
	}{
		{name: "empty", content: "", check: corrupt("empty", false), saveReplaces: true},
		{name: "only whitespace", content: " \n", check: corrupt("empty", false), saveReplaces: true},
		{name: "truncated", content: validJSON(1)[:40], check: corrupt("invalid JSON", true), saveReplaces: true, wantBackup: true},
		{name: "not JSON", content: "access_token=" + testAccessSecret, check: corrupt("invalid JSON", true), saveReplaces: true, wantBackup: true},
		{name: "trailing garbage", content: validJSON(1) + testAccessSecret, check: corrupt("invalid JSON", true), saveReplaces: true, wantBackup: true},
		{name: "larger than a token file", content: strings.Repeat("user data, not a token\n", 100_000), check: corrupt("larger than", true), saveReplaces: true, wantBackup: true},
		{name: "JSON array", content: `["` + testAccessSecret + `"]`, check: corrupt("array", true), saveReplaces: true, wantBackup: true},
		{name: "wrong field type", content: `{"version":1,"token":{"access_token":12345}}`, check: corrupt("access_token", true), saveReplaces: true, wantBackup: true},
		{name: "bad expiry quotes no secret", content: `{"version":1,"token":{"access_token":"a","expiry":"` + testAccessSecret + `"}}`, check: corrupt("invalid field value", true), saveReplaces: true, wantBackup: true},
		{name: "no version", content: `{"token":{"access_token":"` + testAccessSecret + `"}}`, check: corrupt("no version", true), saveReplaces: true, wantBackup: true},
		{name: "bare oauth2 token", content: `{"access_token":"` + testAccessSecret + `","token_type":"Bearer"}`, check: corrupt("no version", true), saveReplaces: true, wantBackup: true},
		{name: "no token", content: `{"version":1}`, check: corrupt("no token", true), saveReplaces: true, wantBackup: true},
		{name: "null token", content: `{"version":1,"token":null}`, check: corrupt("no token", true), saveReplaces: true, wantBackup: true},
		{
			name: "unknown version", content: validJSON(2), saveReplaces: true, wantBackup: true,
			check: func(t *testing.T, s *Store, err error) {
				var ve *VersionError
				require.ErrorAs(t, err, &ve, "want *VersionError")
				assert.Equal(t, 2, ve.Version)
				assert.NotEmpty(t, ve.Backup)
			},
		},
		{
			name: "readable by group and others", content: validJSON(1), mode: 0o644, unix: true, saveReplaces: true,
			check: func(t *testing.T, s *Store, err error) {
				var me *ModeError
				require.ErrorAs(t, err, &me, "want *ModeError")
				assert.Equal(t, fs.FileMode(0o644), me.Mode)
				assert.Contains(t, err.Error(), "0644")
			},
		},
		{
			name: "writable by others", content: validJSON(1), mode: 0o602, unix: true, saveReplaces: true,
			check: func(t *testing.T, s *Store, err error) {
				var me *ModeError
				require.ErrorAs(t, err, &me, "want *ModeError")
			},
		},
		{
			name: "unreadable (chmod 000)", content: validJSON(1), mode: 0o000, unix: true, notRoot: true,
			check: func(t *testing.T, s *Store, err error) {
				var ae *AccessError
				require.ErrorAs(t, err, &ae, "want *AccessError")
				assert.ErrorIs(t, err, fs.ErrPermission)
			},
		},
		{
			name: "unreadable (injected EACCES)", content: validJSON(1),
			open: func(name string) (*os.File, error) {
				return nil, &fs.PathError{Op: "open", Path: name, Err: syscall.EACCES}
			},
			check: func(t *testing.T, s *Store, err error) {
				var ae *AccessError
				require.ErrorAs(t, err, &ae, "want *AccessError")
				assert.Equal(t, s.Path(), ae.Path)
				assert.ErrorIs(t, err, fs.ErrPermission)
				assert.Equal(t, 1, strings.Count(err.Error(), s.Path()), "path named once: %v", err)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.unix && runtime.GOOS == "windows" {
				t.Skip("permission bits are not checked on Windows")
			}
			if tt.notRoot && os.Geteuid() == 0 {
				t.Skip("root reads files whatever their mode; the injected row covers this case")
			}
			ctx := t.Context()
			s := newTestFileStore(t)
			s.open = tt.open
			mode := tt.mode
			if !tt.unix {
				mode = 0o600
			}
			require.NoError(t, os.WriteFile(s.Path(), []byte(tt.content), 0o600))
			require.NoError(t, os.Chmod(s.Path(), mode))

			tok, err := s.Load(ctx)
			assert.Nil(t, tok, "no token with an error")
			require.Error(t, err)
			assert.True(t, strings.HasPrefix(err.Error(), "filestore: "), "message prefix: %v", err)
			assert.Contains(t, err.Error(), s.Path(), "the message names the file")
			assert.NotContains(t, err.Error(), testAccessSecret, "no secret in the message")
			assert.NotContains(t, err.Error(), testRefreshSecret, "no secret in the message")
			var access *AccessError
			if errors.As(err, &access) {
				assert.NotErrorIs(t, err, authtransport.ErrNoToken, "a file that cannot be read may hold a good token")
			} else {
				assert.ErrorIs(t, err, authtransport.ErrNoToken, "no usable token: a Transport treats the store as empty")
			}
			tt.check(t, s, err)

			// Load leaves the file as it was.
			require.NoError(t, os.Chmod(s.Path(), 0o600))
			data, err := os.ReadFile(s.Path())
			require.NoError(t, err)
			assert.Equal(t, tt.content, string(data), "Load changed the file")
			require.NoError(t, os.Chmod(s.Path(), mode))

			// A second Load keeps no second copy of the same content.
			_, _ = s.Load(ctx)
			if tt.wantBackup {
				require.Len(t, backups(t, s), 1, "one copy per content")
				data, err := os.ReadFile(backups(t, s)[0])
				require.NoError(t, err)
				assert.Equal(t, tt.content, string(data), "the copy holds the original")
			} else {
				assert.Empty(t, backups(t, s), "no copy kept")
			}

			// Save either replaces the file, keeping the copy, or refuses
			// and leaves the file alone.
			newTok := &authtransport.Token{AccessToken: "new-access", RefreshToken: "new-refresh"}
			err = s.Save(ctx, newTok)
			s.open = nil
			if !tt.saveReplaces {
				require.Error(t, err, "Save must refuse to replace a file it cannot read")
				require.NoError(t, os.Chmod(s.Path(), 0o600))
				data, err := os.ReadFile(s.Path())
				require.NoError(t, err)
				assert.Equal(t, tt.content, string(data), "Save replaced a file it could not read")
				return
			}
			require.NoError(t, err, "Save over the bad file")
			got, err := s.Load(ctx)
			require.NoError(t, err, "Load after Save")
			assert.Equal(t, "new-access", got.AccessToken)
			if tt.wantBackup {
				assert.Len(t, backups(t, s), 1, "the copy is still there")
			}
		})
	}
}

// TestFileStoreSaveKeepsCopyWithoutLoad checks that Save keeps a copy of a
// corrupt file even when nobody called Load before.
func TestFileStoreSaveKeepsCopyWithoutLoad(t *testing.T) {
	ctx := t.Context()
	s := newTestFileStore(t)
	require.NoError(t, os.WriteFile(s.Path(), []byte(`{"version":1,"tok`), 0o600))
	require.NoError(t, s.Save(ctx, testToken()))
	b := backups(t, s)
	require.Len(t, b, 1)
	data, err := os.ReadFile(b[0])
	require.NoError(t, err)
	assert.Equal(t, `{"version":1,"tok`, string(data))
	if runtime.GOOS != "windows" {
		fi, err := os.Stat(b[0])
		require.NoError(t, err)
		assert.Equal(t, fs.FileMode(0o600), fi.Mode().Perm(), "the copy holds secrets too")
	}
}

// TestFileStoreSaveFailsBeforeRename injects a failure between writing the
// temporary file and renaming it, as a full disk or a crash would: the old
// token stays intact and no temporary file is left behind.
func TestFileStoreSaveFailsBeforeRename(t *testing.T) {
	ctx := t.Context()
	s := newTestFileStore(t)
	require.NoError(t, s.Save(ctx, testToken()))

	var sawTemp string
	s.afterWrite = func(tmp string) error {
		sawTemp = tmp
		data, err := os.ReadFile(tmp)
		require.NoError(t, err)
		assert.Contains(t, string(data), "new-access", "the temporary file holds the new token")
		return syscall.ENOSPC
	}
	err := s.Save(ctx, &authtransport.Token{AccessToken: "new-access"})
	require.Error(t, err)
	assert.ErrorIs(t, err, syscall.ENOSPC)
	var ae *AccessError
	assert.ErrorAs(t, err, &ae)
	require.NotEmpty(t, sawTemp, "the seam ran")
	assert.NoFileExists(t, sawTemp, "temporary file removed")

	got, err := s.Load(ctx)
	require.NoError(t, err, "the old token is still readable")
	assert.Equal(t, testAccessSecret, got.AccessToken, "the old token is intact")
	assert.Equal(t, []string{"token.json"}, dirNames(t, filepath.Dir(s.Path())), "nothing left behind")
}

func TestFileStoreLock(t *testing.T) {
	t.Run("goroutines of one store exclude each other", func(t *testing.T) {
		s := newTestFileStore(t)
		unlock, err := s.Lock(t.Context())
		require.NoError(t, err)

		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		_, err = s.Lock(ctx)
		assert.ErrorIs(t, err, context.DeadlineExceeded, "second Lock while held")

		got := make(chan error, 1)
		go func() {
			u, err := s.Lock(t.Context())
			if err == nil {
				u()
			}
			got <- err
		}()
		time.Sleep(20 * time.Millisecond)
		select {
		case <-got:
			t.Fatal("second Lock returned while the first was held")
		default:
		}
		unlock()
		unlock() // harmless
		require.NoError(t, <-got, "Lock after unlock")
	})

	t.Run("two stores on one file exclude each other", func(t *testing.T) {
		a := newTestFileStore(t)
		b, err := New(a.Path())
		require.NoError(t, err)
		unlock, err := a.Lock(t.Context())
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		_, err = b.Lock(ctx)
		assert.ErrorIs(t, err, context.DeadlineExceeded, "the file lock holds off another open file")
		unlock()
		unlock2, err := b.Lock(t.Context())
		require.NoError(t, err)
		unlock2()
		assert.FileExists(t, a.Path()+".lock", "the lock file is never removed")
	})

	t.Run("mutual exclusion under contention", func(t *testing.T) {
		s := newTestFileStore(t)
		var inside, maxInside, total atomic.Int32
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for range 20 {
					unlock, err := s.Lock(t.Context())
					if !assert.NoError(t, err) {
						return
					}
					n := inside.Add(1)
					if n > maxInside.Load() {
						maxInside.Store(n)
					}
					total.Add(1)
					inside.Add(-1)
					unlock()
				}
			})
		}
		wg.Wait()
		assert.EqualValues(t, 1, maxInside.Load(), "holders at once")
		assert.EqualValues(t, 160, total.Load())
	})

	t.Run("lock file not writable", func(t *testing.T) {
		s := newTestFileStore(t)
		require.NoError(t, os.Mkdir(s.Path()+".lock", 0o700), "a directory where the lock file goes")
		_, err := s.Lock(t.Context())
		var ae *AccessError
		assert.ErrorAs(t, err, &ae, "want *AccessError, got %v", err)
		// The store is still usable afterwards: the semaphore was released.
		require.NoError(t, os.Remove(s.Path()+".lock"))
		unlock, err := s.Lock(t.Context())
		require.NoError(t, err)
		unlock()
	})
}

// Helper processes: the test binary re-executed with helperEnv set runs
// TestFileStoreHelperProcess in the mode named by the variable.
const helperEnv = "AUTHTRANSPORT_FILESTORE_HELPER"

// crashPad is the size of the scope of the tokens that the crash test saves,
// big enough that a kill often lands inside a write.
const crashPad = 64 << 10

func helperCommand(t *testing.T, mode, path string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestFileStoreHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode, "AUTHTRANSPORT_FILESTORE_PATH="+path)
	cmd.Stderr = os.Stderr
	return cmd
}

// TestFileStoreHelperProcess is not a test: it is the body of the helper
// processes that the crash and lock tests start.
func TestFileStoreHelperProcess(t *testing.T) {
	mode := os.Getenv(helperEnv)
	if mode == "" {
		t.Skip("helper process only")
	}
	path := os.Getenv("AUTHTRANSPORT_FILESTORE_PATH")
	s, err := New(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx := context.Background()
	switch mode {
	case "save-loop":
		// Saves tokens whose two halves carry the same number, with a
		// big scope so that a write takes long enough to be interrupted,
		// and a pause before the rename as a slow disk would make.
		s.afterWrite = func(string) error {
			time.Sleep(time.Duration(rand.IntN(2000)) * time.Microsecond)
			return nil
		}
		pad := strings.Repeat("s", crashPad)
		for i := 1; ; i++ {
			tok := &authtransport.Token{AccessToken: "access-" + strconv.Itoa(i), RefreshToken: "refresh-" + strconv.Itoa(i), Scope: pad}
			if err := s.Save(ctx, tok); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			if i == 1 {
				fmt.Println("ready")
			}
		}
	case "naive-save-loop":
		// The control: a plain os.WriteFile, as many tools do.
		pad := strings.Repeat("s", crashPad)
		for i := 1; ; i++ {
			tok := &authtransport.Token{AccessToken: "access-" + strconv.Itoa(i), RefreshToken: "refresh-" + strconv.Itoa(i), Scope: pad}
			data, _ := json.Marshal(tokenFile{Version: 1, Token: tok})
			if err := os.WriteFile(path, data, 0o600); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			if i == 1 {
				fmt.Println("ready")
			}
		}
	case "hold-lock":
		if _, err := s.Lock(ctx); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println("locked")
		time.Sleep(time.Minute) // until killed
		os.Exit(1)
	}
	os.Exit(2)
}

// startHelper starts a helper process and waits until it prints want.
func startHelper(t *testing.T, mode, path, want string) *exec.Cmd {
	t.Helper()
	cmd := helperCommand(t, mode, path)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != want {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("helper %s: want %q, got %q, %v", mode, want, line, err)
	}
	return cmd
}

// killWhileSaving runs a helper that saves in a tight loop, kills it with
// SIGKILL at a random moment, and checks what Load reads then; it repeats
// that until done says so or maxRounds is reached. It returns the number of
// rounds, of kills that left a file that did not load as one complete token,
// and of kills that left a temporary file behind (landed between creating the
// temporary file and renaming it).
func killWhileSaving(t *testing.T, mode string, maxRounds int, done func(broken, midWrite int) bool) (rounds, broken, midWrite int) {
	t.Helper()
	s := newTestFileStore(t)
	dir := filepath.Dir(s.Path())
	for rounds < maxRounds && !done(broken, midWrite) {
		rounds++
		cmd := startHelper(t, mode, s.Path(), "ready")
		time.Sleep(time.Duration(rand.IntN(40_000)) * time.Microsecond)
		require.NoError(t, cmd.Process.Kill())
		_ = cmd.Wait()

		for _, name := range dirNames(t, dir) {
			if strings.Contains(name, tempInfix) {
				midWrite++
				require.NoError(t, os.Remove(filepath.Join(dir, name)))
			}
		}
		// Read as a fresh process would.
		fresh, err := New(s.Path())
		require.NoError(t, err)
		tok, err := fresh.Load(t.Context())
		if err != nil {
			broken++
			t.Logf("round %d: %v", rounds, err)
			for _, b := range backups(t, s) {
				require.NoError(t, os.Remove(b))
			}
			continue
		}
		n, ok := strings.CutPrefix(tok.AccessToken, "access-")
		if !ok || tok.RefreshToken != "refresh-"+n || len(tok.Scope) != crashPad {
			broken++
			t.Logf("round %d: mixed or partial token %v", rounds, tok)
		}
	}
	return rounds, broken, midWrite
}

// TestFileStoreCrashWhileSaving kills a process that saves in a tight loop
// at random moments: every time, the file loads as one complete token. The
// helper pauses up to 2ms between writing and renaming, as a slow disk
// would, so that kills also land in that window; the test goes on until
// five have, or 60 rounds.
func TestFileStoreCrashWhileSaving(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("uses SIGKILL semantics")
	}
	if testing.Short() {
		t.Skip("starts up to 60 processes")
	}
	rounds, broken, midWrite := killWhileSaving(t, "save-loop", 60, func(_, midWrite int) bool { return midWrite >= 5 })
	t.Logf("%d kills, %d of them between creating and renaming a temporary file, %d left a bad file", rounds, midWrite, broken)
	assert.Zero(t, broken, "kills that left a token file that does not load as one complete token")
	assert.NotZero(t, midWrite, "no kill landed inside a Save: the test did not exercise the window")
}

// TestNaiveSaveCrashControl runs the same kills against a writer that uses
// os.WriteFile directly, as many tools do, to show that the crash test sees
// the failure it guards against: it kills until a file is broken, at most 60
// times.
func TestNaiveSaveCrashControl(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("uses SIGKILL semantics")
	}
	if testing.Short() {
		t.Skip("starts up to 60 processes")
	}
	rounds, broken, _ := killWhileSaving(t, "naive-save-loop", 60, func(broken, _ int) bool { return broken > 0 })
	t.Logf("control: a plain os.WriteFile loop left a file that does not load after %d kills", rounds)
	assert.NotZero(t, broken, "the crash test never saw a broken file from a non-atomic writer")
}

// TestFileStoreLockReleasedWhenHolderDies kills a process that holds the
// lock: the operating system releases it and another process gets it.
func TestFileStoreLockReleasedWhenHolderDies(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("uses SIGKILL semantics")
	}
	s := newTestFileStore(t)
	cmd := startHelper(t, "hold-lock", s.Path(), "locked")

	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	_, err := s.Lock(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded, "the other process holds the lock")

	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()
	ctx, cancel = context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	unlock, err := s.Lock(ctx)
	require.NoError(t, err, "the lock of a dead process is released")
	unlock()
}

func TestFileStoreErrorMessages(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"corrupt", &CorruptError{Path: "/t.json", Reason: "file is empty"}, "filestore: token file /t.json is corrupt: file is empty"},
		{"corrupt with copy", &CorruptError{Path: "/t.json", Reason: "invalid JSON at byte 3", Backup: "/t.json.corrupt-x"}, "filestore: token file /t.json is corrupt: invalid JSON at byte 3 (copy kept at /t.json.corrupt-x)"},
		{"version", &VersionError{Path: "/t.json", Version: 7}, "filestore: token file /t.json has format version 7, this program reads version 1"},
		{"mode", &ModeError{Path: "/t.json", Mode: 0o640}, "filestore: token file /t.json has mode 0640, refusing to use it: it must not be accessible by others (chmod 600 it, or log in again)"},
		{"access", &AccessError{Op: "read", Path: "/t.json", Err: syscall.EIO}, "filestore: read token file /t.json: input/output error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.err.Error())
		})
	}
	assert.True(t, errors.Is(&AccessError{Err: syscall.EACCES}, fs.ErrPermission), "AccessError unwraps to the os error")
}

// BenchmarkStoreLoad compares a file Store's Load, which reads and parses
// the file, with a MemoryStore Load. A Transport loads only on first use and
// when its token is stale, so neither is on the per-request path.
func BenchmarkStoreLoad(b *testing.B) {
	stores := []struct {
		name  string
		store authtransport.Store
	}{
		{"FileStore", func() authtransport.Store {
			s, err := New(filepath.Join(b.TempDir(), "token.json"))
			require.NoError(b, err)
			return s
		}()},
		{"MemoryStore", authtransport.NewMemoryStore(nil)},
	}
	for _, st := range stores {
		b.Run(st.name, func(b *testing.B) {
			require.NoError(b, st.store.Save(b.Context(), testToken()))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := st.store.Load(b.Context()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkFileStoreSave measures an atomic Save: check of the old file,
// temporary file, two fsyncs, rename. It runs once per refresh.
func BenchmarkFileStoreSave(b *testing.B) {
	s, err := New(filepath.Join(b.TempDir(), "token.json"))
	require.NoError(b, err)
	tok := testToken()
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Save(b.Context(), tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFileStoreLock measures an uncontended Lock and unlock.
func BenchmarkFileStoreLock(b *testing.B) {
	s, err := New(filepath.Join(b.TempDir(), "token.json"))
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		unlock, err := s.Lock(b.Context())
		if err != nil {
			b.Fatal(err)
		}
		unlock()
	}
}

// Two large files that differ only past the part Load reads are two
// contents: each gets its own copy, whole.
func TestLargeBadFilesDifferingLateAreBothKept(t *testing.T) {
	s := newTestFileStore(t)
	head := strings.Repeat("x", 2<<20)
	for _, tail := range []string{"first", "second"} {
		require.NoError(t, os.WriteFile(s.Path(), []byte(head+tail), 0o600))
		_, err := s.Load(t.Context())
		var ce *CorruptError
		require.ErrorAs(t, err, &ce)
		kept, err := os.ReadFile(ce.Backup)
		require.NoError(t, err)
		assert.True(t, string(kept) == head+tail, "the copy of the %s file is whole", tail)
	}
	assert.Len(t, backups(t, s), 2)
}
