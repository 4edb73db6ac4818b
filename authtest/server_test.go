package authtest_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/d5c4ca72/authtransport"
	"github.com/d5c4ca72/authtransport/authtest"
	"github.com/d5c4ca72/authtransport/wwwauth"
)

// newServer starts a server that the test closes.
func newServer(t *testing.T) *authtest.Server {
	t.Helper()
	srv := authtest.NewServer()
	t.Cleanup(srv.Close)
	return srv
}

// ctxWithClient returns a context that makes x/oauth2 use the server's client.
func ctxWithClient(t *testing.T, srv *authtest.Server) context.Context {
	return context.WithValue(t.Context(), oauth2.HTTPClient, srv.Client())
}

// get sends a GET to the resource with the given Authorization value.
func get(t *testing.T, srv *authtest.Server, path, authorization string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.ResourceURL(path), nil)
	require.NoError(t, err)
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { _ = resp.Body.Close() })
	return resp
}

// postToken sends a form to the token endpoint and decodes the JSON answer.
func postToken(t *testing.T, srv *authtest.Server, form url.Values, basic bool) (int, map[string]any, http.Header) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.TokenURL(), strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basic {
		req.SetBasicAuth(srv.ClientID, srv.ClientSecret)
	}
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var m map[string]any
	_ = json.Unmarshal(body, &m)
	return resp.StatusCode, m, resp.Header
}

func TestCoreRefreshAndResource(t *testing.T) {
	srv := newServer(t)
	tok := srv.NewExpiredToken()
	resp := get(t, srv, "items", "Bearer "+tok.AccessToken)
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Contains(t, resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`)

	ts := srv.Config().TokenSource(ctxWithClient(t, srv), tok.OAuth2())
	o, err := ts.Token()
	require.NoError(t, err)
	assert.NotEqual(t, tok.RefreshToken, o.RefreshToken, "rotation")
	resp = get(t, srv, "items", "Bearer "+o.AccessToken)
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	// reuse of the first refresh token revokes the grant.
	code, body, _ := postToken(t, srv, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}, true)
	assert.Equal(t, http.StatusBadRequest, code)
	assert.Equal(t, "invalid_grant", body["error"])
	resp = get(t, srv, "items", "Bearer "+o.AccessToken)
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)

	st := srv.Stats()
	assert.Equal(t, 1, st.Refreshes())
	assert.Equal(t, 1, st.RefreshTokenReuse)
	assert.Equal(t, 1, st.TokenRequests["refresh_token"]["invalid_grant"])
	assert.Equal(t, 1, st.ResourceRequests[authtest.OutcomeOK])
	assert.Equal(t, 1, st.ResourceRequests[authtest.OutcomeExpiredToken])
	assert.Equal(t, 1, st.ResourceRequests[authtest.OutcomeRevokedToken])
}

func TestTokenEndpoint(t *testing.T) {
	srv := newServer(t)
	tests := []struct {
		name       string
		method     string
		form       func(*authtest.Server) url.Values
		basic      bool
		wantStatus int
		wantError  string // "" for success
		wantBasic  bool   // WWW-Authenticate: Basic expected
	}{
		{name: "refresh with basic auth", basic: true, wantStatus: 200,
			form: func(s *authtest.Server) url.Values {
				return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {s.NewToken().RefreshToken}}
			}},
		{name: "refresh with post auth", wantStatus: 200,
			form: func(s *authtest.Server) url.Values {
				return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {s.NewToken().RefreshToken},
					"client_id": {s.ClientID}, "client_secret": {s.ClientSecret}}
			}},
		{name: "client credentials with basic auth", basic: true, wantStatus: 200,
			form: func(*authtest.Server) url.Values { return url.Values{"grant_type": {"client_credentials"}} }},
		{name: "client credentials with post auth", wantStatus: 200,
			form: func(s *authtest.Server) url.Values {
				return url.Values{"grant_type": {"client_credentials"}, "client_id": {s.ClientID}, "client_secret": {s.ClientSecret}}
			}},
		{name: "both auth methods", basic: true, wantStatus: 400, wantError: "invalid_request",
			form: func(s *authtest.Server) url.Values {
				return url.Values{"grant_type": {"client_credentials"}, "client_secret": {s.ClientSecret}}
			}},
		{name: "no client auth", wantStatus: 401, wantError: "invalid_client", wantBasic: true,
			form: func(*authtest.Server) url.Values { return url.Values{"grant_type": {"client_credentials"}} }},
		{name: "wrong secret by post", wantStatus: 401, wantError: "invalid_client",
			form: func(s *authtest.Server) url.Values {
				return url.Values{"grant_type": {"client_credentials"}, "client_id": {s.ClientID}, "client_secret": {"nope"}}
			}},
		{name: "unknown client by post", wantStatus: 401, wantError: "invalid_client",
			form: func(s *authtest.Server) url.Values {
				return url.Values{"grant_type": {"client_credentials"}, "client_id": {"other"}, "client_secret": {s.ClientSecret}}
			}},
		{name: "missing grant type", basic: true, wantStatus: 400, wantError: "invalid_request",
			form: func(*authtest.Server) url.Values { return url.Values{} }},
		{name: "unsupported grant type", basic: true, wantStatus: 400, wantError: "unsupported_grant_type",
			form: func(*authtest.Server) url.Values { return url.Values{"grant_type": {"password"}} }},
		{name: "refresh without token", basic: true, wantStatus: 400, wantError: "invalid_request",
			form: func(*authtest.Server) url.Values { return url.Values{"grant_type": {"refresh_token"}} }},
		{name: "unknown refresh token", basic: true, wantStatus: 400, wantError: "invalid_grant",
			form: func(*authtest.Server) url.Values {
				return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"made-up"}}
			}},
		{name: "refresh narrowing scope", basic: true, wantStatus: 200,
			form: func(s *authtest.Server) url.Values {
				tok := s.IssueToken(authtest.Grant{Scope: "read write"})
				return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "scope": {"read"}}
			}},
		{name: "refresh widening scope", basic: true, wantStatus: 400, wantError: "invalid_scope",
			form: func(s *authtest.Server) url.Values {
				tok := s.IssueToken(authtest.Grant{Scope: "read"})
				return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "scope": {"read admin"}}
			}},
		{name: "refresh of a grant without refresh token", basic: true, wantStatus: 400, wantError: "invalid_grant",
			form: func(s *authtest.Server) url.Values {
				tok := s.IssueToken(authtest.Grant{NoRefreshToken: true})
				return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.AccessToken}}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body, h := postToken(t, srv, tt.form(srv), tt.basic)
			assert.Equal(t, tt.wantStatus, code, "status; body %v", body)
			assert.Equal(t, "no-store", h.Get("Cache-Control"))
			assert.Equal(t, "application/json", h.Get("Content-Type"))
			if tt.wantError == "" {
				assert.NotEmpty(t, body["access_token"])
				assert.Equal(t, "Bearer", body["token_type"])
				assert.InDelta(t, authtest.DefaultAccessTokenLifetime.Seconds(), body["expires_in"], 1)
				return
			}
			assert.Equal(t, tt.wantError, body["error"])
			assert.NotEmpty(t, body["error_description"])
			if tt.wantBasic {
				assert.Contains(t, h.Get("WWW-Authenticate"), "Basic")
			}
		})
	}

	t.Run("GET is refused", func(t *testing.T) {
		resp, err := srv.Client().Get(srv.TokenURL())
		require.NoError(t, err)
		defer resp.Body.Close()
		assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
		assert.Equal(t, http.MethodPost, resp.Header.Get("Allow"))
	})

	st := srv.Stats()
	assert.Equal(t, 3, st.Refreshes(), "successful refreshes: %v", st.TokenRequests)
	assert.Equal(t, 2, st.TokenRequests["client_credentials"][authtest.OutcomeOK])
	assert.Equal(t, 1, st.TokenRequests["other"]["unsupported_grant_type"])
	assert.Equal(t, 3, st.TokenRequests["client_credentials"]["invalid_client"])
	assert.Equal(t, len(tests)+1, st.TokenRequestsTotal())
}

func TestOAuth2ConfigHelpers(t *testing.T) {
	srv := newServer(t)
	ctx := ctxWithClient(t, srv)

	t.Run("refresh grant through oauth2.Config", func(t *testing.T) {
		for _, style := range []oauth2.AuthStyle{oauth2.AuthStyleInHeader, oauth2.AuthStyleInParams, oauth2.AuthStyleAutoDetect} {
			cfg := srv.Config()
			cfg.Endpoint.AuthStyle = style
			o, err := cfg.TokenSource(ctx, srv.NewExpiredToken().OAuth2()).Token()
			require.NoError(t, err, "auth style %d", style)
			assert.True(t, o.Valid(), "auth style %d", style)
		}
	})
	t.Run("client credentials", func(t *testing.T) {
		cfg := srv.ClientCredentialsConfig()
		cfg.Scopes = []string{"read", "write"}
		o, err := cfg.Token(ctx)
		require.NoError(t, err)
		assert.Empty(t, o.RefreshToken)
		assert.Equal(t, "read write", o.Extra("scope"))
		resp := get(t, srv, "x", "Bearer "+o.AccessToken)
		assert.Equal(t, http.StatusOK, resp.StatusCode)
	})
	t.Run("tokens ready to use", func(t *testing.T) {
		tok := srv.NewToken()
		assert.Equal(t, wwwauth.SchemeBearer, tok.TokenType)
		assert.NotEmpty(t, tok.RefreshToken)
		assert.WithinDuration(t, time.Now().Add(authtest.DefaultAccessTokenLifetime), tok.Expiry, time.Second)
		assert.Equal(t, http.StatusOK, get(t, srv, "/api/a", "Bearer "+tok.AccessToken).StatusCode)

		exp := srv.NewExpiredToken()
		assert.True(t, exp.Expiry.Before(time.Now()))
		assert.Equal(t, http.StatusUnauthorized, get(t, srv, "/api/a", "Bearer "+exp.AccessToken).StatusCode)
	})
	t.Run("urls", func(t *testing.T) {
		assert.Equal(t, srv.URL+"/api/items", srv.ResourceURL("items"))
		assert.Equal(t, srv.URL+"/api/items", srv.ResourceURL("/api/items"))
		assert.Regexp(t, `^http://127\.0\.0\.1:\d+$`, srv.URL)
		cfg := srv.Config()
		assert.Equal(t, srv.URL+"/token", cfg.Endpoint.TokenURL)
		assert.Equal(t, srv.URL+"/authorize", cfg.Endpoint.AuthURL)
	})
}

func TestRotationAndReuse(t *testing.T) {
	refresh := func(t *testing.T, srv *authtest.Server, rt string) (int, map[string]any) {
		code, body, _ := postToken(t, srv, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, true)
		return code, body
	}
	t.Run("rotation on, reuse detection on", func(t *testing.T) {
		srv := newServer(t)
		tok := srv.NewToken()
		code, first := refresh(t, srv, tok.RefreshToken)
		require.Equal(t, 200, code)
		rt2 := first["refresh_token"].(string)
		assert.NotEqual(t, tok.RefreshToken, rt2)

		code, body := refresh(t, srv, tok.RefreshToken)
		assert.Equal(t, 400, code)
		assert.Equal(t, "invalid_grant", body["error"])
		// The whole grant is gone: the newest refresh token and every access token.
		code, body = refresh(t, srv, rt2)
		assert.Equal(t, 400, code)
		assert.Equal(t, "invalid_grant", body["error"])
		assert.Equal(t, 401, get(t, srv, "a", "Bearer "+first["access_token"].(string)).StatusCode)
		assert.Equal(t, 401, get(t, srv, "a", "Bearer "+tok.AccessToken).StatusCode)
		// Other grants are untouched.
		assert.Equal(t, 200, get(t, srv, "a", "Bearer "+srv.NewToken().AccessToken).StatusCode)
		assert.Equal(t, 1, srv.Stats().RefreshTokenReuse)
	})
	t.Run("rotation on, reuse detection off", func(t *testing.T) {
		srv := newServer(t)
		srv.SetReuseDetection(false)
		tok := srv.NewToken()
		code, first := refresh(t, srv, tok.RefreshToken)
		require.Equal(t, 200, code)
		code, body := refresh(t, srv, tok.RefreshToken)
		assert.Equal(t, 400, code)
		assert.Equal(t, "invalid_grant", body["error"])
		code, _ = refresh(t, srv, first["refresh_token"].(string))
		assert.Equal(t, 200, code, "the grant survives")
		assert.Equal(t, 1, srv.Stats().RefreshTokenReuse)
	})
	t.Run("rotation off", func(t *testing.T) {
		srv := newServer(t)
		srv.SetRotateRefreshTokens(false)
		tok := srv.NewToken()
		for i := range 3 {
			code, body := refresh(t, srv, tok.RefreshToken)
			require.Equal(t, 200, code, "refresh %d", i)
			assert.Equal(t, tok.RefreshToken, body["refresh_token"])
		}
		st := srv.Stats()
		assert.Equal(t, 3, st.Refreshes())
		assert.Zero(t, st.RefreshTokenReuse)
	})
}

func TestRevocation(t *testing.T) {
	srv := newServer(t)
	a, b := srv.NewToken(), srv.NewToken()
	srv.RevokeAccessTokens()
	assert.Equal(t, 401, get(t, srv, "x", "Bearer "+a.AccessToken).StatusCode)
	code, body, _ := postToken(t, srv, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {a.RefreshToken}}, true)
	require.Equal(t, 200, code, "refresh tokens survive RevokeAccessTokens")
	assert.Equal(t, 200, get(t, srv, "x", "Bearer "+body["access_token"].(string)).StatusCode)

	assert.True(t, srv.RevokeGrantOf(b))
	assert.False(t, srv.RevokeGrantOf(&authtransport.Token{AccessToken: "unknown"}))
	code, _, _ = postToken(t, srv, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {b.RefreshToken}}, true)
	assert.Equal(t, 400, code)

	srv.RevokeGrant()
	assert.Equal(t, 401, get(t, srv, "x", "Bearer "+body["access_token"].(string)).StatusCode)
	code, _, _ = postToken(t, srv, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {body["refresh_token"].(string)}}, true)
	assert.Equal(t, 400, code)
	c := srv.NewToken()
	assert.Equal(t, 200, get(t, srv, "x", "Bearer "+c.AccessToken).StatusCode, "a grant issued after RevokeGrant")

	st := srv.Stats()
	assert.Equal(t, 2, st.ResourceRequests[authtest.OutcomeRevokedToken])
	assert.Equal(t, 2, st.ResourceRequests[authtest.OutcomeOK])
}

func TestResource(t *testing.T) {
	srv := newServer(t)
	tok := srv.NewToken()
	tests := []struct {
		name          string
		authorization string
		wantStatus    int
		wantOutcome   string
		wantChallenge string // substring of WWW-Authenticate
	}{
		{"valid token", "Bearer " + tok.AccessToken, 200, authtest.OutcomeOK, ""},
		{"scheme is case-insensitive", "bearer " + tok.AccessToken, 200, authtest.OutcomeOK, ""},
		{"no credentials", "", 401, authtest.OutcomeNoToken, `Bearer realm="authtest", resource_metadata="` + srv.MetadataURL() + `"`},
		{"unknown token", "Bearer nope", 401, authtest.OutcomeUnknownToken, `error="invalid_token"`},
		{"basic scheme", "Basic Zm9vOmJhcg==", 401, authtest.OutcomeWrongScheme, `error="invalid_token"`},
		{"bearer token as DPoP", "DPoP " + tok.AccessToken, 401, authtest.OutcomeInvalidDPoPProof, `DPoP algs="ES256"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := get(t, srv, "items/1", tt.authorization)
			assert.Equal(t, tt.wantStatus, resp.StatusCode)
			assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
			reqs := srv.ResourceRequests()
			require.NotEmpty(t, reqs)
			last := reqs[len(reqs)-1]
			assert.Equal(t, tt.wantOutcome, last.Outcome)
			assert.Equal(t, tt.wantStatus, last.Status)
			assert.Equal(t, "/api/items/1", last.Path)
			if tt.wantChallenge == "" {
				assert.Empty(t, resp.Header.Values("WWW-Authenticate"))
				var body map[string]any
				require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
				assert.Equal(t, true, body["ok"])
				assert.Equal(t, "/api/items/1", body["path"])
				return
			}
			assert.Contains(t, resp.Header.Get("WWW-Authenticate"), tt.wantChallenge)
			assert.Contains(t, resp.Header.Get("WWW-Authenticate"), `resource_metadata=`)
		})
	}

	t.Run("records what each request carried", func(t *testing.T) {
		srv := newServer(t)
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.ResourceURL("upload"), strings.NewReader("payload"))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		reqs := srv.ResourceRequests()
		require.Len(t, reqs, 1)
		assert.Equal(t, authtest.ResourceRequest{Method: "POST", Path: "/api/upload", Scheme: "Bearer",
			Token: tok.AccessToken, Body: []byte("payload"), Status: 401, Outcome: authtest.OutcomeUnknownToken}, reqs[0],
			"a token of another server is unknown here")
		srv.ResetStats()
		assert.Empty(t, srv.ResourceRequests())
		assert.Zero(t, srv.Stats().ResourceRequestsTotal())
	})
}

func TestRecordedRequestsBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("sends many requests")
	}
	srv := newServer(t)
	for range authtest.MaxRecordedRequests + 1 {
		resp, err := srv.Client().Get(srv.ResourceURL("x"))
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	reqs := srv.ResourceRequests()
	assert.Len(t, reqs, authtest.MaxRecordedRequests-authtest.MaxRecordedRequests/10+1)
	assert.Equal(t, authtest.MaxRecordedRequests+1, srv.Stats().ResourceRequests[authtest.OutcomeNoToken], "counters are not bounded")
}

func TestUnstartedServerOnFixedListener(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := authtest.NewUnstartedServer()
	s.ClientSecret = "fixed-secret"
	s.Listener = l
	s.Start()
	defer s.Close()
	assert.Equal(t, "http://"+l.Addr().String(), s.URL)
	assert.Equal(t, "fixed-secret", s.Config().ClientSecret)
	ts := s.Config().TokenSource(context.Background(), &oauth2.Token{RefreshToken: s.NewToken().RefreshToken})
	_, err = ts.Token()
	assert.NoError(t, err, "the fixed secret authenticates the client")
	assert.Panics(t, s.Start, "a second Start")
}

func TestUnstartedServerClosesItsListeners(t *testing.T) {
	// closed reports whether l no longer accepts: Accept on a closed
	// listener fails at once.
	closed := func(l net.Listener) bool {
		_, err := l.Accept()
		return err != nil
	}
	newListener := func(t *testing.T) net.Listener {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		return l
	}
	t.Run("Start with a replaced listener", func(t *testing.T) {
		s := authtest.NewUnstartedServer()
		made := s.Listener
		s.Listener = newListener(t)
		s.Start()
		defer s.Close()
		assert.True(t, closed(made), "Start closed the listener NewUnstartedServer made")
	})
	t.Run("Close without Start, listener replaced", func(t *testing.T) {
		s := authtest.NewUnstartedServer()
		made := s.Listener
		mine := newListener(t)
		s.Listener = mine
		s.Close()
		assert.True(t, closed(made), "Close closed the listener NewUnstartedServer made")
		assert.True(t, closed(mine), "Close closed the listener the server was given")
	})
	t.Run("Close without Start", func(t *testing.T) {
		s := authtest.NewUnstartedServer()
		made := s.Listener
		s.Close()
		assert.True(t, closed(made), "Close closed the listener NewUnstartedServer made")
		s.Close() // a second Close is harmless
	})
}
