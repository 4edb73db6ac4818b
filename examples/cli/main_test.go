package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/d5c4ca72/authtransport/authtest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestDefaultsMatchAuthtest(t *testing.T) {
	assert.Equal(t, authtest.DefaultClientID, defaultClientID)
}

// browser returns a stand-in for the user's browser: it GETs the
// authorization URL, which authtest approves at once, and follows the
// redirect back to cli's loopback listener.
func browser(srv *authtest.Server) func(ctx context.Context, url string) error {
	return func(ctx context.Context, url string) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.Body.Close()
	}
}

// TestCommands runs the commands in order against one authtest server and
// one token file, as a user would, and checks their exit status and
// messages.
func TestCommands(t *testing.T) {
	srv := authtest.NewServer()
	defer srv.Close()
	tokenFile := filepath.Join(t.TempDir(), "cfg", "token.json")
	flags := []string{"-server", srv.URL, "-token-file", tokenFile, "-client-secret", srv.ClientSecret}
	loginHint := "Run `cli -server " + srv.URL + " -token-file " + tokenFile + " login` to sign in again."

	tests := []struct {
		name       string
		setup      func(t *testing.T)
		args       []string
		wantCode   int
		wantStdout []string
		wantStderr []string
		check      func(t *testing.T)
	}{
		{
			name: "get before login", args: []string{"get", "/api/items"}, wantCode: exitLoginRequired,
			wantStderr: []string{"login required: you are not logged in", loginHint},
		},
		{
			name: "login", args: []string{"login"}, wantCode: exitOK,
			wantStdout: []string{"Opening your browser to sign in", srv.URL + "/authorize?", "Logged in. Token saved to " + tokenFile},
			check: func(t *testing.T) {
				fi, err := os.Stat(tokenFile)
				require.NoError(t, err, "token file")
				if runtime.GOOS != "windows" {
					assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
				}
				assert.Equal(t, 1, srv.Stats().TokenRequests["authorization_code"][authtest.OutcomeOK], "code exchanges")
			},
		},
		{
			name: "get", args: []string{"get", "/api/items"}, wantCode: exitOK,
			wantStdout: []string{"{"},
			check: func(t *testing.T) {
				assert.Zero(t, srv.Stats().Refreshes(), "no refresh needed")
			},
		},
		{
			name: "get after the access token was revoked refreshes", args: []string{"get", "api/items"}, wantCode: exitOK,
			setup:      func(t *testing.T) { srv.RevokeAccessTokens() },
			wantStdout: []string{"{"},
			check: func(t *testing.T) {
				assert.Equal(t, 1, srv.Stats().Refreshes(), "one refresh")
			},
		},
		{
			name: "the refreshed token was saved for the next run", args: []string{"get", "/api/items"}, wantCode: exitOK,
			check: func(t *testing.T) {
				assert.Equal(t, 1, srv.Stats().Refreshes(), "no second refresh")
			},
		},
		{
			name: "get of a missing resource", args: []string{"get", "/nothing"}, wantCode: exitFailure,
			wantStderr: []string{"/nothing answered 404"},
		},
		{
			name: "get after the grant was revoked", args: []string{"get", "/api/items"}, wantCode: exitLoginRequired,
			setup:      func(t *testing.T) { srv.RevokeGrant() },
			wantStderr: []string{"login required: your session has ended", loginHint},
		},
		{name: "login again", args: []string{"login"}, wantCode: exitOK, wantStdout: []string{"Logged in."}},
		{name: "get after logging in again", args: []string{"get", "/api/items"}, wantCode: exitOK},
		{
			name: "login on another device", args: []string{"login", "--device"}, wantCode: exitOK,
			wantStdout: []string{"To sign in, open " + srv.URL + "/device and enter the code ", "Logged in."},
			check: func(t *testing.T) {
				assert.Equal(t, 1, srv.Stats().DeviceAuthorizations, "one device authorization")
			},
		},
		{name: "get after the device login", args: []string{"get", "/api/items"}, wantCode: exitOK},
		{
			name: "a declined device login leaves the token", args: []string{"login", "-device"}, wantCode: exitFailure,
			setup:      func(t *testing.T) { srv.SetDeviceFlow(authtest.DeviceFlow{Deny: true}) },
			wantStderr: []string{"cli: the sign-in was declined."},
		},
		{name: "still logged in", args: []string{"get", "/api/items"}, wantCode: exitOK},
		{
			name: "corrupt token file", args: []string{"get", "/api/items"}, wantCode: exitLoginRequired,
			setup: func(t *testing.T) {
				require.NoError(t, os.WriteFile(tokenFile, []byte(`{"version":1,"tok`), 0o600))
			},
			wantStderr: []string{"the token file " + tokenFile + " is damaged", "A copy was kept at " + tokenFile + ".corrupt-", loginHint},
		},
		{name: "login over the corrupt file", args: []string{"login"}, wantCode: exitOK},
		{
			name: "token file readable by others", args: []string{"get", "/api/items"}, wantCode: exitLoginRequired,
			setup: func(t *testing.T) {
				if runtime.GOOS == "windows" {
					t.Skip("no permission bits on Windows")
				}
				require.NoError(t, os.Chmod(tokenFile, 0o644))
			},
			wantStderr: []string{"may be read by other users (mode 0644)", "chmod 600 " + tokenFile},
		},
		{
			name: "logout", args: []string{"logout"}, wantCode: exitOK,
			wantStdout: []string{"Logged out. Removed " + tokenFile},
			check: func(t *testing.T) {
				assert.NoFileExists(t, tokenFile)
			},
		},
		{
			name: "get after logout", args: []string{"get", "/api/items"}, wantCode: exitLoginRequired,
			wantStderr: []string{"you are not logged in", loginHint},
		},
		{
			name: "wrong client secret", args: []string{"-client-secret", "wrong", "login"}, wantCode: exitFailure,
			wantStderr: []string{"the authorization server refused the login: invalid_client"},
		},
		{
			name: "login as a public client", args: []string{"-client-id", "public-cli", "-client-secret", "", "login"}, wantCode: exitOK,
			setup: func(t *testing.T) { srv.RegisterPublicClient("public-cli") },
		},
		{
			name: "get refreshes as the public client", args: []string{"-client-id", "public-cli", "-client-secret", "", "get", "/api/items"}, wantCode: exitOK,
			setup: func(t *testing.T) { srv.RevokeAccessTokens() },
		},
		{name: "no command", args: nil, wantCode: exitUsage, wantStderr: []string{"usage: cli"}},
		{name: "unknown command", args: []string{"frobnicate"}, wantCode: exitUsage, wantStderr: []string{"usage: cli"}},
		{name: "get without a path", args: []string{"get"}, wantCode: exitUsage, wantStderr: []string{"usage: cli"}},
		{name: "login with an unknown flag", args: []string{"login", "--fast"}, wantCode: exitUsage, wantStderr: []string{"usage: cli"}},
		{name: "logout with an argument", args: []string{"logout", "now"}, wantCode: exitUsage, wantStderr: []string{"usage: cli"}},
	}
	for _, tt := range tests {
		ok := t.Run(tt.name, func(t *testing.T) {
			if tt.setup != nil {
				tt.setup(t)
			}
			var stdout, stderr bytes.Buffer
			args := tt.args
			if len(args) > 0 {
				args = append(append([]string(nil), flags...), args...)
			}
			code := run(t.Context(), args, &stdout, &stderr, browser(srv))
			assert.Equal(t, tt.wantCode, code, "exit status; stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
			for _, w := range tt.wantStdout {
				assert.Contains(t, stdout.String(), w, "stdout")
			}
			for _, w := range tt.wantStderr {
				assert.Contains(t, stderr.String(), w, "stderr")
			}
			assert.NotContains(t, stdout.String()+stderr.String(), srv.ClientSecret, "the client secret is never printed")
			if tt.check != nil {
				tt.check(t)
			}
		})
		if !ok && tt.wantCode == exitOK {
			t.Fatalf("step %q failed; the steps after it depend on it", tt.name)
		}
	}
}

func TestQuoteArg(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain", "http://127.0.0.1:8765", "http://127.0.0.1:8765"},
		{"space", "/a b/token.json", "'/a b/token.json'"},
		{"quote", "it's", `'it'\''s'`},
		{"empty", "", "''"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, quoteArg(tt.in))
		})
	}
}

func TestNoSecretInMessages(t *testing.T) {
	// The token file path never reaches a message with the token itself.
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), []string{"-server", "http://127.0.0.1:1", "-token-file", filepath.Join(t.TempDir(), "t.json"), "-client-secret", "s3cret", "login"}, &stdout, &stderr, nil)
	assert.Equal(t, exitFailure, code, "no server listening")
	assert.NotContains(t, stdout.String()+stderr.String(), "s3cret")
	assert.False(t, strings.Contains(stderr.String(), "state="), "the authorization request's query is not printed: %s", stderr.String())
}
