package authtest_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d5c4ca72/authtransport/authtest"
)

func clientCredentials() url.Values { return url.Values{"grant_type": {"client_credentials"}} }

func TestClockAndLifetime(t *testing.T) {
	srv := newServer(t)
	clock := authtest.NewClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	srv.SetNow(clock.Now)
	srv.SetAccessTokenLifetime(time.Minute)

	code, body, _ := postToken(t, srv, clientCredentials(), true)
	require.Equal(t, 200, code)
	assert.EqualValues(t, 60, body["expires_in"])
	at := body["access_token"].(string)
	tok := srv.NewToken()
	assert.WithinDuration(t, time.Now().Add(time.Minute), tok.Expiry, time.Second, "Expiry is in the caller's time")

	assert.Equal(t, 200, get(t, srv, "x", "Bearer "+at).StatusCode)
	clock.Advance(59 * time.Second)
	assert.Equal(t, 200, get(t, srv, "x", "Bearer "+at).StatusCode)
	clock.Advance(time.Second)
	resp := get(t, srv, "x", "Bearer "+at)
	assert.Equal(t, 401, resp.StatusCode)
	assert.Contains(t, resp.Header.Get("WWW-Authenticate"), `error_description="the access token expired"`)
	assert.Equal(t, 1, srv.Stats().ResourceRequests[authtest.OutcomeExpiredToken])

	t.Run("sub-second and zero lifetimes round up to one second", func(t *testing.T) {
		for _, d := range []time.Duration{300 * time.Millisecond, 0, -time.Hour} {
			srv.SetAccessTokenLifetime(d)
			code, body, _ := postToken(t, srv, clientCredentials(), true)
			require.Equal(t, 200, code)
			assert.EqualValues(t, 1, body["expires_in"], "lifetime %v", d)
		}
		// A zero lifetime issues tokens that are expired at once.
		srv.SetAccessTokenLifetime(0)
		_, body, _ := postToken(t, srv, clientCredentials(), true)
		assert.Equal(t, 401, get(t, srv, "x", "Bearer "+body["access_token"].(string)).StatusCode)
	})
	t.Run("back to real time", func(t *testing.T) {
		srv.SetNow(nil)
		srv.SetAccessTokenLifetime(time.Hour)
		assert.Equal(t, 200, get(t, srv, "x", "Bearer "+srv.NewToken().AccessToken).StatusCode)
	})
	t.Run("clock set", func(t *testing.T) {
		c := authtest.NewClock(time.Unix(0, 0))
		c.Set(time.Unix(100, 0))
		c.Advance(-50 * time.Second)
		assert.Equal(t, time.Unix(50, 0), c.Now())
	})
}

func TestTokenDelay(t *testing.T) {
	srv := newServer(t)
	srv.SetTokenDelay(150 * time.Millisecond)
	start := time.Now()
	code, _, _ := postToken(t, srv, clientCredentials(), true)
	assert.Equal(t, 200, code)
	assert.GreaterOrEqual(t, time.Since(start), 150*time.Millisecond)

	srv.SetTokenDelay(0)
	start = time.Now()
	postToken(t, srv, clientCredentials(), true)
	assert.Less(t, time.Since(start), 150*time.Millisecond)

	t.Run("close ends a pending delay", func(t *testing.T) {
		srv := authtest.NewServer()
		srv.SetTokenDelay(time.Hour)
		done := make(chan error, 1)
		written := make(chan struct{})
		trace := &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { close(written) }}
		go func() {
			req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace),
				http.MethodPost, srv.TokenURL(), strings.NewReader(clientCredentials().Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			resp, err := srv.Client().Do(req)
			if err == nil {
				resp.Body.Close()
			}
			done <- err
		}()
		<-written
		time.Sleep(50 * time.Millisecond) // let the handler reach the delay
		start := time.Now()
		srv.Close()
		assert.Less(t, time.Since(start), 5*time.Second)
		assert.Error(t, <-done, "the delayed request is dropped")
		assert.Equal(t, 1, srv.Stats().TokenRequests["client_credentials"][authtest.OutcomeCanceled])
	})
}

func TestTokenFaults(t *testing.T) {
	tests := []struct {
		name        string
		fault       authtest.Fault
		wantStatus  int
		wantHeader  [2]string
		wantBody    string
		wantErr     bool
		wantOutcome string
	}{
		{name: "503 by default", fault: authtest.Fault{Kind: authtest.FaultStatus}, wantStatus: 503, wantOutcome: authtest.OutcomeFaultStatus},
		{name: "500", fault: authtest.Fault{Kind: authtest.FaultStatus, Status: 500}, wantStatus: 500, wantOutcome: authtest.OutcomeFaultStatus},
		{name: "429 with Retry-After", fault: authtest.Fault{Kind: authtest.FaultRateLimit, RetryAfter: 1500 * time.Millisecond},
			wantStatus: 429, wantHeader: [2]string{"Retry-After", "2"}, wantOutcome: authtest.OutcomeFaultRateLimit},
		{name: "429 default Retry-After", fault: authtest.Fault{Kind: authtest.FaultRateLimit},
			wantStatus: 429, wantHeader: [2]string{"Retry-After", "1"}, wantOutcome: authtest.OutcomeFaultRateLimit},
		{name: "garbage", fault: authtest.Fault{Kind: authtest.FaultGarbage}, wantStatus: 200, wantBody: "<html>", wantOutcome: authtest.OutcomeFaultGarbage},
		{name: "delay then normal answer", fault: authtest.Fault{Kind: authtest.FaultDelay, Delay: 50 * time.Millisecond},
			wantStatus: 200, wantBody: `"access_token"`, wantOutcome: authtest.OutcomeOK},
		{name: "injected invalid_grant", fault: authtest.Fault{Kind: authtest.FaultOAuthError, Code: "invalid_grant"},
			wantStatus: 400, wantBody: `"error":"invalid_grant"`, wantOutcome: authtest.OutcomeFaultOAuthError},
		{name: "injected server_error 500", fault: authtest.Fault{Kind: authtest.FaultOAuthError, Status: 500},
			wantStatus: 500, wantBody: `"error":"server_error"`, wantOutcome: authtest.OutcomeFaultOAuthError},
		{name: "connection reset", fault: authtest.Fault{Kind: authtest.FaultReset}, wantErr: true, wantOutcome: authtest.OutcomeFaultReset},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t)
			srv.FailTokenRequests(2, tt.fault)
			for i := range 3 {
				// A fresh connection each time, so a reset does not poison the next request.
				tr := &http.Transport{DisableKeepAlives: true}
				resp, err := (&http.Client{Transport: tr}).PostForm(srv.TokenURL(), url.Values{
					"grant_type": {"client_credentials"}, "client_id": {srv.ClientID}, "client_secret": {srv.ClientSecret}})
				if i == 2 {
					require.NoError(t, err, "the third request is served normally")
					assert.Equal(t, 200, resp.StatusCode)
					resp.Body.Close()
					continue
				}
				if tt.wantErr {
					require.Error(t, err)
					assert.True(t, errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF),
						"want a reset, got %v", err)
					continue
				}
				require.NoError(t, err)
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				assert.Equal(t, tt.wantStatus, resp.StatusCode)
				if tt.wantHeader[0] != "" {
					assert.Equal(t, tt.wantHeader[1], resp.Header.Get(tt.wantHeader[0]))
				}
				assert.Contains(t, string(body), tt.wantBody)
			}
			st := srv.Stats()
			want := 2
			if tt.wantOutcome == authtest.OutcomeOK {
				want = 3
			}
			assert.Equal(t, want, st.TokenRequests["client_credentials"][tt.wantOutcome], "%v", st.TokenRequests)
		})
	}

	t.Run("queued faults run in order", func(t *testing.T) {
		srv := newServer(t)
		srv.FailTokenRequests(1, authtest.Fault{Kind: authtest.FaultStatus, Status: 502})
		srv.FailTokenRequests(1, authtest.Fault{Kind: authtest.FaultRateLimit})
		var got []int
		for range 3 {
			code, _, _ := postToken(t, srv, clientCredentials(), true)
			got = append(got, code)
		}
		assert.Equal(t, []int{502, 429, 200}, got)
	})
	t.Run("fraction", func(t *testing.T) {
		srv := newServer(t)
		srv.FailTokenRequestFraction(0.25, authtest.Fault{Kind: authtest.FaultStatus})
		var got []int
		for range 8 {
			code, _, _ := postToken(t, srv, clientCredentials(), true)
			got = append(got, code)
		}
		assert.Equal(t, []int{200, 200, 200, 503, 200, 200, 200, 503}, got)
		srv.ClearTokenFaults()
		code, _, _ := postToken(t, srv, clientCredentials(), true)
		assert.Equal(t, 200, code)
		srv.FailTokenRequestFraction(1, authtest.Fault{Kind: authtest.FaultStatus})
		code, _, _ = postToken(t, srv, clientCredentials(), true)
		assert.Equal(t, 503, code)
		srv.FailTokenRequestFraction(0, authtest.Fault{})
		code, _, _ = postToken(t, srv, clientCredentials(), true)
		assert.Equal(t, 200, code)
	})
}

func TestRequireScope(t *testing.T) {
	srv := newServer(t)
	srv.RequireScope("/api/admin/", "admin")
	srv.RequireScope("/api/admin/users", "admin", "users")
	reader := srv.IssueToken(authtest.Grant{Scope: "read"})
	admin := srv.IssueToken(authtest.Grant{Scope: "read admin"})
	super := srv.IssueToken(authtest.Grant{Scope: "admin users"})
	tests := []struct {
		name, path string
		tokenValue string
		wantStatus int
		wantScope  string
	}{
		{"unprotected path", "/api/items", reader.AccessToken, 200, ""},
		{"prefix rule refuses", "/api/admin/settings", reader.AccessToken, 403, "admin"},
		{"prefix rule admits", "/api/admin/settings", admin.AccessToken, 200, ""},
		{"longest rule wins", "/api/admin/users", admin.AccessToken, 403, "admin users"},
		{"longest rule admits", "/api/admin/users", super.AccessToken, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := get(t, srv, tt.path, "Bearer "+tt.tokenValue)
			assert.Equal(t, tt.wantStatus, resp.StatusCode)
			if tt.wantScope != "" {
				ch := resp.Header.Get("WWW-Authenticate")
				assert.Contains(t, ch, `error="insufficient_scope"`)
				assert.Contains(t, ch, `scope="`+tt.wantScope+`"`)
			}
		})
	}
	srv.RequireScope("/api/admin/")
	assert.Equal(t, 200, get(t, srv, "/api/admin/settings", "Bearer "+reader.AccessToken).StatusCode, "rule removed")
	assert.Equal(t, 2, srv.Stats().ResourceRequests[authtest.OutcomeInsufficientScope])
}

func TestRequireStepUp(t *testing.T) {
	srv := newServer(t)
	clock := authtest.NewClock(time.Now())
	srv.SetNow(clock.Now)
	srv.RequireStepUp("/api/pay", authtest.StepUp{ACRValues: []string{"mfa", "hwk"}, MaxAge: 5 * time.Minute})
	srv.RequireStepUp("/api/recent", authtest.StepUp{MaxAge: time.Minute})
	plain := srv.NewToken()
	mfa := srv.IssueToken(authtest.Grant{ACR: "mfa"})
	oldMFA := srv.IssueToken(authtest.Grant{ACR: "mfa", AuthTime: clock.Now().Add(-time.Hour)})

	resp := get(t, srv, "/api/pay", "Bearer "+plain.AccessToken)
	assert.Equal(t, 401, resp.StatusCode)
	ch := resp.Header.Get("WWW-Authenticate")
	assert.Contains(t, ch, `error="insufficient_user_authentication"`)
	assert.Contains(t, ch, `acr_values="mfa hwk"`)
	assert.Contains(t, ch, `max_age="300"`)

	assert.Equal(t, 200, get(t, srv, "/api/pay", "Bearer "+mfa.AccessToken).StatusCode)
	assert.Equal(t, 401, get(t, srv, "/api/pay", "Bearer "+oldMFA.AccessToken).StatusCode, "authenticated too long ago")
	assert.Equal(t, 200, get(t, srv, "/api/recent", "Bearer "+plain.AccessToken).StatusCode)
	clock.Advance(2 * time.Minute)
	resp = get(t, srv, "/api/recent", "Bearer "+plain.AccessToken)
	assert.Equal(t, 401, resp.StatusCode)
	assert.NotContains(t, resp.Header.Get("WWW-Authenticate"), "acr_values")
	assert.Contains(t, resp.Header.Get("WWW-Authenticate"), `max_age="60"`)

	srv.RequireStepUp("/api/recent", authtest.StepUp{})
	assert.Equal(t, 200, get(t, srv, "/api/recent", "Bearer "+plain.AccessToken).StatusCode)
	assert.Equal(t, 3, srv.Stats().ResourceRequests[authtest.OutcomeStepUp])
}

func TestReject(t *testing.T) {
	srv := newServer(t)
	tok := srv.NewToken()
	srv.Reject("/api/odd", authtest.Rejection{WWWAuthenticate: []string{`Newauth realm="apps", type=1`, `Bearer error="invalid_token"`}})
	srv.Reject("/api/once", authtest.Rejection{Status: 403, WWWAuthenticate: []string{`Bearer error="insufficient_scope", scope="x"`}, Times: 2})

	resp := get(t, srv, "/api/odd", "Bearer "+tok.AccessToken)
	assert.Equal(t, 401, resp.StatusCode)
	assert.Equal(t, []string{`Newauth realm="apps", type=1`, `Bearer error="invalid_token"`}, resp.Header.Values("WWW-Authenticate"))

	for i := range 2 {
		resp := get(t, srv, "/api/once", "Bearer "+tok.AccessToken)
		assert.Equal(t, 403, resp.StatusCode, "request %d", i)
	}
	assert.Equal(t, 200, get(t, srv, "/api/once", "Bearer "+tok.AccessToken).StatusCode, "Times exhausted")

	srv.ClearRejections()
	assert.Equal(t, 200, get(t, srv, "/api/odd", "Bearer "+tok.AccessToken).StatusCode)
	assert.Equal(t, 3, srv.Stats().ResourceRequests[authtest.OutcomeRejected])
}

func TestMetadata(t *testing.T) {
	srv := newServer(t)
	fetch := func(u string) map[string]any {
		resp, err := srv.Client().Get(u)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, 200, resp.StatusCode)
		assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
		var m map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&m))
		return m
	}
	prm := fetch(srv.MetadataURL())
	assert.Equal(t, srv.URL+"/api/", prm["resource"])
	assert.Equal(t, prm, fetch(srv.URL+"/.well-known/oauth-protected-resource/api/items"), "at the well-known location of a resource URL too")
	assert.Equal(t, []any{srv.URL}, prm["authorization_servers"])
	assert.Equal(t, []any{"header"}, prm["bearer_methods_supported"])
	assert.Equal(t, false, prm["dpop_bound_access_tokens_required"])
	srv.RequireDPoP(true)
	assert.Equal(t, true, fetch(srv.MetadataURL())["dpop_bound_access_tokens_required"])

	as := fetch(srv.URL + "/.well-known/oauth-authorization-server")
	assert.Equal(t, srv.URL, as["issuer"])
	assert.Equal(t, srv.TokenURL(), as["token_endpoint"])
	assert.Equal(t, srv.AuthURL(), as["authorization_endpoint"])
	assert.Contains(t, as["code_challenge_methods_supported"], "S256")
	assert.Equal(t, srv.DeviceAuthURL(), as["device_authorization_endpoint"])
	assert.Contains(t, as["grant_types_supported"], authtest.DeviceCodeGrantType)
	assert.Contains(t, as["token_endpoint_auth_methods_supported"], "none", "public clients")
	assert.Equal(t, true, as["authorization_response_iss_parameter_supported"], "RFC 9207")

	resp := get(t, srv, "x", "")
	assert.True(t, strings.Contains(resp.Header.Get("WWW-Authenticate"), `resource_metadata="`+srv.MetadataURL()+`"`))
}
