//go:build linux || freebsd || openbsd || netbsd || dragonfly

package keyringstore

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/d5c4ca72/authtransport"
	"github.com/d5c4ca72/authtransport/authtest"
)

// Environment of the child processes of TestKeyringCrossProcessRefresh.
const (
	crossEnvChild   = "KEYRINGSTORE_XPROC_CHILD" // "lock" or "nolock"
	crossEnvURL     = "KEYRINGSTORE_XPROC_URL"
	crossEnvSecret  = "KEYRINGSTORE_XPROC_SECRET"
	crossEnvService = "KEYRINGSTORE_XPROC_SERVICE"
	crossEnvLock    = "KEYRINGSTORE_XPROC_LOCK"
	crossEnvGo      = "KEYRINGSTORE_XPROC_GO" // the file whose appearance starts the requests
)

const (
	crossProcesses  = 3
	crossGoroutines = 20
)

// crossResult is what a child process reports, as one JSON line after
// "RESULT ".
type crossResult struct {
	OK     int            `json:"ok"`     // requests answered 200
	Status map[int]int    `json:"status"` // other status codes
	Errors map[string]int `json:"errors"` // errors by kind
}

// TestKeyringCrossProcessRefresh runs 3 processes of 20 goroutines each,
// all on one token in the test Secret Service (they share its D-Bus
// session), against a token endpoint that rotates refresh tokens and
// revokes the grant when a used one comes back. The token is expired:
// with the store's lock, exactly one refresh reaches the server and every
// request succeeds. Without it (the control row) the processes refresh
// with the same refresh token and the server sees the reuse, which shows
// that the test detects what the lock prevents.
func TestKeyringCrossProcessRefresh(t *testing.T) {
	if mode := os.Getenv(crossEnvChild); mode != "" {
		crossProcessChild(t, mode)
		return
	}
	if testing.Short() {
		t.Skip("starts 6 processes")
	}
	requireKeyring(t)
	for _, lock := range []bool{true, false} {
		name := map[bool]string{true: "with lock", false: "without lock (control)"}[lock]
		t.Run(name, func(t *testing.T) {
			srv := authtest.NewServer()
			defer srv.Close()
			// A slow token endpoint makes processes that do not wait
			// for each other surely overlap.
			srv.SetTokenDelay(100 * time.Millisecond)

			s := realStore(t, Config{})
			require.NoError(t, s.Save(t.Context(), srv.NewExpiredToken()))
			goFile := filepath.Join(t.TempDir(), "go")
			mode := map[bool]string{true: "lock", false: "nolock"}[lock]

			var children []*exec.Cmd
			var readers []*bufio.Scanner
			for range crossProcesses {
				cmd := exec.Command(os.Args[0], "-test.run=^TestKeyringCrossProcessRefresh$", "-test.count=1")
				cmd.Env = append(os.Environ(),
					crossEnvChild+"="+mode,
					crossEnvURL+"="+srv.URL,
					crossEnvSecret+"="+srv.ClientSecret,
					crossEnvService+"="+s.service,
					crossEnvLock+"="+s.lock.path,
					crossEnvGo+"="+goFile,
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
				_, ok := scanPrefix(sc, "READY")
				require.True(t, ok, "child did not get ready")
				children = append(children, cmd)
				readers = append(readers, sc)
			}
			// Every child is waiting: start them at the same moment.
			require.NoError(t, os.WriteFile(goFile, nil, 0o600))
			ok := 0
			for i, cmd := range children {
				line, found := scanPrefix(readers[i], "RESULT ")
				require.True(t, found, "child %d sent no result", i)
				var r crossResult
				require.NoError(t, json.Unmarshal([]byte(line), &r))
				require.NoError(t, cmd.Wait(), "child %d", i)
				ok += r.OK
				t.Logf("process %d: %d ok, other statuses %v, errors %v", i, r.OK, r.Status, r.Errors)
			}

			stats := srv.Stats()
			refreshRequests := 0
			for _, n := range stats.TokenRequests["refresh_token"] {
				refreshRequests += n
			}
			t.Logf("server: refresh_token requests %v, reuse detected %d, resource requests %v",
				stats.TokenRequests["refresh_token"], stats.RefreshTokenReuse, stats.ResourceRequests)
			if lock {
				assert.Equal(t, 1, refreshRequests, "refresh-token requests at the server")
				assert.Equal(t, 1, stats.Refreshes(), "successful refreshes")
				assert.Zero(t, stats.RefreshTokenReuse, "refresh-token reuse detected")
				assert.Equal(t, crossProcesses*crossGoroutines, ok, "requests answered 200")
				tok, err := s.Load(t.Context())
				require.NoError(t, err, "the refreshed token is in the keyring")
				assert.True(t, tok.Expiry.After(time.Now()), "the stored token is the refreshed one")
				return
			}
			assert.True(t, refreshRequests > 1 || stats.RefreshTokenReuse > 0,
				"without the lock the processes were expected to refresh more than once; refresh requests %d, reuse %d", refreshRequests, stats.RefreshTokenReuse)
		})
	}
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

// unlockedStore hides the Lock of a Store: a Transport on it refreshes
// without the lock.
type unlockedStore struct{ s *Store }

func (u unlockedStore) Load(ctx context.Context) (*authtransport.Token, error) { return u.s.Load(ctx) }
func (u unlockedStore) Save(ctx context.Context, tok *authtransport.Token) error {
	return u.s.Save(ctx, tok)
}

// crossProcessChild is the body of a child process: it waits for the go
// file, sends 20 requests at once through a Transport on the Store, and
// prints what happened.
func crossProcessChild(t *testing.T, mode string) {
	s, err := New(Config{Service: os.Getenv(crossEnvService), Account: "alice@example.com", LockPath: os.Getenv(crossEnvLock)})
	require.NoError(t, err)
	var store authtransport.Store = s
	if mode == "nolock" {
		store = unlockedStore{s}
	}
	srvURL := os.Getenv(crossEnvURL)
	cfg := &oauth2.Config{
		ClientID:     authtest.DefaultClientID,
		ClientSecret: os.Getenv(crossEnvSecret),
		Endpoint:     oauth2.Endpoint{TokenURL: srvURL + "/token", AuthStyle: oauth2.AuthStyleInHeader},
	}
	base := &http.Transport{}
	defer base.CloseIdleConnections()
	client := &http.Client{Transport: &authtransport.Transport{Base: base, Store: store, Refresher: authtransport.NewOAuth2Refresher(cfg)}}
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

	res := crossResult{Status: map[int]int{}, Errors: map[string]int{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range crossGoroutines {
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
	data, err := json.Marshal(res)
	require.NoError(t, err)
	fmt.Printf("RESULT %s\n", data)
}
