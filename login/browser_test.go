package login_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/d5c4ca72/authtransport/authtest"
	"github.com/d5c4ca72/authtransport/login"
)

func TestBrowserLogin(t *testing.T) {
	srv := newServer(t)
	public := srv.RegisterPublicClient("cli")
	public.Scopes = []string{"read", "write"}
	post := srv.Config()
	post.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	tests := []struct {
		name string
		cfg  *oauth2.Config
	}{
		{"public client", public},
		{"confidential client, client_secret_basic", srv.Config()},
		{"confidential client, client_secret_post", post},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv.ResetStats()
			b := &browser{client: srv.Client()}
			var out syncBuffer
			flow := &login.Browser{Config: tt.cfg, Issuer: srv.URL, RequireIssuer: true, Open: b.Open, Output: &out}
			before := time.Now()
			tok, err := flow.Login(withClient(t.Context(), srv.Client()))
			require.NoError(t, err, "login")

			assert.Equal(t, http.StatusOK, apiStatus(t, srv, "items", tok), "the token works")
			assert.NotEmpty(t, tok.RefreshToken, "a refresh token")
			assert.Equal(t, strings.Join(tt.cfg.Scopes, " "), tok.Scope, "the scope asked for")
			assert.False(t, tok.ObtainedAt.Before(before) || tok.ObtainedAt.After(time.Now()), "ObtainedAt %v is the time of the token request", tok.ObtainedAt)
			assert.Equal(t, authtest.DefaultAccessTokenLifetime, tok.Expiry.Sub(tok.ObtainedAt), "expiry counted from the request")
			status, page := b.shown()
			assert.Equal(t, http.StatusOK, status, "the browser's page")
			assert.Contains(t, page, "Signed in", "the success page")
			assert.Contains(t, out.String(), srv.AuthURL()+"?", "the URL is printed for the user")
			assert.Equal(t, 1, srv.Stats().AuthorizationRequests, "one authorization request")
			assert.Equal(t, 1, srv.Stats().TokenRequests["authorization_code"][authtest.OutcomeOK], "one code exchange")
		})
	}
}

func TestBrowserRefusals(t *testing.T) {
	srv := newServer(t)
	cfg := srv.RegisterPublicClient("cli")
	tests := []struct {
		name          string
		wrongIss      bool // the server sends another iss
		issuer        string
		requireIssuer bool
		rewrite       func(q url.Values)
		check         func(t *testing.T, err error)
		wantPage      string
	}{
		{
			name: "wrong state", issuer: srv.URL, rewrite: func(q url.Values) { q.Set("state", "forged") },
			check: func(t *testing.T, err error) {
				var me *login.MismatchError
				require.ErrorAs(t, err, &me, "a state mismatch")
				assert.Equal(t, login.FieldState, me.Field)
			},
			wantPage: "does not belong to this sign-in",
		},
		{
			name: "access denied", issuer: srv.URL,
			rewrite: func(q url.Values) {
				q.Del("code")
				q.Set("error", "access_denied")
				q.Set("error_description", "the user said no")
			},
			check: func(t *testing.T, err error) {
				var oe *login.OAuthError
				require.ErrorAs(t, err, &oe, "the server's refusal")
				assert.Equal(t, "access_denied", oe.Code)
				assert.Equal(t, "the user said no", oe.Description)
				assert.Equal(t, srv.AuthURL(), oe.Endpoint)
				assert.Zero(t, oe.StatusCode, "an authorization response has no status")
			},
			wantPage: "The request was denied.",
		},
		{
			name: "wrong iss", wrongIss: true, issuer: srv.URL,
			check: func(t *testing.T, err error) {
				var me *login.MismatchError
				require.ErrorAs(t, err, &me, "an iss mismatch")
				assert.Equal(t, login.FieldIss, me.Field)
				assert.Equal(t, srv.URL, me.Want)
				assert.Equal(t, "https://evil.example", me.Got)
			},
			wantPage: "does not belong to this sign-in",
		},
		{
			name: "no iss though the server promises one", issuer: srv.URL, requireIssuer: true,
			rewrite: func(q url.Values) { q.Del("iss") },
			check: func(t *testing.T, err error) {
				var me *login.MismatchError
				require.ErrorAs(t, err, &me, "a missing iss")
				assert.Equal(t, login.FieldIss, me.Field)
				assert.Empty(t, me.Got)
			},
			wantPage: "does not belong to this sign-in",
		},
		{
			name: "neither code nor error", issuer: srv.URL, rewrite: func(q url.Values) { q.Del("code") },
			check: func(t *testing.T, err error) {
				var re *login.ResponseError
				require.ErrorAs(t, err, &re, "an answer outside the protocol")
			},
			wantPage: "could not be completed",
		},
		{
			name: "a code the token endpoint refuses", issuer: srv.URL, rewrite: func(q url.Values) { q.Set("code", "made-up-code") },
			check: func(t *testing.T, err error) {
				var oe *login.OAuthError
				require.ErrorAs(t, err, &oe, "the token endpoint's refusal")
				assert.Equal(t, "invalid_grant", oe.Code)
				assert.Equal(t, http.StatusBadRequest, oe.StatusCode)
				assert.Equal(t, srv.TokenURL(), oe.Endpoint)
				assert.NotContains(t, err.Error(), "made-up-code", "the code is not in the error")
			},
			wantPage: "The authorization server answered invalid_grant.",
		},
		{
			name: "an iss that echoes the code", issuer: srv.URL, rewrite: func(q url.Values) { q.Set("iss", q.Get("code")) },
			check: func(t *testing.T, err error) {
				var me *login.MismatchError
				require.ErrorAs(t, err, &me, "an iss mismatch")
				assert.Equal(t, "REDACTED", me.Got, "the code is scrubbed from the field too")
			},
			wantPage: "does not belong to this sign-in",
		},
		{
			name: "an error code with terminal escapes", issuer: srv.URL,
			rewrite: func(q url.Values) {
				q.Del("code")
				q.Set("error", "\x1b]8;;https://evil.example\x07invalid_grant\n\x1b[2K signed in")
			},
			check: func(t *testing.T, err error) {
				var re *login.ResponseError
				require.ErrorAs(t, err, &re, "not an OAuth error code (RFC 6749 §4.1.2.1)")
				assert.NotContains(t, err.Error(), "evil", "the code is not shown")
			},
			wantPage: "could not be completed",
		},
		{name: "no iss, not required", issuer: srv.URL, rewrite: func(q url.Values) { q.Del("iss") }},
		{name: "a wrong iss when no Issuer is set is not checked", wrongIss: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.wrongIss {
				srv.SetAuthorizationResponseIssuer("https://evil.example")
				defer srv.SetAuthorizationResponseIssuer("")
			}
			var code string
			b := &browser{client: srv.Client(), rewrite: func(q url.Values) {
				code = q.Get("code")
				if tt.rewrite != nil {
					tt.rewrite(q)
				}
			}}
			flow := &login.Browser{Config: cfg, Issuer: tt.issuer, RequireIssuer: tt.requireIssuer, Open: b.Open, Output: io.Discard}
			tok, err := flow.Login(withClient(t.Context(), srv.Client()))
			status, page := b.shown()
			if tt.check == nil {
				require.NoError(t, err)
				assert.NotNil(t, tok)
				assert.Equal(t, http.StatusOK, status, "the success page")
				return
			}
			require.Error(t, err)
			assert.Nil(t, tok, "no token with an error")
			tt.check(t, err)
			assert.True(t, strings.HasPrefix(err.Error(), "login: "), "the message %q starts with the package name", err)
			if code != "" {
				assert.NotContains(t, err.Error(), code, "the authorization code is not in the error")
			}
			assert.Equal(t, http.StatusBadRequest, status, "the error page")
			assert.Contains(t, page, tt.wantPage, "the error page says why")
		})
	}
}

func TestBrowserWaits(t *testing.T) {
	srv := newServer(t)
	cfg := srv.RegisterPublicClient("cli")
	// never is a browser that never comes back.
	never := func(ctx context.Context, _ string) error {
		<-ctx.Done()
		return ctx.Err()
	}

	t.Run("timeout", func(t *testing.T) {
		flow := &login.Browser{Config: cfg, Open: never, Output: io.Discard, Timeout: 50 * time.Millisecond}
		_, err := flow.Login(t.Context())
		assert.ErrorIs(t, err, login.ErrTimeout)
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		flow := &login.Browser{Config: cfg, Open: never, Output: io.Discard}
		_, err := flow.Login(ctx)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.NotErrorIs(t, err, login.ErrTimeout, "the caller's deadline is not the user's timeout")
	})
	t.Run("no browser: the user opens the printed URL", func(t *testing.T) {
		var out syncBuffer
		flow := &login.Browser{Config: cfg, Output: &out,
			Open: func(context.Context, string) error { return errors.New("no browser here") }}
		ctx := withClient(t.Context(), srv.Client())
		type result struct {
			err error
		}
		done := make(chan result, 1)
		go func() {
			_, err := flow.Login(ctx)
			done <- result{err}
		}()
		printed := regexp.MustCompile(`(?m)^    (http://\S+)$`)
		var target string
		require.Eventually(t, func() bool {
			m := printed.FindStringSubmatch(out.String())
			if m != nil {
				target = m[1]
			}
			return m != nil && strings.Contains(out.String(), "login: could not open a browser: no browser here. Open the URL above by hand.")
		}, 5*time.Second, 5*time.Millisecond, "the URL and the note are printed; output:\n%s", out.String())
		user := &browser{client: srv.Client()}
		require.NoError(t, user.Open(t.Context(), target), "the user opens the URL")
		assert.NoError(t, (<-done).err, "the login completes")
	})
	t.Run("other paths do not end the login", func(t *testing.T) {
		b := &browser{client: srv.Client()}
		flow := &login.Browser{Config: cfg, Output: io.Discard, Open: func(ctx context.Context, target string) error {
			u, err := url.Parse(target)
			if err != nil {
				return err
			}
			redirect, err := url.Parse(u.Query().Get("redirect_uri"))
			if err != nil {
				return err
			}
			resp, err := srv.Client().Get(redirect.Scheme + "://" + redirect.Host + "/favicon.ico")
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound {
				return errors.New("favicon: " + resp.Status)
			}
			return b.Open(ctx, target)
		}}
		_, err := flow.Login(withClient(t.Context(), srv.Client()))
		assert.NoError(t, err)
	})
	t.Run("the listener is closed when Login returns", func(t *testing.T) {
		var redirect string
		b := &browser{client: srv.Client()}
		flow := &login.Browser{Config: cfg, Output: io.Discard, Open: func(ctx context.Context, target string) error {
			u, _ := url.Parse(target)
			redirect = u.Query().Get("redirect_uri")
			return b.Open(ctx, target)
		}}
		_, err := flow.Login(withClient(t.Context(), srv.Client()))
		require.NoError(t, err)
		_, err = srv.Client().Get(redirect + "?code=x&state=y")
		assert.Error(t, err, "nothing listens at %s any more", redirect)
	})
}

func TestBrowserRequest(t *testing.T) {
	srv := newServer(t)
	srv.RequireStepUp("/api/pay", authtest.StepUp{ACRValues: []string{"mfa"}})
	tests := []struct {
		name      string
		flow      login.Browser
		wantQuery url.Values // parameters of the authorization request
		path      string
		wantAPI   int
	}{
		{
			name:      "PKCE S256 and an ephemeral loopback port",
			wantQuery: url.Values{"response_type": {"code"}, "client_id": {"cli"}, "code_challenge_method": {"S256"}},
			path:      "items", wantAPI: http.StatusOK,
		},
		{
			name:      "extra parameters: acr_values for a step-up",
			flow:      login.Browser{AuthParams: url.Values{"acr_values": {"mfa"}}},
			wantQuery: url.Values{"acr_values": {"mfa"}},
			path:      "pay", wantAPI: http.StatusOK,
		},
		{
			name:      "a resource indicator for this API",
			flow:      login.Browser{Resource: srv.URL + "/api/"},
			wantQuery: url.Values{"resource": {srv.URL + "/api/"}},
			path:      "items", wantAPI: http.StatusOK,
		},
		{
			name:      "a resource indicator for another API",
			flow:      login.Browser{Resource: "https://other.example/"},
			wantQuery: url.Values{"resource": {"https://other.example/"}},
			path:      "items", wantAPI: http.StatusUnauthorized,
		},
		{
			name:      "a registered redirect URI path on an ephemeral port",
			flow:      login.Browser{Config: &oauth2.Config{RedirectURL: "http://127.0.0.1:0/oauth/done"}},
			wantQuery: url.Values{},
			path:      "items", wantAPI: http.StatusOK,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := srv.RegisterPublicClient("cli")
			if tt.flow.Config != nil {
				cfg.RedirectURL = tt.flow.Config.RedirectURL
			}
			var sent url.Values
			b := &browser{client: srv.Client()}
			flow := tt.flow
			flow.Config, flow.Output = cfg, io.Discard
			flow.Open = func(ctx context.Context, target string) error {
				u, err := url.Parse(target)
				if err != nil {
					return err
				}
				sent = u.Query()
				return b.Open(ctx, target)
			}
			tok, err := flow.Login(withClient(t.Context(), srv.Client()))
			require.NoError(t, err)
			for k, v := range tt.wantQuery {
				assert.Equal(t, v, sent[k], "authorization request parameter %s", k)
			}
			assert.Regexp(t, `^http://127\.0\.0\.1:\d+/`, sent.Get("redirect_uri"), "a loopback redirect")
			if cfg.RedirectURL != "" {
				assert.True(t, strings.HasSuffix(sent.Get("redirect_uri"), "/oauth/done"), "the registered path: %s", sent.Get("redirect_uri"))
				assert.NotContains(t, sent.Get("redirect_uri"), ":0/", "the port the system picked")
			}
			assert.Len(t, sent.Get("state"), 43, "32 random bytes of state")
			assert.Equal(t, tt.wantAPI, apiStatus(t, srv, tt.path, tok), "the API's answer to the token")
		})
	}
}

func TestBrowserConfigErrors(t *testing.T) {
	srv := newServer(t)
	good := srv.RegisterPublicClient("cli")
	with := func(f func(c *oauth2.Config)) *oauth2.Config {
		c := *good
		f(&c)
		return &c
	}
	tests := []struct {
		name string
		flow login.Browser
		want string
	}{
		{"no config", login.Browser{}, "needs a ClientID"},
		{"no client id", login.Browser{Config: with(func(c *oauth2.Config) { c.ClientID = "" })}, "needs a ClientID"},
		{"plain http authorization endpoint", login.Browser{Config: with(func(c *oauth2.Config) { c.Endpoint.AuthURL = "http://as.example/authorize" })}, "authorization endpoint http://as.example/authorize is not https"},
		{"plain http token endpoint", login.Browser{Config: with(func(c *oauth2.Config) { c.Endpoint.TokenURL = "http://as.example/token?x=secret" })}, "token endpoint http://as.example/token is not https"},
		{"relative endpoint", login.Browser{Config: with(func(c *oauth2.Config) { c.Endpoint.TokenURL = "/token" })}, "is not an absolute URL"},
		{"redirect to a host name", login.Browser{Config: with(func(c *oauth2.Config) { c.RedirectURL = "http://localhost:8080/cb" })}, "loopback IP address"},
		{"redirect to another host", login.Browser{Config: with(func(c *oauth2.Config) { c.RedirectURL = "http://192.0.2.1:8080/cb" })}, "loopback IP address"},
		{"https redirect", login.Browser{Config: with(func(c *oauth2.Config) { c.RedirectURL = "https://127.0.0.1:8080/cb" })}, "plain http URL"},
		{"reserved parameter", login.Browser{Config: good, AuthParams: url.Values{"state": {"mine"}}}, "cannot set state"},
		{"RequireIssuer without Issuer", login.Browser{Config: good, RequireIssuer: true}, "needs Browser.Issuer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &browser{client: srv.Client()}
			flow := tt.flow
			flow.Open, flow.Output = b.Open, io.Discard
			_, err := flow.Login(t.Context())
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.NotContains(t, err.Error(), "secret", "no query in the message")
			assert.Zero(t, b.opened, "no browser opened")
		})
	}
}
