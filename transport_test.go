package authtransport_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d5c4ca72/authtransport"
	"github.com/d5c4ca72/authtransport/authtest"
)

// A static token without expiry and no Refresher serves every request.
func TestStaticTokenWithoutExpiryOrRefresher(t *testing.T) {
	a := newAPI("static")
	tr := &authtransport.Transport{Base: a, Store: authtransport.NewMemoryStore(&authtransport.Token{AccessToken: "static"})}
	c := &http.Client{Transport: tr}
	for i := range 3 {
		resp, err := get(t, c, context.Background())
		if !assert.NoError(t, err, "request %d", i+1) {
			continue
		}
		assert.Equal(t, 200, resp.StatusCode)
	}
}

// Without a Refresher, a token inside the margin but valid for 30 s more
// is served.
func TestNoRefresherServesTokenInsideMargin(t *testing.T) {
	a := newAPI("x")
	x := &authtransport.Token{AccessToken: "x", Expiry: time.Now().Add(30 * time.Second)}
	tr := &authtransport.Transport{Base: a, Store: authtransport.NewMemoryStore(x)}
	_, err := get(t, &http.Client{Transport: tr}, context.Background())
	assert.NoError(t, err, "a token valid for 30s more")
}

// A 401 with only a non-Bearer challenge (a proxy's Basic) spends no
// refresh and reaches the caller.
func TestOtherSchemeChallengeDoesNotRefresh(t *testing.T) {
	ref := &countingRefresher{}
	base := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		return respond(req, 401, `Basic realm="corp-proxy"`), nil
	})
	tr := &authtransport.Transport{Base: base, Store: authtransport.NewMemoryStore(valid("x")), Refresher: ref}
	resp, err := get(t, &http.Client{Transport: tr}, context.Background())
	require.NoError(t, err)
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "the caller gets the proxy's 401")
	assert.Equal(t, int32(0), ref.calls.Load(), "refreshes for a 401 that is not about the bearer token")
}

// A 401 without a body (a Base that returns one) is handled like any other:
// one refresh, one resend, and the second 401 ends in a login error.
func TestRejectionWithNilBody(t *testing.T) {
	var sent atomic.Int32
	base := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		sent.Add(1)
		return &http.Response{StatusCode: 401, Header: http.Header{}, Request: req}, nil
	})
	ref := &countingRefresher{}
	tr := &authtransport.Transport{Base: base, Store: authtransport.NewMemoryStore(valid("x")), Refresher: ref}
	req, _ := http.NewRequestWithContext(context.Background(), "GET", "https://api.example/", nil)
	resp, err := tr.RoundTrip(req)
	assert.Nil(t, resp)
	var lr *authtransport.LoginRequiredError
	require.ErrorAs(t, err, &lr)
	assert.Equal(t, authtransport.ReasonRejectedAfterRefresh, lr.Reason)
	assert.Equal(t, int32(2), sent.Load(), "sent, then resent once")
	assert.Equal(t, int32(1), ref.calls.Load(), "refreshed once")
}

func TestNonReplayableBody(t *testing.T) {
	a := newAPI() // "old" is not accepted
	ref := &countingRefresher{api: a}
	tr := &authtransport.Transport{Base: a, Store: authtransport.NewMemoryStore(valid("old")), Refresher: ref}
	c := &http.Client{Transport: tr}

	body := &closeCounter{Reader: strings.NewReader("payload")}
	req, err := http.NewRequest(http.MethodPost, "https://api.example/v1/things", body)
	require.NoError(t, err)
	require.Nil(t, req.GetBody, "precondition: the body cannot be replayed")
	_, err = c.Do(req)

	require.ErrorIs(t, err, authtransport.ErrBodyNotReplayable)
	assert.NotErrorIs(t, err, authtransport.ErrLoginRequired, "no login is needed")
	assert.Equal(t, int32(1), body.closes.Load(), "body closed once")
	assert.Equal(t, []string{"Bearer old"}, a.requests(), "no resend")
	assert.Equal(t, int32(1), ref.calls.Load(), "the token was refreshed")

	resp, err := get(t, c, context.Background())
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "Bearer tok-1", a.requests()[1], "the next request uses the refreshed token")
}

func TestAlways401RetriesOnceThenLoginRequired(t *testing.T) {
	a := newAPI() // accepts nothing, even refreshed tokens
	ref := authtransport.RefresherFunc(func(ctx context.Context, _ *authtransport.Token) (*authtransport.Token, error) {
		return valid("new"), nil
	})
	tr := &authtransport.Transport{Base: a, Store: authtransport.NewMemoryStore(valid("old")), Refresher: ref}
	_, err := get(t, &http.Client{Transport: tr}, context.Background())

	var lr *authtransport.LoginRequiredError
	require.ErrorAs(t, err, &lr)
	assert.True(t, errors.Is(err, authtransport.ErrLoginRequired))
	assert.Equal(t, authtransport.ReasonRejectedAfterRefresh, lr.Reason)
	assert.Equal(t, http.StatusUnauthorized, lr.StatusCode)
	require.Len(t, lr.Challenges, 1)
	assert.Equal(t, "invalid_token", lr.Challenges[0].ErrorCode())
	assert.Equal(t, []string{"Bearer old", "Bearer new"}, a.requests(), "exactly one retry")
	var ue *url.Error
	assert.ErrorAs(t, err, &ue, "http.Client wraps the error")
}

func TestRequestBodyClosedExactlyOnce(t *testing.T) {
	cases := []struct {
		name  string
		base  http.RoundTripper
		store authtransport.Store
		ref   authtransport.Refresher
	}{
		{"success", newAPI("old"), authtransport.NewMemoryStore(valid("old")), nil},
		{"retried after refresh", newAPI(), authtransport.NewMemoryStore(valid("old")), &countingRefresher{}},
		{"no token, no refresher", newAPI(), nil, nil},
		{"base fails", roundTripFunc(func(r *http.Request) (*http.Response, error) {
			_ = r.Body.Close()
			return nil, errors.New("network down")
		}), authtransport.NewMemoryStore(valid("old")), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if cr, ok := tc.ref.(*countingRefresher); ok {
				cr.api = tc.base.(*api)
			}
			tr := &authtransport.Transport{Base: tc.base, Store: tc.store, Refresher: tc.ref}
			body := &closeCounter{Reader: strings.NewReader("payload")}
			req, err := http.NewRequest(http.MethodPut, "https://api.example/x", body)
			require.NoError(t, err)
			req.GetBody = func() (io.ReadCloser, error) {
				return io.NopCloser(strings.NewReader("payload")), nil
			}
			resp, err := tr.RoundTrip(req)
			if err == nil {
				_ = resp.Body.Close()
			}
			assert.Equal(t, int32(1), body.closes.Load())
		})
	}
}

func TestCallerRequestUnchanged(t *testing.T) {
	a := newAPI()
	tr := &authtransport.Transport{Base: a, Store: authtransport.NewMemoryStore(valid("old")), Refresher: &countingRefresher{api: a}}
	req, err := http.NewRequest(http.MethodPost, "https://api.example/x?q=1", strings.NewReader("payload"))
	require.NoError(t, err)
	req.Header.Set("X-Trace", "abc")
	wantHeader := req.Header.Clone()
	wantURL := *req.URL
	wantBody := req.Body

	resp, err := tr.RoundTrip(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	assert.Equal(t, wantHeader, req.Header, "header")
	assert.Equal(t, wantURL, *req.URL, "URL")
	assert.Equal(t, wantBody, req.Body, "body")
	assert.Empty(t, req.Header.Get("Authorization"))
}

func TestLoginRequiredReasons(t *testing.T) {
	cases := []struct {
		name   string
		setup  func(srv *authtest.Server) *authtransport.Token
		path   string
		reason authtransport.Reason
		check  func(t *testing.T, e *authtransport.LoginRequiredError)
	}{
		{
			name:   "no token, no refresh token",
			setup:  func(*authtest.Server) *authtransport.Token { return nil },
			reason: authtransport.ReasonNoToken,
		},
		{
			name: "grant revoked",
			setup: func(srv *authtest.Server) *authtransport.Token {
				tok := srv.NewExpiredToken()
				srv.RevokeGrant()
				return tok
			},
			reason: authtransport.ReasonRefreshRejected,
			check: func(t *testing.T, e *authtransport.LoginRequiredError) {
				var re *authtransport.RefreshError
				require.ErrorAs(t, e, &re)
				assert.Equal(t, "invalid_grant", re.Code)
				assert.True(t, re.Terminal)
			},
		},
		{
			name: "insufficient scope",
			setup: func(srv *authtest.Server) *authtransport.Token {
				srv.RequireScope("/api/admin", "admin:write")
				return srv.IssueToken(authtest.Grant{Scope: "read"})
			},
			path:   "admin",
			reason: authtransport.ReasonInsufficientScope,
			check: func(t *testing.T, e *authtransport.LoginRequiredError) {
				assert.Equal(t, http.StatusForbidden, e.StatusCode)
				assert.Equal(t, []string{"admin:write"}, e.Challenge.Scopes())
				assert.NotEmpty(t, e.Challenge.ResourceMetadata())
			},
		},
		{
			name: "step-up",
			setup: func(srv *authtest.Server) *authtransport.Token {
				srv.RequireStepUp("/api/payments", authtest.StepUp{ACRValues: []string{"urn:mfa"}, MaxAge: 5 * time.Minute})
				return srv.IssueToken(authtest.Grant{ACR: "urn:pwd"})
			},
			path:   "payments",
			reason: authtransport.ReasonStepUp,
			check: func(t *testing.T, e *authtransport.LoginRequiredError) {
				assert.Equal(t, http.StatusUnauthorized, e.StatusCode)
				assert.Equal(t, []string{"urn:mfa"}, e.Challenge.ACRValues())
				maxAge, ok := e.Challenge.MaxAge()
				assert.True(t, ok)
				assert.Equal(t, 5*time.Minute, maxAge)
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := authtest.NewServer()
			defer srv.Close()
			c, _, _ := newClient(srv, tc.setup(srv))
			path := tc.path
			if path == "" {
				path = "items"
			}
			_, err := getURL(t, c, srv.ResourceURL(path))
			require.ErrorIs(t, err, authtransport.ErrLoginRequired)
			var lr *authtransport.LoginRequiredError
			require.ErrorAs(t, err, &lr, "errors.As finds it through *url.Error")
			assert.Equal(t, tc.reason, lr.Reason, "reason: %v", lr)
			if tc.check != nil {
				tc.check(t, lr)
			}
		})
	}
}

// A proxy's 401 whose Basic challenge is malformed (an unquoted realm with a
// space, common in the wild) is still a challenge of another scheme: it is
// returned, and spends no refresh token.
func TestMalformedProxyChallengeDoesNotRefresh(t *testing.T) {
	for _, ch := range []string{
		`Basic realm=Corporate Proxy`,
		`Basic realm="Corporate Proxy`,
		`Negotiate, NTLM realm`,
	} {
		t.Run(ch, func(t *testing.T) {
			ref := &countingRefresher{}
			base := roundTripFunc(func(req *http.Request) (*http.Response, error) {
				return respond(req, http.StatusUnauthorized, ch), nil
			})
			tr := &authtransport.Transport{Base: base, Store: authtransport.NewMemoryStore(valid("tok-0")), Refresher: ref}
			_, _ = get(t, &http.Client{Transport: tr}, context.Background())
			assert.Equal(t, int32(0), ref.calls.Load(), "a proxy's non-Bearer 401 (%s) spent a refresh token", ch)
		})
	}
}

// Every response the Transport discards is closed; the one it returns is not.
func TestDiscardedResponsesAreClosed(t *testing.T) {
	scenarios := map[string][]string{ // challenges of the successive answers ("" = 200)
		"refresh then ok":   {`Bearer error="invalid_token"`, ""},
		"refresh then 401":  {`Bearer error="invalid_token"`, `Bearer error="invalid_token"`},
		"scope":             {`Bearer error="insufficient_scope"`},
		"switch to basic":   {`Basic realm="x"`, ""},
		"basic then bearer": {`Basic realm="x"`, `Bearer realm="x"`},
		"no body replay":    {`Bearer error="invalid_token"`},
	}
	for name, answers := range scenarios {
		t.Run(name, func(t *testing.T) {
			var closed, opened atomic.Int32
			var read atomic.Int32
			i := 0
			base := roundTripFunc(func(req *http.Request) (*http.Response, error) {
				if req.Body != nil {
					_, _ = io.Copy(io.Discard, req.Body)
					req.Body.Close()
				}
				ch := answers[min(i, len(answers)-1)]
				i++
				opened.Add(1)
				st := http.StatusOK
				h := http.Header{}
				if ch != "" {
					st = http.StatusUnauthorized
					h.Set("WWW-Authenticate", ch)
				}
				return &http.Response{StatusCode: st, Header: h, Body: countBody{strings.NewReader("body"), &closed, &read}, Request: req}, nil
			})
			tr := &authtransport.Transport{Base: base, Store: authtransport.NewMemoryStore(valid("tok-0")), Refresher: &countingRefresher{},
				Basic: &authtransport.Basic{Username: "u", Password: "pw-SECRET-1"}}
			var body io.Reader
			if name == "no body replay" {
				body = io.MultiReader(strings.NewReader("x"))
			}
			req, _ := http.NewRequest(http.MethodPost, "https://api.example/x", body)
			resp, err := tr.RoundTrip(req)
			returned := int32(0)
			if err == nil {
				returned = 1
			}
			assert.Equal(t, opened.Load()-returned, closed.Load(), "discarded responses closed (opened %d, err %v)", opened.Load(), err)
			if resp != nil {
				resp.Body.Close()
			}
		})
	}
}

// A discarded 401 body is drained, so that the resend reuses its
// connection: one connection for the request and its resend.
func TestResendReusesTheConnection(t *testing.T) {
	var conns atomic.Int32
	a := newAPI()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok-1" {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(strings.Repeat("x", 16<<10))) // a long error page
			return
		}
		_, _ = w.Write([]byte("ok"))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	tr := &authtransport.Transport{Base: srv.Client().Transport, Store: authtransport.NewMemoryStore(valid("old")), Refresher: &countingRefresher{api: a}}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get(srv.URL + "/x")
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, int32(1), conns.Load(), "connections for a request and its resend")
}

// CloseIdleConnections reaches Base.
func TestCloseIdleConnectionsReachesBase(t *testing.T) {
	base := &idleCloser{}
	(&authtransport.Transport{Base: base}).CloseIdleConnections()
	assert.Equal(t, 1, base.closed)
}

type idleCloser struct {
	http.RoundTripper
	closed int
}

func (c *idleCloser) CloseIdleConnections() { c.closed++ }

// A positive RefreshMargin is honoured: a token is due that long before
// it expires, and refreshed ahead before that.
func TestRefreshMarginIsHonoured(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := newAPI("x")
		ref := &countingRefresher{api: a}
		tok := valid("x") // an hour
		tr := &authtransport.Transport{Base: a, Store: authtransport.NewMemoryStore(tok), Refresher: ref, RefreshMargin: 20 * time.Minute, DisableRefreshAhead: true}
		c := &http.Client{Transport: tr}
		_, err := get(t, c, context.Background())
		require.NoError(t, err)
		time.Sleep(39 * time.Minute)
		_, _ = get(t, c, context.Background())
		assert.Equal(t, int32(0), ref.calls.Load(), "21 min before expiry: not due")
		time.Sleep(2 * time.Minute)
		_, _ = get(t, c, context.Background())
		assert.Equal(t, int32(1), ref.calls.Load(), "19 min before expiry: due")
	})
}
