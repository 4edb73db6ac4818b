package authtransport_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/d5c4ca72/authtransport"
	"github.com/d5c4ca72/authtransport/authtest"
)

func TestErrorsCarryNoSecrets(t *testing.T) {
	srv := authtest.NewServer()
	defer srv.Close()
	tok := srv.NewExpiredToken()
	srv.RevokeGrant()
	c, _, _ := newClient(srv, tok)
	_, err := getURL(t, c, srv.ResourceURL("items"))
	require.Error(t, err)
	for _, secret := range []string{tok.AccessToken, tok.RefreshToken, srv.ClientSecret} {
		assert.NotContains(t, err.Error(), secret)
	}
	assert.True(t, errors.Is(err, authtransport.ErrLoginRequired))
}

// Secrets in a test where servers echo them, with characters that every
// encoding changes.
const (
	echoAccess  = `at-SECRET+/=<&>"x1`
	echoRefresh = `rt-SECRET+/=<&>"x2`
	echoClient  = `cs-SECRET+/=<&>"x3`
)

// secretForms returns every form in which s could be echoed.
func secretForms(s string) []string {
	j, _ := json.Marshal(s)
	return []string{s, url.QueryEscape(s), url.PathEscape(s), strings.Trim(string(j), `"`), strings.Trim(strconv.Quote(s), `"`)}
}

// showsSecret returns the first secret form in text, or "".
func showsSecret(text string) string {
	basic := base64.StdEncoding.EncodeToString([]byte(url.QueryEscape("client") + ":" + url.QueryEscape(echoClient)))
	for _, s := range append(append(append(secretForms(echoAccess), secretForms(echoRefresh)...), secretForms(echoClient)...), basic) {
		if strings.Contains(text, s) {
			return s
		}
	}
	return ""
}

// Servers that echo the secrets they were sent, in their error text, in a
// field of the wrong type (quoted by the JSON decoder), in a challenge: no
// error message, formatted error, event or log record shows them, in any
// encoding.
func TestEchoedSecretsAreScrubbed(t *testing.T) {
	basic := base64.StdEncoding.EncodeToString([]byte(url.QueryEscape("client") + ":" + url.QueryEscape(echoClient)))
	echoAll := func(s string) string {
		var all []string
		for _, f := range [][]string{secretForms(echoRefresh), secretForms(echoClient), secretForms(echoAccess)} {
			all = append(all, f...)
		}
		return s + " " + strings.Join(append(all, basic), " ")
	}
	tests := []struct {
		name   string
		status int
		body   func() string
		login  bool // the answer is a refused grant
	}{
		{"error_description", http.StatusBadRequest, func() string {
			b, _ := json.Marshal(map[string]string{"error": "invalid_grant", "error_description": echoAll("refused:")})
			return string(b)
		}, true},
		{"error code", http.StatusBadRequest, func() string {
			b, _ := json.Marshal(map[string]string{"error": echoRefresh})
			return string(b)
		}, false}, // an unknown code is not a refused grant
		{"mistyped field", http.StatusOK, func() string {
			b, _ := json.Marshal(map[string]string{"access_token": "x", "token_type": "Bearer", "expires_in": echoRefresh})
			return string(b)
		}, false},
		{"server error with body", http.StatusInternalServerError, func() string {
			return echoAll("upstream failed:")
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			as := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body())
			}))
			defer as.Close()
			cfg := &oauth2.Config{ClientID: "client", ClientSecret: echoClient, Endpoint: oauth2.Endpoint{TokenURL: as.URL + "/token", AuthStyle: oauth2.AuthStyleInHeader}}
			var logs bytes.Buffer
			var events []string
			tr := &authtransport.Transport{
				Base:      newAPI(),
				Store:     authtransport.NewMemoryStore(&authtransport.Token{AccessToken: echoAccess, RefreshToken: echoRefresh, Expiry: time.Now().Add(-time.Minute)}),
				Refresher: authtransport.NewOAuth2Refresher(cfg),
				Logger:    slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
				OnEvent: func(ev authtransport.Event) {
					events = append(events, fmt.Sprintf("%v %v %+v", ev.Kind, ev.Detail, ev.Err))
				},
			}
			_, err := get(t, &http.Client{Transport: tr}, context.Background())
			require.Error(t, err)
			assert.Equal(t, tt.login, errors.Is(err, authtransport.ErrLoginRequired), "login required: %v", err)
			for name, text := range map[string]string{
				"Error":  err.Error(),
				"%v":     fmt.Sprintf("%v", err),
				"%+v":    fmt.Sprintf("%+v", err),
				"%#v":    fmt.Sprintf("%#v", errors.Unwrap(err)),
				"logs":   logs.String(),
				"events": strings.Join(events, "\n"),
			} {
				assert.Empty(t, showsSecret(text), "%s shows a secret: %s", name, text)
			}
			var re *authtransport.RefreshError
			if errors.As(err, &re) {
				assert.Empty(t, showsSecret(re.Code+re.Description), "the RefreshError's fields")
				for e := errors.Unwrap(re); e != nil; e = errors.Unwrap(e) {
					assert.Empty(t, showsSecret(e.Error()), "a wrapped error: %v", e)
				}
			}
		})
	}
}

// A resource server that echoes the access token in a challenge: the
// LoginRequiredError, its challenges, the events and the logs show it
// scrubbed.
func TestEchoedAccessTokenInChallengeIsScrubbed(t *testing.T) {
	base := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		return respond(req, http.StatusForbidden, `Bearer error="insufficient_scope", scope="read `+url.QueryEscape(echoAccess)+`", error_description="token `+strings.ReplaceAll(echoAccess, `"`, `\"`)+` lacks scope"`), nil
	})
	var logs bytes.Buffer
	var events []string
	tr := &authtransport.Transport{
		Base:   base,
		Store:  authtransport.NewMemoryStore(&authtransport.Token{AccessToken: echoAccess, RefreshToken: echoRefresh, Expiry: time.Now().Add(time.Hour)}),
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		OnEvent: func(ev authtransport.Event) {
			events = append(events, fmt.Sprintf("%v %v", ev.Kind, ev.Detail))
		},
	}
	_, err := get(t, &http.Client{Transport: tr}, context.Background())
	var lr *authtransport.LoginRequiredError
	require.ErrorAs(t, err, &lr)
	assert.Equal(t, authtransport.ReasonInsufficientScope, lr.Reason)
	assert.Contains(t, err.Error(), "scope read REDACTED")
	for name, text := range map[string]string{
		"Error":      err.Error(),
		"challenge":  lr.Challenge.String(),
		"challenges": fmt.Sprint(lr.Challenges),
		"%#v":        fmt.Sprintf("%#v", lr),
		"logs":       logs.String(),
		"events":     strings.Join(events, "\n"),
	} {
		assert.Empty(t, showsSecret(text), "%s shows the token: %s", name, text)
	}
}

// A resource server that echoes the access token (or the API key, or Basic
// credentials) in a malformed answer, which http.Transport quotes in its
// error: RoundTrip returns the error with them scrubbed.
func TestEchoedSecretInBaseErrorIsScrubbed(t *testing.T) {
	const access = "at-SECRET-9f8e7d6c5b4a"
	const key = "key-SECRET-1a2b3c4d"
	cases := map[string]struct {
		tr     *authtransport.Transport
		header string
		secret string
	}{
		"access token": {&authtransport.Transport{Store: authtransport.NewMemoryStore(valid(access))}, "Authorization", access},
		"API key":      {&authtransport.Transport{APIKey: &authtransport.APIKey{Header: "X-Api-Key", Value: key}}, "X-Api-Key", key},
		"Basic":        {&authtransport.Transport{Basic: &authtransport.Basic{Username: "u", Password: "pw-SECRET-1234"}}, "Authorization", "dTpwdy1TRUNSRVQtMTIzNA=="},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			var logs bytes.Buffer
			c.tr.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			srv := echoStatusServer(t, c.header)
			cl := &http.Client{Transport: c.tr}
			resp, err := cl.Get(srv + "/x")
			if err == nil {
				resp.Body.Close()
			}
			require.Error(t, err)
			assert.NotContains(t, err.Error(), c.secret, "error text: %v", err)
			cl.CloseIdleConnections()
		})
	}
}

// A server that echoes the credential as a challenge's auth-scheme: the
// scheme is scrubbed too, in the error's Challenges and in %#v of it.
func TestEchoAsChallengeSchemeIsScrubbed(t *testing.T) {
	const access = "at-SECRET-77aa88bb"
	const key = "key-SECRET-5678"
	t.Run("API key", func(t *testing.T) {
		base := roundTripFunc(func(req *http.Request) (*http.Response, error) {
			return respond(req, http.StatusUnauthorized, req.Header.Get("X-Api-Key")+` realm="api"`), nil
		})
		tr := &authtransport.Transport{Base: base, APIKey: &authtransport.APIKey{Header: "X-Api-Key", Value: key}}
		_, err := get(t, &http.Client{Transport: tr}, context.Background())
		var ce *authtransport.CredentialsRejectedError
		require.ErrorAs(t, err, &ce)
		assert.NotContains(t, fmt.Sprintf("%#v", ce), key)
	})
	t.Run("access token", func(t *testing.T) {
		base := roundTripFunc(func(req *http.Request) (*http.Response, error) {
			tok := strings.TrimPrefix(req.Header.Get("Authorization"), "Bearer ")
			return respond(req, http.StatusForbidden, `Bearer error="insufficient_scope", `+tok+` realm="api"`), nil
		})
		tr := &authtransport.Transport{Base: base, Store: authtransport.NewMemoryStore(valid(access))}
		_, err := get(t, &http.Client{Transport: tr}, context.Background())
		var lr *authtransport.LoginRequiredError
		require.ErrorAs(t, err, &lr)
		assert.NotContains(t, fmt.Sprintf("%#v", lr), access)
		assert.NotContains(t, fmt.Sprint(lr.Challenges), access)
	})
}

// A token endpoint that echoes the refresh token URL-escaped with lower-case
// hex digits (as several encoders write them): scrubbed too.
func TestEchoWithLowerCaseEscapesIsScrubbed(t *testing.T) {
	const rt = "rt-SECRET+abc/def=="
	lower := strings.NewReplacer("%2B", "%2b", "%2F", "%2f", "%3D", "%3d").Replace(url.QueryEscape(rt))
	as := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"error":"invalid_grant","error_description":"refresh_token=%s is revoked"}`, lower)
	}))
	defer as.Close()
	cfg := &oauthConfig{id: "client", secret: "cs-SECRET-123456", url: as.URL + "/token"}
	tr := &authtransport.Transport{Base: newAPI(), Store: authtransport.NewMemoryStore(&authtransport.Token{AccessToken: "old", RefreshToken: rt, Expiry: time.Now().Add(-time.Minute)}),
		Refresher: cfg.refresher()}
	_, err := get(t, &http.Client{Transport: tr}, context.Background())
	require.Error(t, err)
	assert.NotContains(t, err.Error(), lower)
}

// log/slog's JSON handler encodes a value holding a Token (a slice, a
// struct field) with encoding/json, which Token's json tags make print the
// secrets.
func TestSlogOfCredentials(t *testing.T) {
	tok := authtransport.Token{AccessToken: "at-SECRET-aaaaaa", RefreshToken: "rt-SECRET-bbbbbb"}
	// A Token inside a container is encoded by encoding/json, which a
	// Store relies on: documented on Token. The Token itself is safe.
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("state", "token", tok, "ptr", &tok)
	assert.NotContains(t, buf.String(), "SECRET")
	var txt bytes.Buffer
	slog.New(slog.NewTextHandler(&txt, nil)).Info("state", "tokens", []*authtransport.Token{&tok}, "cfg", struct{ Tok authtransport.Token }{tok})
	assert.NotContains(t, txt.String(), "SECRET")
	var creds bytes.Buffer
	slog.New(slog.NewJSONHandler(&creds, nil)).Info("cfg", "creds", []any{&authtransport.Basic{Username: "u", Password: "pw-SECRET-1234"}, &authtransport.APIKey{Header: "X", Value: "key-SECRET-5678"}})
	assert.NotContains(t, creds.String(), "SECRET")
}
