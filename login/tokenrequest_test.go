package login

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/d5c4ca72/authtransport"
)

// tokenServer answers every request with status and body, and keeps the
// last request's form and Basic credentials.
type tokenServer struct {
	*httptest.Server
	status int
	body   string

	mu         sync.Mutex // guards the fields below
	form       url.Values
	user, pass string
	basic      bool
}

// last returns the last request's form and Basic credentials.
func (ts *tokenServer) last() (form url.Values, user, pass string, basic bool) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.form, ts.user, ts.pass, ts.basic
}

func newTokenServer(t *testing.T, status int, body string) *tokenServer {
	ts := &tokenServer{status: status, body: body}
	ts.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		ts.mu.Lock()
		ts.form = r.PostForm
		ts.user, ts.pass, ts.basic = r.BasicAuth()
		ts.mu.Unlock()
		if ts.status == http.StatusFound {
			http.Redirect(w, r, "https://elsewhere.example/token?secret=x", http.StatusFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(ts.status)
		fmt.Fprint(w, ts.body)
	}))
	t.Cleanup(ts.Close)
	return ts
}

func TestClientAuthentication(t *testing.T) {
	ts := newTokenServer(t, 200, `{"access_token":"at","token_type":"Bearer"}`)
	endpoint, err := url.Parse(ts.URL + "/token")
	require.NoError(t, err)
	tests := []struct {
		name      string
		cfg       oauth2.Config
		wantBasic bool
		wantForm  url.Values // client_id and client_secret in the form
	}{
		{"public", oauth2.Config{ClientID: "cli"}, false, url.Values{"client_id": {"cli"}}},
		{"public, header style asked", oauth2.Config{ClientID: "cli", Endpoint: oauth2.Endpoint{AuthStyle: oauth2.AuthStyleInHeader}}, false, url.Values{"client_id": {"cli"}}},
		{"confidential, auto detect", oauth2.Config{ClientID: "app", ClientSecret: "s3cr:t"}, true, url.Values{}},
		{"confidential, header", oauth2.Config{ClientID: "app", ClientSecret: "s3cr:t", Endpoint: oauth2.Endpoint{AuthStyle: oauth2.AuthStyleInHeader}}, true, url.Values{}},
		{"confidential, params", oauth2.Config{ClientID: "app", ClientSecret: "s3cr:t", Endpoint: oauth2.Endpoint{AuthStyle: oauth2.AuthStyleInParams}}, false,
			url.Values{"client_id": {"app"}, "client_secret": {"s3cr:t"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := requestToken(t.Context(), &tt.cfg, endpoint, url.Values{"grant_type": {"x"}})
			require.NoError(t, err)
			form, user, pass, basic := ts.last()
			assert.Equal(t, tt.wantBasic, basic, "Basic authorization")
			if tt.wantBasic {
				assert.Equal(t, url.QueryEscape(tt.cfg.ClientID), user)
				assert.Equal(t, url.QueryEscape(tt.cfg.ClientSecret), pass, "RFC 6749 §2.3.1 form-encodes the secret")
			}
			for _, k := range []string{"client_id", "client_secret"} {
				assert.Equal(t, tt.wantForm[k], form[k], "form %s", k)
			}
			assert.Equal(t, []string{"x"}, form["grant_type"])
		})
	}
}

func TestTokenAnswers(t *testing.T) {
	cfg := &oauth2.Config{ClientID: "cli"}
	s := secrets{"the-code-1234", "verifier-5678"}
	tests := []struct {
		name   string
		status int
		body   string
		check  func(t *testing.T, tok *tokenResult)
	}{
		{"a token", 200, `{"access_token":"at","token_type":"Bearer","refresh_token":"rt","expires_in":3600,"scope":"a b"}`, func(t *testing.T, r *tokenResult) {
			require.NoError(t, r.err)
			assert.Equal(t, "at", r.tok.AccessToken)
			assert.Equal(t, "rt", r.tok.RefreshToken)
			assert.Equal(t, "a b", r.tok.Scope)
			assert.Equal(t, time.Hour, r.tok.Expiry.Sub(r.tok.ObtainedAt))
		}},
		{"expires_in as a string", 200, `{"access_token":"at","expires_in":"60"}`, func(t *testing.T, r *tokenResult) {
			require.NoError(t, r.err)
			assert.Equal(t, time.Minute, r.tok.Expiry.Sub(r.tok.ObtainedAt))
		}},
		{"no expires_in", 200, `{"access_token":"at"}`, func(t *testing.T, r *tokenResult) {
			require.NoError(t, r.err)
			assert.True(t, r.tok.Expiry.IsZero(), "no expiry")
			assert.False(t, r.tok.ObtainedAt.IsZero(), "ObtainedAt is set")
		}},
		{"no access token", 200, `{"token_type":"Bearer"}`, func(t *testing.T, r *tokenResult) {
			var re *ResponseError
			require.ErrorAs(t, r.err, &re)
			assert.Equal(t, "the token answer has no access_token", re.Reason)
		}},
		{"an OAuth error echoing the code", 400, `{"error":"invalid_grant","error_description":"code the-code-1234 is bad; verifier verifier-5678"}`, func(t *testing.T, r *tokenResult) {
			var oe *OAuthError
			require.ErrorAs(t, r.err, &oe)
			assert.Equal(t, "invalid_grant", oe.Code)
			assert.Equal(t, "code REDACTED is bad; verifier REDACTED", oe.Description)
			assert.NotContains(t, r.err.Error(), "the-code-1234")
		}},
		{"an error page", 500, `<html>oops</html>`, func(t *testing.T, r *tokenResult) {
			var re *ResponseError
			require.ErrorAs(t, r.err, &re)
			assert.Equal(t, 500, re.StatusCode)
			assert.NotContains(t, r.err.Error(), "oops", "the answer is not quoted")
		}},
		{"too large", 200, `{"access_token":"` + strings.Repeat("a", maxBody) + `"}`, func(t *testing.T, r *tokenResult) {
			var re *ResponseError
			require.ErrorAs(t, r.err, &re)
			assert.Contains(t, re.Reason, "larger than 1 MiB")
		}},
		{"a redirect", http.StatusFound, "", func(t *testing.T, r *tokenResult) {
			var rd *RedirectError
			require.ErrorAs(t, r.err, &rd, "token requests follow no redirect")
			assert.Equal(t, "https://elsewhere.example/token", rd.To, "without its query")
			assert.NotContains(t, r.err.Error(), "secret")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTokenServer(t, tt.status, tt.body)
			endpoint, err := url.Parse(ts.URL + "/token")
			require.NoError(t, err)
			tok, err := requestToken(t.Context(), cfg, endpoint, url.Values{})
			err = s.clean(err) // as the flows do
			tt.check(t, &tokenResult{tok: tok, err: err})
			if err != nil {
				assert.Nil(t, tok)
			}
		})
	}
	t.Run("the context's client", func(t *testing.T) {
		ts := newTokenServer(t, 200, `{"access_token":"at"}`)
		endpoint, err := url.Parse(ts.URL + "/token")
		require.NoError(t, err)
		used := false
		c := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			used = true
			return http.DefaultTransport.RoundTrip(r)
		})}
		_, err = requestToken(context.WithValue(t.Context(), oauth2.HTTPClient, c), cfg, endpoint, url.Values{})
		require.NoError(t, err)
		assert.True(t, used, "the client under oauth2.HTTPClient sent the request")
	})
}

type tokenResult struct {
	tok *authtransport.Token
	err error
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestScrub(t *testing.T) {
	cfg := &oauth2.Config{ClientID: "app", ClientSecret: "p@ss word"}
	s := append(secrets{"abc"}, clientSecrets(cfg)...)
	basic := base64.StdEncoding.EncodeToString([]byte(url.QueryEscape("app") + ":" + url.QueryEscape("p@ss word")))
	tests := []struct{ name, in, want string }{
		{"raw", "secret p@ss word here", "secret REDACTED here"},
		{"url-escaped", "secret p%40ss+word here", "secret REDACTED here"},
		{"basic credentials", "Basic " + basic, "Basic REDACTED"},
		{"short secrets are left alone", "abc", "abc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, s.scrub(tt.in))
		})
	}
}
