package authtransport_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/d5c4ca72/authtransport"
)

// recorder is a server that records what reaches it.
type recorder struct {
	mu   sync.Mutex
	hits []string // method, path, headers and body of each request
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.hits = append(r.hits, req.Method+" "+req.URL.String()+" "+req.Header.Get("Authorization")+" "+string(body))
	r.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"access_token":"stolen","token_type":"Bearer","expires_in":3600}`)
}

func (r *recorder) requests() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.hits...)
}

// A token endpoint that redirects is not followed, whatever the status:
// the refresh token and the client secret (here in the form body, where
// stripping headers would not help) go to the token endpoint's origin only.
// The error names the endpoint without its query.
func TestTokenRequestsFollowNoRedirect(t *testing.T) {
	const clientSecret = "client-SECRET-1234"
	for _, status := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			other := &recorder{}
			otherSrv := httptest.NewServer(other)
			defer otherSrv.Close()
			as := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, otherSrv.URL+"/token?stolen=1", status)
			}))
			defer as.Close()
			cfg := &oauth2.Config{
				ClientID:     "client",
				ClientSecret: clientSecret,
				Endpoint:     oauth2.Endpoint{TokenURL: as.URL + "/token?tenant=t1", AuthStyle: oauth2.AuthStyleInParams},
			}
			tr := &authtransport.Transport{
				Base:      newAPI("stolen"),
				Store:     authtransport.NewMemoryStore(expired()),
				Refresher: authtransport.NewOAuth2Refresher(cfg),
			}
			_, err := get(t, &http.Client{Transport: tr}, context.Background())
			require.Error(t, err)
			var re *authtransport.RefreshError
			require.ErrorAs(t, err, &re, "a refresh failure")
			assert.Empty(t, other.requests(), "nothing reached the other origin")
			assert.Contains(t, err.Error(), "redirect", "the error says the endpoint redirected")
			assert.Contains(t, err.Error(), as.URL+"/token", "the error names the endpoint")
			assert.NotContains(t, err.Error(), "tenant=t1", "without its query")
			assert.NotContains(t, err.Error(), clientSecret)
			assert.NotErrorIs(t, err, authtransport.ErrLoginRequired, "no login fixes a redirecting endpoint")
		})
	}
}

// Token requests go over plain http only to loopback, unless
// AllowInsecureHTTP: the refresh token and client secret never cross the
// network in the clear. Such an endpoint is a configuration error.
func TestTokenEndpointOverPlainHTTPIsRefused(t *testing.T) {
	sent := &recorder{}
	fake := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		rec := httptest.NewRecorder()
		sent.ServeHTTP(rec, req)
		return rec.Result(), nil
	})
	cfg := &oauth2.Config{ClientID: "client", ClientSecret: "s", Endpoint: oauth2.Endpoint{TokenURL: "http://as.example/token", AuthStyle: oauth2.AuthStyleInParams}}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, &http.Client{Transport: fake})

	tr := &authtransport.Transport{Base: newAPI("stolen"), Store: authtransport.NewMemoryStore(expired()), Refresher: authtransport.NewOAuth2Refresher(cfg)}
	_, err := get(t, &http.Client{Transport: tr}, ctx)
	var re *authtransport.RefreshError
	require.ErrorAs(t, err, &re)
	assert.True(t, re.Terminal, "a configuration error, not retried at once")
	assert.Contains(t, err.Error(), "http://as.example/token")
	assert.Empty(t, sent.requests(), "no token request went out")

	tr = &authtransport.Transport{Base: newAPI("stolen"), Store: authtransport.NewMemoryStore(expired()), Refresher: authtransport.NewOAuth2Refresher(cfg), AllowInsecureHTTP: true}
	resp, err := get(t, &http.Client{Transport: tr}, ctx)
	require.NoError(t, err, "AllowInsecureHTTP lets it through")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	require.Len(t, sent.requests(), 1)
	assert.True(t, strings.HasPrefix(sent.requests()[0], "POST "), "one token request")
}

// The token endpoint redirects (307 keeps the body: refresh token, client
// secret) to another loopback origin: nothing reaches it.
func TestTokenEndpointRedirectNamesNoSecret(t *testing.T) {
	other := newRevRecorder(t, nil)
	for _, code := range []int{301, 302, 303, 307, 308} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			as := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, other.srv.URL+"/token/rt-SECRET-abcdef", code)
			}))
			defer as.Close()
			cfg := &oauthConfig{id: "client", secret: "cs-SECRET-123456", url: as.URL + "/token"}
			tr := &authtransport.Transport{Base: newAPI(), Store: authtransport.NewMemoryStore(&authtransport.Token{AccessToken: "old", RefreshToken: "rt-SECRET-abcdef", Expiry: time.Now().Add(-time.Minute)}),
				Refresher: cfg.refresher()}
			_, err := get(t, &http.Client{Transport: tr}, context.Background())
			require.Error(t, err)
			assert.Equal(t, int32(0), other.hits.Load(), "the redirect was followed")
			assert.NotContains(t, err.Error(), "rt-SECRET-abcdef")
			t.Log(err)
		})
	}
}
