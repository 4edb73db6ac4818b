package authtest_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/d5c4ca72/authtransport/authtest"
)

// noRedirect is a client that returns redirects instead of following them.
func noRedirect(srv *authtest.Server) *http.Client {
	c := *srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

// authorize GETs the authorization URL and returns the redirect's query.
func authorize(t *testing.T, srv *authtest.Server, authURL string) (int, url.Values) {
	t.Helper()
	resp, err := noRedirect(srv).Get(authURL)
	require.NoError(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		return resp.StatusCode, nil
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	return resp.StatusCode, loc.Query()
}

func TestAuthorizationCodeLoopbackLogin(t *testing.T) {
	srv := newServer(t)
	// The CLI's loopback listener, standing in for the browser's landing page.
	got := make(chan url.Values, 1)
	cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.URL.Query()
		_, _ = w.Write([]byte("you may close this window"))
	}))
	defer cb.Close()

	cfg := srv.Config()
	cfg.RedirectURL = cb.URL + "/callback"
	cfg.Scopes = []string{"read", "write"}
	verifier := oauth2.GenerateVerifier()
	authURL := cfg.AuthCodeURL("state-123", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("acr_values", "mfa"))

	resp, err := srv.Client().Get(authURL) // follows the redirect to the listener
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	q := <-got
	assert.Equal(t, "state-123", q.Get("state"))
	assert.Equal(t, srv.URL, q.Get("iss"))
	require.NotEmpty(t, q.Get("code"))

	tok, err := cfg.Exchange(ctxWithClient(t, srv), q.Get("code"), oauth2.VerifierOption(verifier))
	require.NoError(t, err)
	assert.NotEmpty(t, tok.RefreshToken)
	assert.Equal(t, "read write", tok.Extra("scope"))

	srv.RequireStepUp("/api/pay", authtest.StepUp{ACRValues: []string{"mfa"}})
	assert.Equal(t, 200, get(t, srv, "/api/pay", "Bearer "+tok.AccessToken).StatusCode, "the login achieved the acr asked for")
	assert.Equal(t, 1, srv.Stats().TokenRequests["authorization_code"][authtest.OutcomeOK])

	t.Run("login acr knob", func(t *testing.T) {
		srv.SetLoginACR("pwd")
		_, q := authorize(t, srv, cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("acr_values", "mfa")))
		tok, err := cfg.Exchange(ctxWithClient(t, srv), q.Get("code"), oauth2.VerifierOption(verifier))
		require.NoError(t, err)
		assert.Equal(t, 401, get(t, srv, "/api/pay", "Bearer "+tok.AccessToken).StatusCode, "the user logged in with pwd only")
	})
}

func TestAuthorizationCodeStrictness(t *testing.T) {
	srv := newServer(t)
	cfg := srv.Config()
	cfg.RedirectURL = "http://127.0.0.1:1/cb"
	verifier := oauth2.GenerateVerifier()
	pkce := oauth2.S256ChallengeOption(verifier)
	ctx := ctxWithClient(t, srv)

	t.Run("authorize refusals", func(t *testing.T) {
		tests := []struct {
			name       string
			mutate     func(url.Values)
			wantStatus int    // 400 for refusals without redirect
			wantError  string // error in the redirect
		}{
			{"unknown client", func(v url.Values) { v.Set("client_id", "other") }, 400, ""},
			{"non-loopback redirect", func(v url.Values) { v.Set("redirect_uri", "http://example.com/cb") }, 400, ""},
			{"https loopback redirect", func(v url.Values) { v.Set("redirect_uri", "https://127.0.0.1/cb") }, 400, ""},
			{"missing redirect", func(v url.Values) { v.Del("redirect_uri") }, 400, ""},
			{"token response type", func(v url.Values) { v.Set("response_type", "token") }, 302, "unsupported_response_type"},
			{"no PKCE", func(v url.Values) { v.Del("code_challenge"); v.Del("code_challenge_method") }, 302, "invalid_request"},
			{"plain PKCE", func(v url.Values) { v.Set("code_challenge_method", "plain") }, 302, "invalid_request"},
			{"ipv6 loopback", func(v url.Values) { v.Set("redirect_uri", "http://[::1]:8080/cb") }, 302, ""},
			{"localhost", func(v url.Values) { v.Set("redirect_uri", "http://localhost:8080/cb") }, 302, ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				u, err := url.Parse(cfg.AuthCodeURL("st", pkce))
				require.NoError(t, err)
				q := u.Query()
				tt.mutate(q)
				u.RawQuery = q.Encode()
				status, reply := authorize(t, srv, u.String())
				require.Equal(t, tt.wantStatus, status)
				if status == 302 {
					assert.Equal(t, "st", reply.Get("state"))
					assert.Equal(t, tt.wantError, reply.Get("error"))
					assert.Equal(t, tt.wantError == "", reply.Get("code") != "")
				}
			})
		}
	})

	code := func(t *testing.T) string {
		_, q := authorize(t, srv, cfg.AuthCodeURL("st", pkce))
		require.NotEmpty(t, q.Get("code"))
		return q.Get("code")
	}
	t.Run("wrong verifier", func(t *testing.T) {
		_, err := cfg.Exchange(ctx, code(t), oauth2.VerifierOption(oauth2.GenerateVerifier()))
		requireOAuthError(t, err, "invalid_grant")
	})
	t.Run("missing verifier", func(t *testing.T) {
		_, err := cfg.Exchange(ctx, code(t))
		requireOAuthError(t, err, "invalid_request")
	})
	t.Run("redirect mismatch", func(t *testing.T) {
		other := *cfg
		other.RedirectURL = "http://127.0.0.1:2/cb"
		_, err := other.Exchange(ctx, code(t), oauth2.VerifierOption(verifier))
		requireOAuthError(t, err, "invalid_grant")
	})
	t.Run("unknown code", func(t *testing.T) {
		_, err := cfg.Exchange(ctx, "made-up", oauth2.VerifierOption(verifier))
		requireOAuthError(t, err, "invalid_grant")
	})
	t.Run("code used twice revokes its tokens", func(t *testing.T) {
		c := code(t)
		tok, err := cfg.Exchange(ctx, c, oauth2.VerifierOption(verifier))
		require.NoError(t, err)
		_, err = cfg.Exchange(ctx, c, oauth2.VerifierOption(verifier))
		requireOAuthError(t, err, "invalid_grant")
		assert.Equal(t, 401, get(t, srv, "x", "Bearer "+tok.AccessToken).StatusCode)
	})
	t.Run("expired code", func(t *testing.T) {
		clock := authtest.NewClock(time.Now())
		srv.SetNow(clock.Now)
		defer srv.SetNow(nil)
		c := code(t)
		clock.Advance(11 * time.Minute)
		_, err := cfg.Exchange(ctx, c, oauth2.VerifierOption(verifier))
		requireOAuthError(t, err, "invalid_grant")
	})
}

// requireOAuthError checks that err is an x/oauth2 token endpoint error with code.
func requireOAuthError(t *testing.T, err error, code string) {
	t.Helper()
	var re *oauth2.RetrieveError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, code, re.ErrorCode)
}

func TestAuthorizationResponseIssuer(t *testing.T) {
	srv := newServer(t)
	cfg := srv.Config()
	cfg.RedirectURL = "http://127.0.0.1:1/cb"
	pkce := oauth2.S256ChallengeOption(oauth2.GenerateVerifier())
	_, q := authorize(t, srv, cfg.AuthCodeURL("st", pkce))
	assert.Equal(t, srv.URL, q.Get("iss"), "the server's issuer identifier by default")

	srv.SetAuthorizationResponseIssuer("https://evil.example")
	_, q = authorize(t, srv, cfg.AuthCodeURL("st", pkce))
	assert.Equal(t, "https://evil.example", q.Get("iss"), "the wrong issuer the test asked for")
	assert.NotEmpty(t, q.Get("code"), "the response is otherwise normal")

	srv.SetAuthorizationResponseIssuer("")
	_, q = authorize(t, srv, cfg.AuthCodeURL("st", pkce))
	assert.Equal(t, srv.URL, q.Get("iss"), "restored")
	assert.Equal(t, 3, srv.Stats().AuthorizationRequests, "approved authorization requests")
}

func TestResourceIndicators(t *testing.T) {
	srv := newServer(t)
	cfg := srv.Config()
	cfg.RedirectURL = "http://127.0.0.1:1/cb"
	verifier := oauth2.GenerateVerifier()
	ctx := ctxWithClient(t, srv)
	login := func(t *testing.T, authResources []string, tokenResource string) (*oauth2.Token, error) {
		t.Helper()
		opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier)}
		u := cfg.AuthCodeURL("st", opts...)
		for _, r := range authResources {
			u += "&resource=" + url.QueryEscape(r)
		}
		_, q := authorize(t, srv, u)
		if q.Get("error") != "" {
			return nil, &oauth2.RetrieveError{ErrorCode: q.Get("error")}
		}
		ex := []oauth2.AuthCodeOption{oauth2.VerifierOption(verifier)}
		if tokenResource != "" {
			ex = append(ex, oauth2.SetAuthURLParam("resource", tokenResource))
		}
		return cfg.Exchange(ctx, q.Get("code"), ex...)
	}
	api := srv.URL + "/api/"
	tests := []struct {
		name          string
		auth          []string
		token         string
		wantErr       string
		wantAPIStatus int
	}{
		{"no resource: any", nil, "", "", 200},
		{"this resource", []string{api}, "", "", 200},
		{"this one among others", []string{"https://other.example/", api}, "", "", 200},
		{"only another resource", []string{"https://other.example/"}, "", "", 401},
		{"narrowed to another at the token endpoint", []string{"https://other.example/", api}, "https://other.example/", "", 401},
		{"a token resource not authorized", []string{api}, "https://other.example/", "invalid_target", 0},
		{"a relative resource", []string{"/api/"}, "", "invalid_target", 0},
		{"a resource with a fragment", []string{api + "#x"}, "", "invalid_target", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := login(t, tt.auth, tt.token)
			if tt.wantErr != "" {
				requireOAuthError(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantAPIStatus, get(t, srv, "x", "Bearer "+tok.AccessToken).StatusCode, "the API's answer")
		})
	}
	assert.Equal(t, 2, srv.Stats().ResourceRequests[authtest.OutcomeWrongAudience], "tokens meant for other resources")
}
