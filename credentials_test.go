package authtransport_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d5c4ca72/authtransport"
	"github.com/d5c4ca72/authtransport/authtest"
)

const (
	testUser     = "alice"
	testPassword = "pw-SECRET-1234"
	testKey      = "key-SECRET-5678"
)

func basicValue(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// credentialServer records what each request carried and answers 200, or
// 401 with challenge to requests without want.
type credentialServer struct {
	mu        sync.Mutex
	seen      []string // Authorization, X-API-Key and query of each request
	want      func(r *http.Request) bool
	challenge []string
}

func (s *credentialServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.seen = append(s.seen, r.URL.Path+" auth="+r.Header.Get("Authorization")+" key="+r.Header.Get("X-Api-Key")+" query="+r.URL.RawQuery)
	s.mu.Unlock()
	if s.want != nil && !s.want(r) {
		for _, c := range s.challenge {
			w.Header().Add("WWW-Authenticate", c)
		}
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if r.URL.Path == "/away" {
		http.Redirect(w, r, r.URL.Query().Get("to"), http.StatusFound)
		return
	}
}

func (s *credentialServer) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.seen...)
}

// Each kind of static credential reaches its origin through an http.Client
// and nothing of it follows a redirect to another origin.
func TestStaticCredentialsStayWithTheirOrigin(t *testing.T) {
	tests := []struct {
		name string
		tr   func(base http.RoundTripper) *authtransport.Transport
		sent string // what the first request carries
	}{
		{"Basic", func(base http.RoundTripper) *authtransport.Transport {
			return &authtransport.Transport{Base: base, Basic: &authtransport.Basic{Username: testUser, Password: testPassword}}
		}, "auth=" + basicValue(testUser, testPassword) + " key= query=to="},
		{"API key header", func(base http.RoundTripper) *authtransport.Transport {
			return &authtransport.Transport{Base: base, APIKey: &authtransport.APIKey{Header: "X-API-Key", Value: testKey}}
		}, "auth= key=" + testKey + " query=to="},
		{"API key in Authorization", func(base http.RoundTripper) *authtransport.Transport {
			return &authtransport.Transport{Base: base, APIKey: &authtransport.APIKey{Header: "Authorization", Value: "Token " + testKey}}
		}, "auth=Token " + testKey + " key= query=to="},
		{"API key in the query", func(base http.RoundTripper) *authtransport.Transport {
			return &authtransport.Transport{Base: base, APIKey: &authtransport.APIKey{Query: "api_key", Value: testKey}}
		}, "auth= key= query=to=&api_key=" + testKey},
		{"Bearer and API key", func(base http.RoundTripper) *authtransport.Transport {
			return &authtransport.Transport{Base: base, Store: authtransport.NewMemoryStore(valid("tok-SECRET-x")), APIKey: &authtransport.APIKey{Header: "X-API-Key", Value: testKey}}
		}, "auth=Bearer tok-SECRET-x key=" + testKey + " query=to="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			other := &credentialServer{}
			otherSrv := httptest.NewServer(other)
			defer otherSrv.Close()
			api := &credentialServer{}
			apiSrv := httptest.NewServer(api)
			defer apiSrv.Close()
			c := &http.Client{Transport: tt.tr(apiSrv.Client().Transport)}
			defer c.CloseIdleConnections()
			resp, err := c.Get(apiSrv.URL + "/away?to=" + url.QueryEscape(otherSrv.URL+"/landing"))
			require.NoError(t, err)
			resp.Body.Close()
			require.Len(t, api.requests(), 1)
			assert.Equal(t, "/away "+strings.Replace(tt.sent, "to=", "to="+url.QueryEscape(otherSrv.URL+"/landing"), 1), api.requests()[0])
			assert.Equal(t, []string{"/landing auth= key= query="}, other.requests(), "the redirect to the other origin carries nothing")
		})
	}
}

// Static credentials follow the plain-http rule of tokens: never over
// http:// to a host that is not loopback, unless AllowInsecureHTTP.
func TestStaticCredentialsNotOverPlainHTTP(t *testing.T) {
	var got []string
	base := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		got = append(got, req.Header.Get("Authorization")+"|"+req.Header.Get("X-Api-Key")+"|"+req.URL.RawQuery)
		return respond(req, http.StatusOK, ""), nil
	})
	for _, tr := range []*authtransport.Transport{
		{Base: base, Basic: &authtransport.Basic{Username: testUser, Password: testPassword}},
		{Base: base, APIKey: &authtransport.APIKey{Header: "X-API-Key", Value: testKey}},
		{Base: base, APIKey: &authtransport.APIKey{Query: "k", Value: testKey}},
	} {
		resp, err := (&http.Client{Transport: tr}).Get("http://api.example/x")
		require.NoError(t, err)
		resp.Body.Close()
	}
	assert.Equal(t, []string{"||", "||", "||"}, got)
}

// Bad static credentials are a configuration error at the first request.
func TestStaticCredentialsAreChecked(t *testing.T) {
	for name, tr := range map[string]*authtransport.Transport{
		"colon in the user name":      {Basic: &authtransport.Basic{Username: "a:b", Password: "p"}},
		"control character":           {Basic: &authtransport.Basic{Username: "a", Password: "p\n"}},
		"key with neither place":      {APIKey: &authtransport.APIKey{Value: "k"}},
		"key in two places":           {APIKey: &authtransport.APIKey{Header: "X-K", Query: "k", Value: "k"}},
		"empty key":                   {APIKey: &authtransport.APIKey{Header: "X-K"}},
		"bad header name":             {APIKey: &authtransport.APIKey{Header: "X K", Value: "k"}},
		"Authorization key and Basic": {Basic: &authtransport.Basic{Username: "a"}, APIKey: &authtransport.APIKey{Header: "authorization", Value: "k"}},
	} {
		t.Run(name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, "https://api.example/x", nil)
			require.NoError(t, err)
			_, err = tr.RoundTrip(req)
			require.Error(t, err)
			assert.True(t, strings.HasPrefix(err.Error(), "authtransport: Transport."), "names the field: %v", err)
		})
	}
}

// Basic goes in UTF-8. A server that turns non-ASCII credentials down with
// a Basic challenge without charset="UTF-8" gets one resend in ISO-8859-1,
// and its origin's next requests start with it; one that says
// charset="UTF-8" gets no second try.
func TestBasicCharset(t *testing.T) {
	const user, pass = "jürgen", "päss-wörd-1"
	utf8Value := basicValue(user, pass)
	latin1Value := "Basic " + base64.StdEncoding.EncodeToString([]byte("j\xfcrgen:p\xe4ss-w\xf6rd-1"))
	require.NotEqual(t, utf8Value, latin1Value)
	for _, tc := range []struct {
		name      string
		accepts   string
		challenge string
		want      []string
		status    int
	}{
		{"UTF-8 server", utf8Value, `Basic realm="r", charset="UTF-8"`, []string{utf8Value, utf8Value}, http.StatusOK},
		{"ISO-8859-1 server", latin1Value, `Basic realm="r"`, []string{utf8Value, latin1Value, latin1Value}, http.StatusOK},
		{"UTF-8 refused with charset: no second try", "nothing", `Basic realm="r", charset="UTF-8"`, []string{utf8Value, utf8Value}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := &credentialServer{
				want:      func(r *http.Request) bool { return r.Header.Get("Authorization") == tc.accepts },
				challenge: []string{tc.challenge},
			}
			ts := httptest.NewTLSServer(srv)
			defer ts.Close()
			c := &http.Client{Transport: &authtransport.Transport{Base: ts.Client().Transport, Basic: &authtransport.Basic{Username: user, Password: pass}}}
			for range 2 {
				resp, err := c.Get(ts.URL + "/x")
				if tc.status == 0 {
					var ce *authtransport.CredentialsRejectedError
					assert.ErrorAs(t, err, &ce)
					continue
				}
				require.NoError(t, err)
				resp.Body.Close()
				assert.Equal(t, tc.status, resp.StatusCode)
			}
			var got []string
			for _, r := range srv.requests() {
				got = append(got, strings.TrimSuffix(strings.TrimPrefix(r, "/x auth="), " key= query="))
			}
			assert.Equal(t, tc.want, got, "the Authorization of each request")
		})
	}
}

// A 401 to static credentials is a CredentialsRejectedError with the
// challenges; a 403 is returned as it is.
func TestStaticCredentialsRejected(t *testing.T) {
	for _, tc := range []struct {
		name string
		tr   *authtransport.Transport
		cred string
	}{
		{"Basic", &authtransport.Transport{Basic: &authtransport.Basic{Username: testUser, Password: testPassword}}, "Basic"},
		{"API key", &authtransport.Transport{APIKey: &authtransport.APIKey{Header: "X-API-Key", Value: testKey}}, "APIKey"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status := http.StatusUnauthorized
			tc.tr.Base = roundTripFunc(func(req *http.Request) (*http.Response, error) {
				return respond(req, status, `Basic realm="api"`), nil
			})
			c := &http.Client{Transport: tc.tr}
			_, err := c.Get("https://api.example/x")
			var ce *authtransport.CredentialsRejectedError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, tc.cred, ce.Credential)
			assert.Equal(t, http.StatusUnauthorized, ce.StatusCode)
			require.Len(t, ce.Challenges, 1)
			assert.Equal(t, "Basic", ce.Challenges[0].Scheme)
			assert.NotErrorIs(t, err, authtransport.ErrLoginRequired)
			assert.NotContains(t, err.Error(), testPassword)
			assert.NotContains(t, err.Error(), testKey)

			status = http.StatusForbidden
			resp, err := c.Get("https://api.example/x")
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, http.StatusForbidden, resp.StatusCode, "a 403 is returned as it is")
		})
	}
}

// A Transport that holds a token and Basic sends what each server's
// challenges ask for, the strongest first: the token before any challenge,
// Basic when a 401 asks only for Basic (remembered for the origin), the
// token again when a 401 to Basic asks for Bearer; a Bearer or DPoP
// challenge is never answered with Basic. Challenges in one field and over
// several fields count alike.
func TestSchemeSelection(t *testing.T) {
	bearer := "Bearer tok-SECRET-y"
	basic := basicValue(testUser, testPassword)
	tests := []struct {
		name       string
		challenges []string
		accepts    string // the Authorization the server accepts
		want       []string
		wantErr    bool
	}{
		{"Bearer accepted", []string{`Bearer realm="api"`}, bearer, []string{bearer, bearer}, false},
		{"Basic only, one field", []string{`Basic realm="api"`}, basic, []string{bearer, basic, basic}, false},
		{"Basic and Negotiate, one field", []string{`Negotiate, Basic realm="api"`}, basic, []string{bearer, basic, basic}, false},
		{"Basic and Negotiate, two fields", []string{`Negotiate`, `Basic realm="api"`}, basic, []string{bearer, basic, basic}, false},
		{"Basic and Bearer, one field: the token", []string{`Basic realm="api", Bearer error="invalid_token"`}, "nothing", []string{bearer, "Bearer tok-1"}, true},
		{"Basic and Bearer, two fields: the token", []string{`Basic realm="api"`, `Bearer error="invalid_token"`}, "nothing", []string{bearer, "Bearer tok-1"}, true},
		{"DPoP and Basic: never Basic", []string{`DPoP algs="ES256"`, `Basic realm="api"`}, "nothing", []string{bearer, "Bearer tok-1"}, true},
		{"Negotiate only: returned", []string{`Negotiate`}, "nothing", []string{bearer}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var seen []string
			base := roundTripFunc(func(req *http.Request) (*http.Response, error) {
				auth := req.Header.Get("Authorization")
				seen = append(seen, auth)
				if auth == tt.accepts {
					return respond(req, http.StatusOK, ""), nil
				}
				resp := respond(req, http.StatusUnauthorized, "")
				for _, c := range tt.challenges {
					resp.Header.Add("WWW-Authenticate", c)
				}
				return resp, nil
			})
			tr := &authtransport.Transport{Base: base, Store: authtransport.NewMemoryStore(valid("tok-SECRET-y")), Refresher: &countingRefresher{},
				Basic: &authtransport.Basic{Username: testUser, Password: testPassword}}
			c := &http.Client{Transport: tr}
			resp, err := c.Get("https://api.example/x")
			if tt.wantErr {
				require.Error(t, err)
			} else {
				require.NoError(t, err)
				resp.Body.Close()
			}
			if len(tt.want) > len(seen) || len(tt.want) == 3 {
				// A second request shows what the origin starts with.
				if resp, err := c.Get("https://api.example/x"); err == nil {
					resp.Body.Close()
				}
			}
			assert.Equal(t, tt.want, seen[:min(len(seen), len(tt.want))], "what each request carried")
		})
	}
}

// An API key in the query is absent from every error, event and log record,
// on every error path: Base failing (its error quotes the URL), the key
// refused, the token endpoint failing beside it, the request's context
// ending.
func TestQueryAPIKeyNeverShown(t *testing.T) {
	var logs bytes.Buffer
	var events []string
	observe := func(tr *authtransport.Transport) *authtransport.Transport {
		tr.APIKey = &authtransport.APIKey{Query: "api_key", Value: testKey}
		tr.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		tr.OnEvent = func(ev authtransport.Event) {
			events = append(events, fmt.Sprintf("%v %v %v", ev.Kind, ev.Detail, ev.Err))
		}
		return tr
	}
	quoteURL := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		return nil, fmt.Errorf("dial %s: connection refused", req.URL)
	})
	refuse := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		return respond(req, http.StatusUnauthorized, `ApiKey realm="`+req.URL.RawQuery+`"`), nil
	})
	ctxErr := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		return nil, &url.Error{Op: "Get", URL: req.URL.String(), Err: context.DeadlineExceeded}
	})
	failingRefresher := authtransport.RefresherFunc(func(context.Context, *authtransport.Token) (*authtransport.Token, error) {
		return nil, fmt.Errorf("token endpoint said: bad key %s", testKey)
	})
	for name, tr := range map[string]*authtransport.Transport{
		"Base error quoting the URL": observe(&authtransport.Transport{Base: quoteURL}),
		"key refused":                observe(&authtransport.Transport{Base: refuse}),
		"context error with URL":     observe(&authtransport.Transport{Base: ctxErr}),
		"refresh failing":            observe(&authtransport.Transport{Base: refuse, Store: authtransport.NewMemoryStore(expired()), Refresher: failingRefresher}),
		"token refused beside it":    observe(&authtransport.Transport{Base: refuse, Store: authtransport.NewMemoryStore(valid("tok-SECRET-z")), Refresher: &countingRefresher{}}),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := (&http.Client{Transport: tr}).Get("https://api.example/x?page=2")
			require.Error(t, err)
			var texts []string
			for e := err; e != nil; e = errors.Unwrap(e) {
				texts = append(texts, e.Error(), fmt.Sprintf("%+v", e))
			}
			for _, text := range append(texts, logs.String(), strings.Join(events, "\n")) {
				assert.NotContains(t, text, testKey)
				assert.NotContains(t, text, url.QueryEscape(testKey))
			}
		})
	}
	assert.Contains(t, fmt.Sprintf("%v %+v %#v", *observe(&authtransport.Transport{}).APIKey, observe(&authtransport.Transport{}).APIKey, authtransport.Basic{Username: "u", Password: testPassword}), "REDACTED")
	assert.NotContains(t, fmt.Sprintf("%v %+v %#v %s %q", authtransport.APIKey{Query: "k", Value: testKey}, &authtransport.APIKey{Value: testKey}, authtransport.Basic{Password: testPassword}, authtransport.Basic{Password: testPassword}, authtransport.Basic{Password: testPassword}), "SECRET")
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("creds", "basic", authtransport.Basic{Username: "u", Password: testPassword}, "key", authtransport.APIKey{Header: "X", Value: testKey})
	assert.NotContains(t, buf.String(), "SECRET")
}

// Basic and API keys through a Transport against authtest's paths that
// demand them; a wrong password is a CredentialsRejectedError.
func TestStaticCredentialsAgainstAuthtest(t *testing.T) {
	srv := authtest.NewServer()
	defer srv.Close()
	srv.RequireBasic("/api/basic", authtransport.Basic{Username: testUser, Password: testPassword})
	srv.RequireAPIKey("/api/header", authtransport.APIKey{Header: "X-API-Key", Value: testKey})
	srv.RequireAPIKey("/api/query", authtransport.APIKey{Query: "key", Value: testKey})
	for _, tc := range []struct {
		name   string
		tr     *authtransport.Transport
		path   string
		status int
	}{
		{"Basic", &authtransport.Transport{Basic: &authtransport.Basic{Username: testUser, Password: testPassword}}, "basic", http.StatusOK},
		{"wrong password", &authtransport.Transport{Basic: &authtransport.Basic{Username: testUser, Password: "wrong-password"}}, "basic", 0},
		{"API key header", &authtransport.Transport{APIKey: &authtransport.APIKey{Header: "X-API-Key", Value: testKey}}, "header", http.StatusOK},
		{"API key query", &authtransport.Transport{APIKey: &authtransport.APIKey{Query: "key", Value: testKey}}, "query", http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.tr.Base = srv.Client().Transport
			resp, err := (&http.Client{Transport: tc.tr}).Get(srv.ResourceURL(tc.path))
			if tc.status == 0 {
				var ce *authtransport.CredentialsRejectedError
				require.ErrorAs(t, err, &ce)
				assert.Equal(t, "Basic", ce.Credential)
				return
			}
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, tc.status, resp.StatusCode)
		})
	}
}

// Logout on a Transport with only static credentials is
// documented to do nothing ("only static credentials" in Logout), but
// t.store() returns a typed-nil *MemoryStore, so store == nil is false and
// Lock on the nil store panics (recovered into an error).
func TestLogoutWithOnlyStaticCredentials(t *testing.T) {
	tr := &authtransport.Transport{Basic: &authtransport.Basic{Username: "u", Password: "password1"}}
	assert.NoError(t, tr.Logout(context.Background()))
}

// 401 with both a Bearer and a Basic challenge: the Transport holding a
// token and Basic must not answer with Basic. And with a Bearer challenge
// that is malformed (missing comma) next to Basic.
func TestMalformedBearerChallengeIsNotAnsweredWithBasic(t *testing.T) {
	for _, ch := range []string{
		`Bearer realm="api", Basic realm="api"`,
		`Basic realm="api", Bearer realm="api"`,
		`Bearer error="invalid_token" error_description="expired", Basic realm="api"`,
		`Bearer realm=my api, Basic realm="api"`,
	} {
		t.Run(ch, func(t *testing.T) {
			var sawBasic atomic.Bool
			base := roundTripFunc(func(req *http.Request) (*http.Response, error) {
				if strings.HasPrefix(req.Header.Get("Authorization"), "Basic ") {
					sawBasic.Store(true)
				}
				return respond(req, http.StatusUnauthorized, ch), nil
			})
			tr := &authtransport.Transport{Base: base, Store: authtransport.NewMemoryStore(valid("tok-0")), Refresher: &countingRefresher{},
				Basic: &authtransport.Basic{Username: "u", Password: "pw-SECRET-1"}}
			_, _ = get(t, &http.Client{Transport: tr}, context.Background())
			assert.False(t, sawBasic.Load(), "Basic was sent in answer to a Bearer challenge: %s", ch)
		})
	}
}

// A query API key leaves the rest of the query byte for byte as the caller
// wrote it (parameters with ";" or odd escapes, order, encoding: a signed
// URL stays valid) and goes at its end.
func TestQueryKeyLeavesTheRestOfTheQuery(t *testing.T) {
	var got string
	base := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		got = req.URL.RawQuery
		return respond(req, http.StatusOK, ""), nil
	})
	tr := &authtransport.Transport{Base: base, APIKey: &authtransport.APIKey{Query: "api_key", Value: "key-SECRET-1"}}
	req, _ := http.NewRequest(http.MethodGet, "https://api.example/x?z=1&filter=a;b&sig=%7e%zz&a=2", nil)
	resp, err := tr.RoundTrip(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.True(t, strings.HasPrefix(got, "z=1&filter=a;b&sig=%7e%zz&a=2&"), "the caller's query was rewritten: sent %q", got)
}

// A server that redirects to a canonical path keeping the query (a
// trailing-slash redirect): http.Client's *url.Error then names the
// redirected URL, which holds the query API key the Transport added.
func TestQueryKeyNotInRedirectErrors(t *testing.T) {
	const key = "key-SECRET-5678"
	srv := newRevRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/x" {
			http.Redirect(w, r, "/x/?"+r.URL.RawQuery, http.StatusMovedPermanently)
			return
		}
		w.Header().Set("WWW-Authenticate", `ApiKey realm="api"`)
		w.WriteHeader(http.StatusUnauthorized)
	})
	tr := &authtransport.Transport{APIKey: &authtransport.APIKey{Query: "api_key", Value: key}}
	_, err := (&http.Client{Transport: tr}).Get(srv.srv.URL + "/x?page=2")
	require.Error(t, err)
	assert.NotContains(t, err.Error(), key)
}
