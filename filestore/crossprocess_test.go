package filestore_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/d5c4ca72/authtransport"
	"github.com/d5c4ca72/authtransport/authtest"
	"github.com/d5c4ca72/authtransport/filestore"
	"github.com/d5c4ca72/authtransport/login"
)

// Environment of the child processes of TestFileStoreCrossProcessRefresh.
const (
	crossEnvChild  = "AUTHTRANSPORT_XPROC_CHILD" // "lock" or "nolock"
	crossEnvURL    = "AUTHTRANSPORT_XPROC_URL"
	crossEnvSecret = "AUTHTRANSPORT_XPROC_SECRET"
	crossEnvPath   = "AUTHTRANSPORT_XPROC_PATH"
	crossEnvGo     = "AUTHTRANSPORT_XPROC_GO" // the file whose appearance starts the requests
	crossEnvN      = "AUTHTRANSPORT_XPROC_N"  // requests at once, if not crossGoroutines
)

const (
	crossProcesses  = 4
	crossGoroutines = 25
)

// crossResult is what a child process reports, as one JSON line after
// "RESULT ".
type crossResult struct {
	OK     int            `json:"ok"`     // requests answered 200
	Status map[int]int    `json:"status"` // other status codes
	Errors map[string]int `json:"errors"` // errors by kind
	Loads  int            `json:"loads"`  // Store.Load calls
	Locks  int            `json:"locks"`  // Store.Lock calls
}

// TestFileStoreCrossProcessRefresh runs 4 processes of 25 goroutines each
// that share a Store holding an expired token, against a token endpoint
// that rotates refresh tokens and revokes the grant when a used one comes
// back. With the store's lock, exactly one refresh reaches the server and
// every request succeeds. Without it (the control row), the processes
// refresh at the same time with the same refresh token and the server
// revokes the grant: that shows the test detects the failure it guards
// against.
func TestFileStoreCrossProcessRefresh(t *testing.T) {
	if mode := os.Getenv(crossEnvChild); mode != "" {
		crossProcessChild(t, mode)
		return
	}
	if testing.Short() {
		t.Skip("starts 8 processes")
	}
	tests := []struct {
		name string
		lock bool
	}{
		{name: "with lock", lock: true},
		{name: "without lock (control)", lock: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := authtest.NewServer()
			defer srv.Close()
			// A slow token endpoint makes processes that do not wait
			// for each other surely overlap.
			srv.SetTokenDelay(100 * time.Millisecond)

			dir := t.TempDir()
			path := filepath.Join(dir, "token.json")
			fs, err := filestore.New(path)
			require.NoError(t, err)
			require.NoError(t, fs.Save(t.Context(), srv.NewExpiredToken()))

			mode := "nolock"
			if tt.lock {
				mode = "lock"
			}
			results := runWave(t, srv, path, mode, crossProcesses, crossGoroutines)

			stats := srv.Stats()
			ok, loads := 0, 0
			for i, r := range results {
				ok += r.OK
				loads += r.Loads
				t.Logf("process %d: %d ok, other statuses %v, errors %v, %d loads", i, r.OK, r.Status, r.Errors, r.Loads)
			}
			refreshRequests := 0
			for _, n := range stats.TokenRequests["refresh_token"] {
				refreshRequests += n
			}
			t.Logf("server: refresh_token requests %v, reuse detected %d, resource requests %v",
				stats.TokenRequests["refresh_token"], stats.RefreshTokenReuse, stats.ResourceRequests)

			alive := grantAlive(t, srv, fs)
			if tt.lock {
				assert.Equal(t, 1, refreshRequests, "refresh-token requests at the server")
				assert.Equal(t, 1, stats.Refreshes(), "successful refreshes")
				assert.Zero(t, stats.RefreshTokenReuse, "refresh-token reuse detected")
				assert.Equal(t, crossProcesses*crossGoroutines, ok, "requests answered 200")
				assert.True(t, alive, "the grant is still valid")
				// Each process reads the file when it has no token and
				// when its token is stale, not once per request.
				assert.Less(t, loads, crossProcesses*crossGoroutines, "Store.Load calls")
				return
			}
			assert.True(t, refreshRequests > 1 || stats.RefreshTokenReuse > 0,
				"without the lock the processes were expected to refresh more than once; refresh requests %d, reuse %d", refreshRequests, stats.RefreshTokenReuse)
			assert.True(t, !alive || ok < crossProcesses*crossGoroutines,
				"without the lock the grant was expected to be revoked or requests to fail; ok %d, grant alive %v", ok, alive)
		})
	}
}

// runWave starts processes child processes that share the token file at
// path, each sending goroutines requests at once through its own Transport
// (with the store's lock, unless mode is "nolock"), and returns what each
// reports.
func runWave(t *testing.T, srv *authtest.Server, path, mode string, processes, goroutines int) []crossResult {
	t.Helper()
	goFile := filepath.Join(t.TempDir(), "go")
	results := make([]crossResult, processes)
	var children []*exec.Cmd
	var readers []*bufio.Scanner
	for range processes {
		cmd := exec.Command(os.Args[0], "-test.run=^TestFileStoreCrossProcessRefresh$", "-test.count=1")
		cmd.Env = append(os.Environ(),
			crossEnvChild+"="+mode,
			crossEnvURL+"="+srv.URL,
			crossEnvSecret+"="+srv.ClientSecret,
			crossEnvPath+"="+path,
			crossEnvGo+"="+goFile,
			crossEnvN+"="+strconv.Itoa(goroutines),
		)
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		t.Cleanup(func() {
			if cmd.ProcessState == nil {
				_ = cmd.Process.Kill()
				_ = cmd.Wait()
			}
		})
		sc := bufio.NewScanner(out)
		require.True(t, scanFor(sc, "READY"), "child did not get ready")
		children = append(children, cmd)
		readers = append(readers, sc)
	}
	// Every child is waiting: start them at the same moment.
	require.NoError(t, os.WriteFile(goFile, nil, 0o600))
	for i, cmd := range children {
		line, ok := scanPrefix(readers[i], "RESULT ")
		require.True(t, ok, "child %d sent no result", i)
		require.NoError(t, json.Unmarshal([]byte(line), &results[i]))
		require.NoError(t, cmd.Wait(), "child %d", i)
	}
	return results
}

// TestShortLivedTokensRefreshOncePerExpiry: tokens that live 8 s, much
// shorter than the refresh margin, shared by processes that start one
// after another (3 processes × 50 goroutines a wave), against a server that
// rotates refresh tokens and revokes the grant on reuse. A process that
// starts just after another refreshed uses that token (it says when it was
// obtained) instead of refreshing it once more: one refresh per expiry, not
// one per process.
func TestShortLivedTokensRefreshOncePerExpiry(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 9 processes and waits for a token to expire")
	}
	const lifetime = 8 * time.Second
	srv := authtest.NewServer()
	defer srv.Close()
	srv.SetAccessTokenLifetime(lifetime)
	path := filepath.Join(t.TempDir(), "token.json")
	fs, err := filestore.New(path)
	require.NoError(t, err)
	require.NoError(t, fs.Save(t.Context(), srv.NewExpiredToken()))

	wave := func(name string) (locks int) {
		results := runWave(t, srv, path, "lock", 3, 50)
		ok := 0
		for _, r := range results {
			ok += r.OK
			locks += r.Locks
			assert.Empty(t, r.Errors, "%s: errors", name)
		}
		stats := srv.Stats()
		t.Logf("%s: %d/150 ok; lock acquisitions %d; refreshes so far %d, reuse %d", name, ok, locks, stats.Refreshes(), stats.RefreshTokenReuse)
		assert.Equal(t, 150, ok, "%s: requests answered 200", name)
		return locks
	}
	wave("wave 1, token expired")
	assert.Zero(t, wave("wave 2, new processes, token just refreshed"), "lock acquisitions when the stored token is valid")
	assert.Equal(t, 1, srv.Stats().Refreshes(), "refreshes after one expiry")
	tok, err := fs.Load(t.Context())
	require.NoError(t, err)
	time.Sleep(time.Until(tok.Expiry) + 200*time.Millisecond)
	wave("wave 3, new processes, token expired again")
	stats := srv.Stats()
	assert.Equal(t, 2, stats.Refreshes(), "refreshes for two expiries")
	assert.Equal(t, 2, stats.TokenRequests["refresh_token"][authtest.OutcomeOK], "refresh-token requests at the server")
	assert.Zero(t, stats.RefreshTokenReuse, "refresh-token reuse detected")
	assert.True(t, grantAlive(t, srv, fs), "the grant is still valid")
}

// grantAlive reports whether the token in fs still works: a request with its
// access token succeeds and its refresh token can be used.
func grantAlive(t *testing.T, srv *authtest.Server, fs *filestore.Store) bool {
	t.Helper()
	tok, err := fs.Load(t.Context())
	if err != nil {
		t.Logf("final token: %v", err)
		return false
	}
	base := &http.Transport{}
	defer base.CloseIdleConnections()
	client := &http.Client{Transport: &authtransport.Transport{Base: base, Store: authtransport.NewMemoryStore(tok)}}
	resp, err := client.Get(srv.ResourceURL("/final"))
	if err != nil {
		t.Logf("final request: %v", err)
		return false
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Logf("final request: status %d", resp.StatusCode)
		return false
	}
	ctx := context.WithValue(t.Context(), oauth2.HTTPClient, &http.Client{Transport: base})
	if _, err := authtransport.NewOAuth2Refresher(srv.Config()).Refresh(ctx, tok); err != nil {
		t.Logf("final refresh: %v", err)
		return false
	}
	return true
}

// scanFor reads lines until one equals want.
func scanFor(sc *bufio.Scanner, want string) bool {
	_, ok := scanPrefix(sc, want)
	return ok
}

// scanPrefix reads lines until one starts with prefix and returns the rest.
func scanPrefix(sc *bufio.Scanner, prefix string) (string, bool) {
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), prefix); ok {
			return rest, true
		}
	}
	return "", false
}

// countingStore counts the Load calls of the Store it wraps, and hides
// everything but Load and Save: it is not a LockingStore.
type countingStore struct {
	fs    *filestore.Store
	loads *atomic.Int32
	locks *atomic.Int32
}

func (s countingStore) Load(ctx context.Context) (*authtransport.Token, error) {
	s.loads.Add(1)
	return s.fs.Load(ctx)
}

func (s countingStore) Save(ctx context.Context, tok *authtransport.Token) error {
	return s.fs.Save(ctx, tok)
}

// countingLockingStore is a countingStore that passes the lock on.
type countingLockingStore struct{ countingStore }

func (s countingLockingStore) Lock(ctx context.Context) (func(), error) {
	s.locks.Add(1)
	return s.fs.Lock(ctx)
}

// countingLoginStore is a countingLockingStore that passes the login lock
// on.
type countingLoginStore struct{ countingLockingStore }

func (s countingLoginStore) LockLogin(ctx context.Context) (func(), error) {
	return s.fs.LockLogin(ctx)
}

// crossPublicClient is the public client the login children use.
const crossPublicClient = "xproc-cli"

// openByGET returns a login.Browser Open func that, instead of a browser,
// fetches the authorization URL and follows its redirects.
func openByGET(base http.RoundTripper) func(ctx context.Context, target string) error {
	return func(ctx context.Context, target string) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
		if err != nil {
			return err
		}
		resp, err := (&http.Client{Transport: base}).Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.Body.Close()
	}
}

// TestOneLoginAcrossProcesses: 4 processes × 25 goroutines start with an
// empty token file and a Transport that may log in (a browser login of a
// public client): exactly one login among them, every request succeeds,
// one token in the file. Without the login lock (the control row) each
// process logs in.
func TestOneLoginAcrossProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 8 processes")
	}
	for _, tt := range []struct {
		name, mode string
		logins     int
	}{
		{"with the login lock", "login", 1},
		{"without it (control)", "login-nolock", 4}, // at least 2
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := authtest.NewServer()
			defer srv.Close()
			srv.RegisterPublicClient(crossPublicClient)
			srv.SetTokenDelay(100 * time.Millisecond) // the processes surely overlap
			path := filepath.Join(t.TempDir(), "token.json")
			fs, err := filestore.New(path)
			require.NoError(t, err)

			results := runWave(t, srv, path, tt.mode, 4, 25)
			ok := 0
			for i, r := range results {
				ok += r.OK
				t.Logf("process %d: %d ok, errors %v", i, r.OK, r.Errors)
			}
			stats := srv.Stats()
			t.Logf("server: authorization requests %d, token requests %v", stats.AuthorizationRequests, stats.TokenRequests)
			if tt.logins == 1 {
				assert.Equal(t, 1, stats.AuthorizationRequests, "logins (authorization requests)")
			} else {
				assert.GreaterOrEqual(t, stats.AuthorizationRequests, 2, "without the lock the processes were expected to log in more than once")
			}
			assert.Equal(t, 100, ok, "requests answered 200")
			tok, err := fs.Load(t.Context())
			require.NoError(t, err, "a token in the file")
			assert.NotEmpty(t, tok.RefreshToken)
		})
	}
}

// crossProcessChild is the body of a child process: it waits for the go
// file, sends 25 requests at once through a Transport on the Store, and
// prints what happened.
func crossProcessChild(t *testing.T, mode string) {
	fs, err := filestore.New(os.Getenv(crossEnvPath))
	require.NoError(t, err)
	var loads, locks atomic.Int32
	var store authtransport.Store = countingStore{fs: fs, loads: &loads, locks: &locks}
	switch mode {
	case "lock":
		store = countingLockingStore{countingStore{fs: fs, loads: &loads, locks: &locks}}
	case "login":
		store = countingLoginStore{countingLockingStore{countingStore{fs: fs, loads: &loads, locks: &locks}}}
	case "login-nolock":
		store = countingLockingStore{countingStore{fs: fs, loads: &loads, locks: &locks}}
	}
	srvURL := os.Getenv(crossEnvURL)
	cfg := &oauth2.Config{
		ClientID:     authtest.DefaultClientID,
		ClientSecret: os.Getenv(crossEnvSecret),
		Endpoint:     oauth2.Endpoint{TokenURL: srvURL + "/token", AuthStyle: oauth2.AuthStyleInHeader},
	}
	base := &http.Transport{}
	defer base.CloseIdleConnections()
	tr := &authtransport.Transport{
		Base:      base,
		Store:     store,
		Refresher: authtransport.NewOAuth2Refresher(cfg),
	}
	if strings.HasPrefix(mode, "login") {
		// A public client that logs in with a browser; the browser here
		// follows authtest's /authorize, which approves at once, to the
		// login's loopback listener.
		cfg = &oauth2.Config{ClientID: crossPublicClient, Endpoint: oauth2.Endpoint{AuthURL: srvURL + "/authorize", TokenURL: srvURL + "/token"}}
		tr.Refresher = authtransport.NewOAuth2Refresher(cfg)
		tr.Login = (&login.Browser{Config: cfg, Open: openByGET(base), Output: io.Discard}).Login
	}
	client := &http.Client{Transport: tr}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// The refresher's token requests go through base too, so that no
	// connection outlives the child.
	ctx = context.WithValue(ctx, oauth2.HTTPClient, &http.Client{Transport: base})

	fmt.Println("READY")
	goFile := os.Getenv(crossEnvGo)
	for {
		if _, err := os.Stat(goFile); err == nil {
			break
		}
		require.NoError(t, ctx.Err(), "waiting for the go file")
		time.Sleep(time.Millisecond)
	}

	n := crossGoroutines
	if v := os.Getenv(crossEnvN); v != "" {
		n, err = strconv.Atoi(v)
		require.NoError(t, err)
	}
	res := crossResult{Status: map[int]int{}, Errors: map[string]int{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, srvURL+fmt.Sprintf("/api/items/%d", i), nil)
			if err != nil {
				panic(err)
			}
			resp, err := client.Do(req)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				var lr *authtransport.LoginRequiredError
				if errors.As(err, &lr) {
					res.Errors["login required: "+lr.Reason.String()]++
				} else {
					res.Errors[err.Error()]++
				}
				return
			}
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				res.OK++
			} else {
				res.Status[resp.StatusCode]++
			}
		})
	}
	wg.Wait()
	res.Loads, res.Locks = int(loads.Load()), int(locks.Load())
	data, err := json.Marshal(res)
	require.NoError(t, err)
	fmt.Printf("RESULT %s\n", data)
}
