package login_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/d5c4ca72/authtransport/authtest"
	"github.com/d5c4ca72/authtransport/login"
)

// Authorization servers that echo what they were sent, answer outside the
// protocol, or ask for polls too fast: whatever they do, no login error
// carries the login's secrets or terminal escapes, and the client does not
// hammer them.

const (
	hostileCode   = "CODE-4f8a1c2e9b7d6e5f"
	hostileSecret = "s3cr3t-client-secret-value"
	hostileDevice = "DEVICE-CODE-0123456789abcdef"
)

// codeServer answers /authorize with a redirect to the listener carrying
// the request's state and hostileCode, and /token with token.
func codeServer(t *testing.T, token http.HandlerFunc) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		u, err := url.Parse(q.Get("redirect_uri"))
		if err != nil {
			http.Error(w, "bad redirect_uri", http.StatusBadRequest)
			return
		}
		u.RawQuery = url.Values{"code": {hostileCode}, "state": {q.Get("state")}}.Encode()
		http.Redirect(w, r, u.String(), http.StatusFound)
	})
	mux.HandleFunc("/token", token)
	s := httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

// echoServer answers every HTTP request with its own body where a status
// line belongs, as a broken proxy or a non-HTTP service may: Go's
// transport quotes what it got in its error.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			req, err := http.ReadRequest(bufio.NewReader(c))
			if err == nil {
				body, _ := io.ReadAll(req.Body)
				_, _ = fmt.Fprintf(c, "%s\r\n\r\n", body)
			}
			c.Close()
		}
	}()
	return "http://" + ln.Addr().String() + "/token"
}

func browserLogin(t *testing.T, cfg *oauth2.Config) error {
	t.Helper()
	b := &browser{client: http.DefaultClient}
	flow := &login.Browser{Config: cfg, Open: b.Open, Output: io.Discard, Timeout: 10 * time.Second}
	tok, err := flow.Login(t.Context())
	require.Error(t, err)
	assert.Nil(t, tok)
	return err
}

func TestLoginErrorsNeverShowItsSecrets(t *testing.T) {
	tests := []struct {
		name  string
		token func(t *testing.T, as string) string // the token endpoint, given the code server's URL
		check func(t *testing.T, err error)
	}{
		{
			name:  "the transport quotes an echoed request",
			token: func(t *testing.T, _ string) string { return echoServer(t) },
			check: func(t *testing.T, err error) { assert.ErrorContains(t, err, "malformed HTTP") },
		},
		{
			name:  "a redirect whose path carries the code and verifier",
			token: func(t *testing.T, as string) string { return as + "/token" },
			check: func(t *testing.T, err error) {
				var rd *login.RedirectError
				require.ErrorAs(t, err, &rd)
				assert.Contains(t, rd.To, "/moved/REDACTED/REDACTED")
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			as := codeServer(t, func(w http.ResponseWriter, r *http.Request) {
				_ = r.ParseForm()
				w.Header().Set("Location", "/moved/"+r.PostForm.Get("code")+"/"+r.PostForm.Get("code_verifier"))
				w.WriteHeader(http.StatusTemporaryRedirect)
			})
			cfg := &oauth2.Config{ClientID: "cli", ClientSecret: hostileSecret, Endpoint: oauth2.Endpoint{
				AuthURL: as.URL + "/authorize", TokenURL: tt.token(t, as.URL), AuthStyle: oauth2.AuthStyleInParams}}
			err := browserLogin(t, cfg)
			tt.check(t, err)
			for _, secret := range []string{hostileCode, hostileSecret} {
				assert.NotContains(t, err.Error(), secret)
			}
		})
	}
	t.Run("the device flow's last failed poll, in its timeout", func(t *testing.T) {
		da := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, `{"device_code":%q,"user_code":"ABCD-EFGH","verification_uri":"https://example.com/device","interval":1,"expires_in":2}`, hostileDevice)
		}))
		t.Cleanup(da.Close)
		flow := &login.Device{Config: &oauth2.Config{ClientID: "tv", ClientSecret: hostileSecret,
			Endpoint: oauth2.Endpoint{DeviceAuthURL: da.URL, TokenURL: echoServer(t), AuthStyle: oauth2.AuthStyleInParams}}, Output: io.Discard}
		_, err := flow.Login(t.Context())
		require.ErrorIs(t, err, login.ErrTimeout, "still a timeout")
		assert.ErrorContains(t, err, "the last poll failed", "still says why")
		assert.NotContains(t, err.Error(), hostileDevice)
		assert.NotContains(t, err.Error(), hostileSecret)
	})
}

func TestErrorCodesOutsideTheGrammarAreNotShown(t *testing.T) {
	evil := "\x1b]8;;https://evil.example\x07invalid_grant\x1b]8;;\x07\n\x1b[2K signed in"
	as := codeServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": evil, "error_description": "\u202eevil\x1b[2J"})
	})
	err := browserLogin(t, &oauth2.Config{ClientID: "cli", Endpoint: oauth2.Endpoint{AuthURL: as.URL + "/authorize", TokenURL: as.URL + "/token"}})
	var re *login.ResponseError
	require.ErrorAs(t, err, &re, "not an OAuth error code (RFC 6749 §5.2)")
	assert.Equal(t, http.StatusBadRequest, re.StatusCode)
	assert.False(t, strings.ContainsFunc(err.Error(), func(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) }),
		"no control or formatting characters in %q", err)
}

func TestDeviceIntervalBelowASecondIsNotTaken(t *testing.T) {
	var polls atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("/device", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"device_code":"dc-0123456789","user_code":"ABCD","verification_uri":"https://example.com/device","interval":0.001,"expires_in":1}`)
	})
	mux.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) {
		polls.Add(1)
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"error":"authorization_pending"}`)
	})
	s := httptest.NewServer(mux)
	t.Cleanup(s.Close)
	flow := &login.Device{Config: &oauth2.Config{ClientID: "tv", Endpoint: oauth2.Endpoint{DeviceAuthURL: s.URL + "/device", TokenURL: s.URL + "/token"}},
		Output: io.Discard}
	_, err := flow.Login(t.Context())
	require.ErrorIs(t, err, login.ErrTimeout)
	assert.Zero(t, polls.Load(), "the default 5 s interval outlasts the 1 s code: no poll at 1 ms")
}

func TestDeviceRateLimitWithAnOAuthErrorSlowsDown(t *testing.T) {
	srv := newServer(t)
	srv.SetDeviceFlow(authtest.DeviceFlow{Interval: time.Second})
	srv.FailTokenRequests(1, authtest.Fault{Kind: authtest.FaultOAuthError, Code: "rate_limit_exceeded", Status: http.StatusTooManyRequests})
	cfg := srv.RegisterPublicClient("tv")
	inBubble(t, srv, func(t *testing.T, ctx context.Context, rec *recorder) {
		flow := &login.Device{Config: cfg, Prompt: func(context.Context, login.DevicePrompt) error { return nil }}
		tok, err := flow.Login(ctx)
		require.NoError(t, err, "a 429 is a reason to poll less often, not to give up (RFC 8628 §3.5)")
		assert.NotNil(t, tok)
		rec.mu.Lock()
		defer rec.mu.Unlock()
		require.GreaterOrEqual(t, len(rec.polls), 2)
		assert.Equal(t, 2*time.Second, rec.polls[1].Sub(rec.polls[0]), "the interval doubled after the 429")
	})
}

func TestBrowserRegisteredRedirectPathWithEscapes(t *testing.T) {
	var got string
	as := codeServer(t, func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		got = r.PostForm.Get("redirect_uri")
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"access_token":"at","token_type":"Bearer"}`)
	})
	b := &browser{client: http.DefaultClient}
	flow := &login.Browser{Config: &oauth2.Config{ClientID: "cli", RedirectURL: "http://127.0.0.1:0/my%20app/callback",
		Endpoint: oauth2.Endpoint{AuthURL: as.URL + "/authorize", TokenURL: as.URL + "/token"}},
		Open: b.Open, Output: io.Discard, Timeout: 10 * time.Second}
	tok, err := flow.Login(t.Context())
	require.NoError(t, err)
	assert.Equal(t, "at", tok.AccessToken)
	assert.Contains(t, got, "/my%20app/callback", "the redirect URI as registered")
	status, _ := b.shown()
	assert.Equal(t, http.StatusOK, status)
}
