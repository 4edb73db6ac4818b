package login_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/d5c4ca72/authtransport"
	"github.com/d5c4ca72/authtransport/authtest"
	"github.com/d5c4ca72/authtransport/login"
)

// The device tests run under synctest, so that the intervals of RFC 8628
// (5 s and more) pass at once: the server is started outside the bubble
// and reached through its in-memory transport, and it reads the bubble's
// clock.

// inBubble runs f in a synctest bubble with srv on the bubble's clock and
// a context whose HTTP client reaches srv in memory through rec.
func inBubble(t *testing.T, srv *authtest.Server, f func(t *testing.T, ctx context.Context, rec *recorder)) {
	t.Helper()
	synctest.Test(t, func(t *testing.T) {
		srv.SetNow(time.Now) // the bubble's time.Now
		defer srv.SetNow(nil)
		rec := &recorder{base: srv.InMemoryTransport()}
		f(t, withClient(t.Context(), &http.Client{Transport: rec}), rec)
	})
}

// recorder is a RoundTripper that notes when each token request was sent.
type recorder struct {
	base http.RoundTripper

	mu    sync.Mutex // guards polls
	polls []time.Time
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if strings.HasSuffix(req.URL.Path, "/token") {
		r.mu.Lock()
		r.polls = append(r.polls, time.Now())
		r.mu.Unlock()
	}
	return r.base.RoundTrip(req)
}

// intervals returns the gaps between start and each of times.
func intervals(start time.Time, times []time.Time) []time.Duration {
	var out []time.Duration
	for _, t := range times {
		out = append(out, t.Sub(start))
		start = t
	}
	return out
}

// api returns the status of a GET of the API with tok, in memory.
func api(t *testing.T, srv *authtest.Server, tok *authtransport.Token) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.ResourceURL("items"), nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err := srv.InMemoryTransport().RoundTrip(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

// The figure of issue 11: 3 pending polls and one slow_down, with the
// server's interval of 5 s.
func TestDevicePollIntervals(t *testing.T) {
	srv := newServer(t)
	cfg := srv.RegisterPublicClient("tv")
	srv.SetDeviceFlow(authtest.DeviceFlow{Interval: 5 * time.Second, PendingPolls: 3, SlowDownPolls: []int{2}})
	inBubble(t, srv, func(t *testing.T, ctx context.Context, _ *recorder) {
		var shown time.Time
		flow := &login.Device{Config: cfg, Prompt: func(ctx context.Context, p login.DevicePrompt) error {
			shown = time.Now()
			return nil
		}}
		tok, err := flow.Login(ctx)
		require.NoError(t, err)
		got := intervals(shown, srv.DevicePollTimes())
		t.Logf("poll intervals seen by the server: %v", got)
		assert.Equal(t, []time.Duration{5 * time.Second, 5 * time.Second, 10 * time.Second, 10 * time.Second, 10 * time.Second}, got,
			"5 s, then 5 s more for every poll after the slow_down")
		st := srv.Stats().TokenRequests[authtest.DeviceCodeGrantType]
		assert.Equal(t, map[string]int{"authorization_pending": 3, "slow_down": 1, authtest.OutcomeOK: 1}, st, "the server's answers")
		assert.Equal(t, http.StatusOK, api(t, srv, tok), "the token works")
		assert.Equal(t, shown.Add(40*time.Second), tok.ObtainedAt, "ObtainedAt is when the last poll was sent")
	})
}

func TestDeviceLogin(t *testing.T) {
	tests := []struct {
		name            string
		flow            authtest.DeviceFlow
		faults          []authtest.Fault // on the token endpoint
		confidential    bool
		timeout         time.Duration   // the caller's context
		jumpServerClock bool            // the server's clock jumps past the code's expiry after the prompt
		wantGaps        []time.Duration // between the prompt and each token request the client sent
		check           func(t *testing.T, tok *authtransport.Token, err error)
	}{
		{
			name: "approved at the first poll", wantGaps: []time.Duration{time.Second},
			check: func(t *testing.T, tok *authtransport.Token, err error) { require.NoError(t, err) },
		},
		{
			name: "no interval from the server: 5 s", flow: authtest.DeviceFlow{Interval: -1}, wantGaps: []time.Duration{5 * time.Second},
			check: func(t *testing.T, tok *authtransport.Token, err error) { require.NoError(t, err) },
		},
		{
			name: "a confidential client", confidential: true, wantGaps: []time.Duration{time.Second},
			check: func(t *testing.T, tok *authtransport.Token, err error) { require.NoError(t, err) },
		},
		{
			name: "denied", flow: authtest.DeviceFlow{PendingPolls: 1, Deny: true}, wantGaps: []time.Duration{time.Second, time.Second},
			check: func(t *testing.T, tok *authtransport.Token, err error) {
				var oe *login.OAuthError
				require.ErrorAs(t, err, &oe)
				assert.Equal(t, "access_denied", oe.Code)
				assert.NotErrorIs(t, err, login.ErrTimeout)
			},
		},
		{
			name: "the code expires while the user hesitates", flow: authtest.DeviceFlow{Interval: 5 * time.Second, ExpiresIn: 30 * time.Second, PendingPolls: 100},
			wantGaps: []time.Duration{5 * time.Second, 5 * time.Second, 5 * time.Second, 5 * time.Second, 5 * time.Second},
			check: func(t *testing.T, tok *authtransport.Token, err error) {
				assert.Equal(t, login.ErrTimeout, err, "no poll after the code's expiry")
			},
		},
		{
			name: "the server says expired_token", flow: authtest.DeviceFlow{PendingPolls: 100}, jumpServerClock: true,
			wantGaps: []time.Duration{time.Second},
			check: func(t *testing.T, tok *authtransport.Token, err error) {
				var oe *login.OAuthError
				require.ErrorAs(t, err, &oe)
				assert.Equal(t, "expired_token", oe.Code)
				assert.ErrorIs(t, err, login.ErrTimeout, "an expired code is a timeout")
			},
		},
		{
			name: "the caller gives up", flow: authtest.DeviceFlow{PendingPolls: 100}, timeout: 2500 * time.Millisecond,
			wantGaps: []time.Duration{time.Second, time.Second},
			check: func(t *testing.T, tok *authtransport.Token, err error) {
				assert.ErrorIs(t, err, context.DeadlineExceeded)
				assert.NotErrorIs(t, err, login.ErrTimeout)
			},
		},
		{
			name: "5xx answers double the interval", faults: []authtest.Fault{{Kind: authtest.FaultStatus}, {Kind: authtest.FaultStatus, Status: 502}},
			wantGaps: []time.Duration{time.Second, 2 * time.Second, 4 * time.Second},
			check: func(t *testing.T, tok *authtransport.Token, err error) {
				require.NoError(t, err, "the login survives a failing token endpoint")
			},
		},
		{
			name: "429 and a reset too", faults: []authtest.Fault{{Kind: authtest.FaultRateLimit}, {Kind: authtest.FaultReset}},
			wantGaps: []time.Duration{time.Second, 2 * time.Second, 4 * time.Second},
			check:    func(t *testing.T, tok *authtransport.Token, err error) { require.NoError(t, err) },
		},
		{
			name: "a poll answered with garbage", faults: []authtest.Fault{{Kind: authtest.FaultGarbage}},
			wantGaps: []time.Duration{time.Second},
			check: func(t *testing.T, tok *authtransport.Token, err error) {
				var re *login.ResponseError
				require.ErrorAs(t, err, &re)
				assert.Equal(t, "the token answer is not JSON", re.Reason)
			},
		},
		{
			name: "a poll refused for the client", faults: []authtest.Fault{{Kind: authtest.FaultOAuthError, Code: "invalid_client", Status: 401}},
			wantGaps: []time.Duration{time.Second},
			check: func(t *testing.T, tok *authtransport.Token, err error) {
				var oe *login.OAuthError
				require.ErrorAs(t, err, &oe)
				assert.Equal(t, "invalid_client", oe.Code)
				assert.Equal(t, http.StatusUnauthorized, oe.StatusCode)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t)
			srv.SetDeviceFlow(tt.flow)
			for _, f := range tt.faults {
				srv.FailTokenRequests(1, f)
			}
			cfg := srv.RegisterPublicClient("tv")
			if tt.confidential {
				cfg = srv.Config()
			}
			inBubble(t, srv, func(t *testing.T, ctx context.Context, rec *recorder) {
				if tt.timeout > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tt.timeout)
					defer cancel()
				}
				var shown time.Time
				var prompt login.DevicePrompt
				flow := &login.Device{Config: cfg, Prompt: func(ctx context.Context, p login.DevicePrompt) error {
					shown, prompt = time.Now(), p
					if tt.jumpServerClock {
						srv.SetNow(func() time.Time { return time.Now().Add(time.Hour) })
					}
					return nil
				}}
				tok, err := flow.Login(ctx)
				tt.check(t, tok, err)
				if err == nil {
					assert.Equal(t, http.StatusOK, api(t, srv, tok), "the token works")
					assert.NotEmpty(t, tok.RefreshToken)
				} else {
					assert.Nil(t, tok, "no token with an error")
					assert.True(t, strings.HasPrefix(err.Error(), "login: "), "the message %q starts with the package name", err)
				}
				assert.Equal(t, tt.wantGaps, intervals(shown, rec.polls), "the client's pace")
				assert.Regexp(t, `^[B-Z]{4}-[B-Z]{4}$`, prompt.UserCode, "the prompt's user code")
				assert.Equal(t, srv.URL+"/device", prompt.VerificationURI)
				assert.Equal(t, srv.URL+"/device?user_code="+prompt.UserCode, prompt.VerificationURIComplete)
				assert.Equal(t, 1, srv.Stats().DeviceAuthorizations, "one device authorization")
			})
		})
	}
}

func TestDeviceResource(t *testing.T) {
	srv := newServer(t)
	cfg := srv.RegisterPublicClient("tv")
	for _, tt := range []struct {
		resource string
		want     int
	}{{"", http.StatusOK}, {srv.URL + "/api/", http.StatusOK}, {"https://other.example/", http.StatusUnauthorized}} {
		inBubble(t, srv, func(t *testing.T, ctx context.Context, _ *recorder) {
			flow := &login.Device{Config: cfg, Resource: tt.resource, Output: io.Discard}
			tok, err := flow.Login(ctx)
			require.NoError(t, err)
			assert.Equal(t, tt.want, api(t, srv, tok), "the API's answer to a token for resource %q", tt.resource)
		})
	}
}

func TestDevicePromptOutput(t *testing.T) {
	srv := newServer(t)
	cfg := srv.RegisterPublicClient("tv")
	inBubble(t, srv, func(t *testing.T, ctx context.Context, _ *recorder) {
		var out strings.Builder
		_, err := (&login.Device{Config: cfg, Output: &out}).Login(ctx)
		require.NoError(t, err)
		assert.Regexp(t, `^To sign in, open `+srv.URL+`/device and enter the code [B-Z]{4}-[B-Z]{4}\n\(or open `+srv.URL+`/device\?user_code=[B-Z-]{9}\)\nThe code expires in 10m0s\.\n$`, out.String())
	})
	t.Run("a prompt that fails ends the login", func(t *testing.T) {
		inBubble(t, srv, func(t *testing.T, ctx context.Context, rec *recorder) {
			boom := errors.New("no terminal")
			_, err := (&login.Device{Config: cfg, Prompt: func(context.Context, login.DevicePrompt) error { return boom }}).Login(ctx)
			assert.ErrorIs(t, err, boom)
			assert.Empty(t, rec.polls, "no poll")
		})
	})
}

func TestDeviceAuthorizationRefusals(t *testing.T) {
	srv := newServer(t)
	cfg := srv.RegisterPublicClient("tv")
	// custom serves a device authorization endpoint that answers body
	// with status.
	custom := func(t *testing.T, status int, body string) *oauth2.Config {
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/elsewhere" {
				return
			}
			if status == http.StatusFound {
				http.Redirect(w, r, "/elsewhere", status)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			fmt.Fprint(w, body)
		}))
		t.Cleanup(ts.Close)
		c := *cfg
		c.Endpoint.DeviceAuthURL = ts.URL + "/device_authorization"
		return &c
	}
	tests := []struct {
		name  string
		fault *authtest.Fault
		cfg   func(t *testing.T) *oauth2.Config
		check func(t *testing.T, err error)
	}{
		{
			name: "garbage", fault: &authtest.Fault{Kind: authtest.FaultGarbage},
			check: func(t *testing.T, err error) {
				var re *login.ResponseError
				require.ErrorAs(t, err, &re)
				assert.Equal(t, srv.DeviceAuthURL(), re.URL)
				assert.Equal(t, http.StatusOK, re.StatusCode)
				assert.Equal(t, "the device authorization answer is not JSON", re.Reason)
			},
		},
		{
			name: "a 503 page", fault: &authtest.Fault{Kind: authtest.FaultStatus},
			check: func(t *testing.T, err error) {
				var re *login.ResponseError
				require.ErrorAs(t, err, &re)
				assert.Equal(t, http.StatusServiceUnavailable, re.StatusCode)
			},
		},
		{
			name: "an OAuth error", fault: &authtest.Fault{Kind: authtest.FaultOAuthError, Code: "invalid_scope"},
			check: func(t *testing.T, err error) {
				var oe *login.OAuthError
				require.ErrorAs(t, err, &oe)
				assert.Equal(t, "invalid_scope", oe.Code)
				assert.Equal(t, srv.DeviceAuthURL(), oe.Endpoint)
			},
		},
		{
			name: "an unknown client", cfg: func(*testing.T) *oauth2.Config { c := *cfg; c.ClientID = "nobody"; return &c },
			check: func(t *testing.T, err error) {
				var oe *login.OAuthError
				require.ErrorAs(t, err, &oe)
				assert.Equal(t, "invalid_client", oe.Code)
			},
		},
		{
			name: "no device code", cfg: func(t *testing.T) *oauth2.Config {
				return custom(t, 200, `{"user_code":"A","verification_uri":"https://x/"}`)
			},
			check: func(t *testing.T, err error) {
				var re *login.ResponseError
				require.ErrorAs(t, err, &re)
				assert.Contains(t, re.Reason, "no device_code")
			},
		},
		{
			name: "control characters for the terminal", cfg: func(t *testing.T) *oauth2.Config {
				return custom(t, 200, `{"device_code":"d","user_code":"\u001b[2J","verification_uri":"https://x/"}`)
			},
			check: func(t *testing.T, err error) {
				var re *login.ResponseError
				require.ErrorAs(t, err, &re)
				assert.Contains(t, re.Reason, "control or formatting characters")
			},
		},
		{
			name: "a right-to-left override in the URI", cfg: func(t *testing.T) *oauth2.Config {
				return custom(t, 200, `{"device_code":"d","user_code":"A","verification_uri":"https://login.example\u202e/moc.live//:sptth"}`)
			},
			check: func(t *testing.T, err error) {
				var re *login.ResponseError
				require.ErrorAs(t, err, &re)
				assert.Contains(t, re.Reason, "control or formatting characters")
			},
		},
		{
			name: "a javascript: verification URI", cfg: func(t *testing.T) *oauth2.Config {
				return custom(t, 200, `{"device_code":"d","user_code":"A","verification_uri":"javascript:alert(1)"}`)
			},
			check: func(t *testing.T, err error) {
				var re *login.ResponseError
				require.ErrorAs(t, err, &re)
				assert.Contains(t, re.Reason, "not an https URL")
			},
		},
		{
			name: "a file: complete verification URI", cfg: func(t *testing.T) *oauth2.Config {
				return custom(t, 200, `{"device_code":"d","user_code":"A","verification_uri":"https://x/","verification_uri_complete":"file:///etc/passwd"}`)
			},
			check: func(t *testing.T, err error) {
				var re *login.ResponseError
				require.ErrorAs(t, err, &re)
				assert.Contains(t, re.Reason, "not an https URL")
			},
		},
		{
			name: "plain http verification URI to another host", cfg: func(t *testing.T) *oauth2.Config {
				return custom(t, 200, `{"device_code":"d","user_code":"A","verification_uri":"http://login.example/device"}`)
			},
			check: func(t *testing.T, err error) {
				var re *login.ResponseError
				require.ErrorAs(t, err, &re)
				assert.Contains(t, re.Reason, "not an https URL")
			},
		},
		{
			name: "a redirect", cfg: func(t *testing.T) *oauth2.Config { return custom(t, http.StatusFound, "") },
			check: func(t *testing.T, err error) {
				var rd *login.RedirectError
				require.ErrorAs(t, err, &rd, "the device authorization request follows no redirect")
				assert.Equal(t, http.StatusFound, rd.StatusCode)
				assert.True(t, strings.HasSuffix(rd.To, "/elsewhere"), "the target %s", rd.To)
			},
		},
		{
			name: "no device authorization endpoint", cfg: func(*testing.T) *oauth2.Config { c := *cfg; c.Endpoint.DeviceAuthURL = ""; return &c },
			check: func(t *testing.T, err error) { assert.ErrorContains(t, err, "device authorization endpoint") },
		},
		{
			name: "plain http to another host", cfg: func(*testing.T) *oauth2.Config {
				c := *cfg
				c.Endpoint.DeviceAuthURL = "http://as.example/device"
				return &c
			},
			check: func(t *testing.T, err error) { assert.ErrorContains(t, err, "is not https") },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv.ResetStats()
			if tt.fault != nil {
				srv.FailDeviceAuthorizations(1, *tt.fault)
			}
			c := cfg
			if tt.cfg != nil {
				c = tt.cfg(t)
			}
			prompted := false
			flow := &login.Device{Config: c, Prompt: func(context.Context, login.DevicePrompt) error { prompted = true; return nil }}
			tok, err := flow.Login(withClient(t.Context(), srv.Client()))
			require.Error(t, err)
			assert.Nil(t, tok)
			tt.check(t, err)
			assert.False(t, prompted, "the user is not prompted")
			assert.Zero(t, srv.Stats().TokenRequestsTotal(), "no poll")
		})
	}
}
