package authtransport_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d5c4ca72/authtransport"
)

func TestRedirectToOtherOriginCarriesNoToken(t *testing.T) {
	var otherAuth atomic.Value
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		otherAuth.Store(r.Header.Get("Authorization"))
	}))
	defer other.Close()
	var sameAuth atomic.Value
	var mux http.ServeMux
	mux.HandleFunc("/away", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/landing", http.StatusFound)
	})
	mux.HandleFunc("/here", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/landing", http.StatusFound)
	})
	mux.HandleFunc("/landing", func(w http.ResponseWriter, r *http.Request) {
		sameAuth.Store(r.Header.Get("Authorization"))
	})
	srv := httptest.NewServer(&mux)
	defer srv.Close()
	// Both servers are on 127.0.0.1 but on different ports: different origins.
	tr := &authtransport.Transport{Base: srv.Client().Transport, Store: authtransport.NewMemoryStore(valid("secret"))}
	c := &http.Client{Transport: tr}
	defer c.CloseIdleConnections()

	resp, err := c.Get(srv.URL + "/away")
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	assert.Equal(t, "", otherAuth.Load(), "other origin got no credentials")

	resp, err = c.Get(srv.URL + "/here")
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	assert.Equal(t, "Bearer secret", sameAuth.Load(), "same origin redirect keeps credentials")
}

func TestWhichRequestsGetCredentials(t *testing.T) {
	cases := []struct {
		name     string
		url      string
		origins  []string
		insecure bool
		header   string // an Authorization the caller set
		want     string
	}{
		{name: "https", url: "https://api.example/x", want: "Bearer tok"},
		{name: "plain http to remote host", url: "http://api.example/x", want: ""},
		{name: "plain http opted in", url: "http://api.example/x", insecure: true, want: "Bearer tok"},
		{name: "http loopback v4", url: "http://127.0.0.1:8080/x", want: "Bearer tok"},
		{name: "http loopback v6", url: "http://[::1]:8080/x", want: "Bearer tok"},
		{name: "http localhost", url: "http://localhost:8080/x", want: "Bearer tok"},
		{name: "listed origin", url: "https://api.example/x", origins: []string{"https://api.example:443"}, want: "Bearer tok"},
		{name: "listed origin case", url: "https://API.example/x", origins: []string{"https://api.example"}, want: "Bearer tok"},
		{name: "unlisted origin", url: "https://other.example/x", origins: []string{"https://api.example"}, want: ""},
		{name: "other port", url: "https://api.example:8443/x", origins: []string{"https://api.example"}, want: ""},
		{name: "other scheme", url: "http://api.example/x", origins: []string{"https://api.example"}, insecure: true, want: ""},
		{name: "caller's own Authorization", url: "https://api.example/x", header: "Basic abc", want: "Basic abc"},
		{name: "not http", url: "ftp://api.example/x", want: ""},
		{name: "plain http to a private IP", url: "http://10.0.0.1/x", want: ""},
		{name: "plain http to a public IP", url: "http://192.0.2.7/x", want: ""},
		{name: "plain http to localhost.", url: "http://localhost./x", want: ""},
		{name: "http to loopback v4-mapped v6", url: "http://[::ffff:127.0.0.1]:8080/x", want: "Bearer tok"},
		{name: "http to 127.x", url: "http://127.9.8.7:8080/x", want: "Bearer tok"},
		{name: "IP origin", url: "https://192.0.2.7/x", origins: []string{"https://192.0.2.7"}, want: "Bearer tok"},
		{name: "another IP than the origin", url: "https://192.0.2.8/x", origins: []string{"https://192.0.2.7"}, want: ""},
		{name: "IPv6 origin in another spelling", url: "https://[2001:db8:0:0:0:0:0:1]/x", origins: []string{"https://[2001:db8::1]"}, want: "Bearer tok"},
		{name: "origin with the top port", url: "https://api.example:65535/x", origins: []string{"https://api.example:65535"}, want: "Bearer tok"},
		{name: "origin with a port with a nine", url: "https://api.example:9443/x", origins: []string{"https://api.example:9443"}, want: "Bearer tok"},
		{name: "origin with the lowest port", url: "https://api.example:1/x", origins: []string{"https://api.example:1"}, want: "Bearer tok"},
		{name: "origin with a high port", url: "https://api.example:40000/x", origins: []string{"https://api.example:40000"}, want: "Bearer tok"},
		{name: "explicit default port", url: "https://api.example:443/x", origins: []string{"https://api.example"}, want: "Bearer tok"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got string
			base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
				got = r.Header.Get("Authorization")
				return respond(r, http.StatusOK, ""), nil
			})
			tr := &authtransport.Transport{Base: base, Store: authtransport.NewMemoryStore(valid("tok")), Origins: tc.origins, AllowInsecureHTTP: tc.insecure}
			req, err := http.NewRequest(http.MethodGet, tc.url, nil)
			require.NoError(t, err)
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			resp, err := tr.RoundTrip(req)
			require.NoError(t, err)
			require.NoError(t, resp.Body.Close())
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestInvalidOriginsFailLoudly(t *testing.T) {
	for _, o := range []string{"api.example.com", "https://user:pw@api.example.com", "https://api.example.com/v1", "ftp://api.example.com", "https://api.example.com?q=1",
		"https://api.example.com:0", "https://api.example.com:65536", "https://api.example.com:99999", "https://api.example.com:-1", "https://", "https://:443"} {
		t.Run(o, func(t *testing.T) {
			body := &closeCounter{Reader: strings.NewReader("x")}
			tr := &authtransport.Transport{Base: newAPI("tok"), Store: authtransport.NewMemoryStore(valid("tok")), Origins: []string{o}}
			req, err := http.NewRequest(http.MethodPost, "https://api.example.com/x", body)
			require.NoError(t, err)
			_, err = tr.RoundTrip(req)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "Transport.Origins")
			assert.Equal(t, int32(1), body.closes.Load())
		})
	}
}

func TestOriginsCompareIPAddressesByValue(t *testing.T) {
	var got string
	base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		got = r.Header.Get("Authorization")
		return respond(r, http.StatusOK, ""), nil
	})
	tr := &authtransport.Transport{Base: base, Store: authtransport.NewMemoryStore(valid("tok")), Origins: []string{"https://[::1]:8443/"}}
	req, err := http.NewRequest(http.MethodGet, "https://[0:0:0:0:0:0:0:1]:8443/x", nil)
	require.NoError(t, err)
	resp, err := tr.RoundTrip(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	assert.Equal(t, "Bearer tok", got)
}

// A redirected request whose chain of requests a Base does not keep (no
// Response.Request, as caches and test doubles answer) gets no token: the
// Transport cannot tell that it stays within the first request's origin.
func TestRedirectWithoutRequestChainCarriesNoToken(t *testing.T) {
	var seen []string
	base := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		seen = append(seen, req.URL.Host+" "+req.Header.Get("Authorization"))
		if req.URL.Host == "api.example" {
			return &http.Response{StatusCode: http.StatusFound, Header: http.Header{"Location": {"https://other.example/landing"}}, Body: http.NoBody}, nil
		}
		return &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: http.NoBody}, nil
	})
	c := &http.Client{Transport: &authtransport.Transport{Base: base, Store: authtransport.NewMemoryStore(valid("secret-token"))}}
	resp, err := c.Get("https://api.example/start")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, []string{"api.example Bearer secret-token", "other.example "}, seen, "the redirect to the other origin carries nothing")
}

// A caller's own Authorization field, in any spelling of its name (set
// directly in the map), is left alone: the request never carries two.
// Other fields the Transport sets replace any spelling of theirs.
func TestCallerAuthorizationInAnySpelling(t *testing.T) {
	for _, key := range []string{"Authorization", "authorization", "AUTHORIZATION", "aUtHoRiZaTiOn"} {
		t.Run(key, func(t *testing.T) {
			var got http.Header
			base := roundTripFunc(func(req *http.Request) (*http.Response, error) {
				got = req.Header
				return respond(req, http.StatusOK, ""), nil
			})
			tr := &authtransport.Transport{Base: base, Store: authtransport.NewMemoryStore(valid("secret-token"))}
			req, err := http.NewRequest(http.MethodGet, "https://api.example/x", nil)
			require.NoError(t, err)
			req.Header[key] = []string{"Basic dXNlcjpwYXNz"}
			resp, err := tr.RoundTrip(req)
			require.NoError(t, err)
			resp.Body.Close()
			var values []string
			for k, v := range got {
				if strings.EqualFold(k, "Authorization") {
					values = append(values, v...)
				}
			}
			assert.Equal(t, []string{"Basic dXNlcjpwYXNz"}, values, "only the caller's own Authorization")
		})
	}
	var got http.Header
	base := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		got = req.Header
		return respond(req, http.StatusOK, ""), nil
	})
	tr := &authtransport.Transport{Base: base, Store: authtransport.NewMemoryStore(valid("secret-token"))}
	req, err := http.NewRequest(http.MethodGet, "https://api.example/x", nil)
	require.NoError(t, err)
	const custom = "x-custom" // set directly in the map, in lower case, on purpose
	req.Header[custom] = []string{"kept"}
	resp, err := tr.RoundTrip(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, []string{"Bearer secret-token"}, got["Authorization"])
	//lint:ignore SA1008 the key is not canonical on purpose: the caller set it so
	assert.Equal(t, []string{"kept"}, got[custom], "other fields are kept as they are")
}

// Plain http to the same host and port as an https origin is another
// origin: no token, directly or after a redirect.
func TestSameHostOverHTTPIsAnotherOrigin(t *testing.T) {
	var seen []string
	base := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		seen = append(seen, req.URL.Scheme+" "+req.Header.Get("Authorization"))
		if req.URL.Scheme == "https" && req.URL.Path == "/start" {
			return &http.Response{StatusCode: http.StatusFound, Header: http.Header{"Location": {"http://api.example:443/landing"}}, Body: http.NoBody, Request: req}, nil
		}
		return &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: http.NoBody, Request: req}, nil
	})
	for _, origins := range [][]string{nil, {"https://api.example"}} {
		seen = nil
		c := &http.Client{Transport: &authtransport.Transport{Base: base, Store: authtransport.NewMemoryStore(valid("secret-token")), Origins: origins, AllowInsecureHTTP: true}}
		resp, err := c.Get("https://api.example/start")
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, []string{"https Bearer secret-token", "http "}, seen, "Origins %v: the redirect to http carries nothing", origins)
	}
}

// A hand-made request whose Response chain loops gets no credentials, and
// RoundTrip returns: the walk back to the first request is bounded. Run in
// a child process, killed after 3 s should it hang.
func TestCyclicRedirectChainGetsNoToken(t *testing.T) {
	if os.Getenv("AUTHTRANSPORT_TEST_CHILD") == "1" {
		tr := &authtransport.Transport{Base: newAPI(), Store: authtransport.NewMemoryStore(valid("tok"))}
		req, _ := http.NewRequest(http.MethodGet, "https://api.example/x", nil)
		req.Response = &http.Response{Request: req}
		resp, err := tr.RoundTrip(req)
		if err == nil {
			resp.Body.Close()
		}
		fmt.Println("CHILD-RETURNED")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestCyclicRedirectChainGetsNoToken$")
	cmd.Env = append(os.Environ(), "AUTHTRANSPORT_TEST_CHILD=1")
	out, _ := cmd.CombinedOutput()
	assert.Contains(t, string(out), "CHILD-RETURNED", "RoundTrip did not return within 3 s (killed) for a request whose Response.Request is itself")
}

// Redirect chains across loopback origins: A -> B -> C(localhost alias of A's
// host, other port) -> A. Only A sees credentials.
func TestRedirectChainsKeepCredentials(t *testing.T) {
	for name, mk := range map[string]func() *authtransport.Transport{
		"token": func() *authtransport.Transport {
			return &authtransport.Transport{Store: authtransport.NewMemoryStore(valid("tok-A"))}
		},
		"basic": func() *authtransport.Transport {
			return &authtransport.Transport{Basic: &authtransport.Basic{Username: "u", Password: "pw-SECRET-1"}}
		},
		"header key": func() *authtransport.Transport {
			return &authtransport.Transport{APIKey: &authtransport.APIKey{Header: "X-Api-Key", Value: "key-SECRET-1"}}
		},
		"query key": func() *authtransport.Transport {
			return &authtransport.Transport{APIKey: &authtransport.APIKey{Query: "api_key", Value: "key-SECRET-1"}}
		},
	} {
		t.Run(name, func(t *testing.T) {
			var aURL string
			final := 0
			c := newRevRecorder(t, func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, aURL+"/end", http.StatusFound) })
			b := newRevRecorder(t, func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, strings.Replace(c.srv.URL, "127.0.0.1", "[::ffff:127.0.0.1]", 1)+"/c", http.StatusTemporaryRedirect)
			})
			a := newRevRecorder(t, func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/end" {
					final++
					return
				}
				http.Redirect(w, r, b.srv.URL+"/b", http.StatusMovedPermanently)
			})
			aURL = a.srv.URL
			tr := mk()
			resp, err := (&http.Client{Transport: tr}).Get(a.srv.URL + "/start")
			if err != nil {
				// [::ffff:127.0.0.1] may not be dialable; retry without it.
				t.Logf("chain error: %v", err)
			} else {
				resp.Body.Close()
			}
			assert.Empty(t, b.creds(), "B got credentials")
			assert.Empty(t, c.creds(), "C got credentials")
			t.Logf("A saw %v (final %d)", a.creds(), final)
		})
	}
}

// "localhost." is not loopback for the plain-http rule: Go's
// ProxyFromEnvironment sends it through HTTP_PROXY (it exempts only
// "localhost" and loopback IPs), so with a proxy configured, as in many
// corporate environments, a token would go to the proxy in plain HTTP.
func TestTrailingDotLocalhostIsNotLoopback(t *testing.T) {
	if os.Getenv("AUTHTRANSPORT_TEST_CHILD") == "1" {
		tr := &authtransport.Transport{Store: authtransport.NewMemoryStore(valid("at-SECRET-proxy1")),
			APIKey: &authtransport.APIKey{Header: "X-Api-Key", Value: "key-SECRET-5678"}}
		resp, err := (&http.Client{Transport: tr}).Get("http://localhost.:1/x")
		if err == nil {
			resp.Body.Close()
		}
		tr.CloseIdleConnections()
		return
	}
	var got atomic.Value
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Store(r.Method + " " + r.RequestURI + " | " + r.Header.Get("Authorization") + " | " + r.Header.Get("X-Api-Key"))
	}))
	defer proxy.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^TestTrailingDotLocalhostIsNotLoopback$")
	cmd.Env = append(os.Environ(), "AUTHTRANSPORT_TEST_CHILD=1", "HTTP_PROXY="+proxy.URL, "http_proxy="+proxy.URL, "NO_PROXY=", "no_proxy=")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	seen, _ := got.Load().(string)
	assert.NotContains(t, seen, "SECRET", "the proxy (plain http) received: %s", seen)
}

// A redirect to the same origin spelled with its default port keeps the
// token, and one to the same host on another port loses it.
func TestRedirectWithExplicitDefaultPort(t *testing.T) {
	var seen []string
	base := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		seen = append(seen, req.URL.Host+" "+req.Header.Get("Authorization"))
		switch req.URL.Path {
		case "/start":
			return &http.Response{StatusCode: http.StatusFound, Header: http.Header{"Location": {"https://api.example:443/same"}}, Body: http.NoBody, Request: req}, nil
		case "/same":
			return &http.Response{StatusCode: http.StatusFound, Header: http.Header{"Location": {"https://api.example:8443/other"}}, Body: http.NoBody, Request: req}, nil
		}
		return &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: http.NoBody, Request: req}, nil
	})
	c := &http.Client{Transport: &authtransport.Transport{Base: base, Store: authtransport.NewMemoryStore(valid("secret-token"))}}
	resp, err := c.Get("https://api.example/start")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, []string{"api.example Bearer secret-token", "api.example:443 Bearer secret-token", "api.example:8443 "}, seen)
}

// A request without a URL goes to Base untouched.
func TestRequestWithoutURL(t *testing.T) {
	var got *http.Request
	base := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		got = req
		return &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: http.NoBody, Request: req}, nil
	})
	tr := &authtransport.Transport{Base: base, Store: authtransport.NewMemoryStore(valid("secret-token"))}
	req := &http.Request{Method: http.MethodGet, Header: http.Header{}}
	resp, err := tr.RoundTrip(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Same(t, req, got, "the caller's request, untouched")
	assert.Empty(t, got.Header.Get("Authorization"))
}

// A chain of redirects within the first request's origin keeps the token
// at every hop, the origin spelled with or without its default port.
func TestLongSameOriginRedirectChainKeepsTheToken(t *testing.T) {
	var seen []string
	base := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		seen = append(seen, req.URL.Path+" "+req.Header.Get("Authorization"))
		hop, err := strconv.Atoi(strings.TrimPrefix(req.URL.Path, "/"))
		if err == nil && hop < 5 {
			next := fmt.Sprintf("https://api.example/%d", hop+1)
			if hop%2 == 1 {
				next = fmt.Sprintf("https://api.example:443/%d", hop+1)
			}
			return &http.Response{StatusCode: http.StatusFound, Header: http.Header{"Location": {next}}, Body: http.NoBody, Request: req}, nil
		}
		return &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: http.NoBody, Request: req}, nil
	})
	c := &http.Client{Transport: &authtransport.Transport{Base: base, Store: authtransport.NewMemoryStore(valid("tok"))}}
	resp, err := c.Get("https://api.example:443/0")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, []string{"/0 Bearer tok", "/1 Bearer tok", "/2 Bearer tok", "/3 Bearer tok", "/4 Bearer tok", "/5 Bearer tok"}, seen)
}

// A request whose Response (the redirect that led to it) has no Request,
// as a hand-made request may have, carries nothing: its first request is
// unknown.
func TestRedirectResponseWithoutRequestGetsNoToken(t *testing.T) {
	var got string
	base := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		got = req.Header.Get("Authorization")
		return respond(req, http.StatusOK, ""), nil
	})
	tr := &authtransport.Transport{Base: base, Store: authtransport.NewMemoryStore(valid("tok"))}
	req, err := http.NewRequest(http.MethodGet, "https://api.example/next", nil)
	require.NoError(t, err)
	req.Response = &http.Response{StatusCode: http.StatusFound}
	resp, err := tr.RoundTrip(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Empty(t, got)
}

// Fields whose names are as long as "Authorization" (Cache-Control) are
// not taken for the caller's own Authorization.
func TestOtherFieldsAreNotTheCallersAuthorization(t *testing.T) {
	var got string
	base := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		got = req.Header.Get("Authorization")
		return respond(req, http.StatusOK, ""), nil
	})
	tr := &authtransport.Transport{Base: base, Store: authtransport.NewMemoryStore(valid("tok"))}
	req, err := http.NewRequest(http.MethodGet, "https://api.example/x", nil)
	require.NoError(t, err)
	req.Header.Set("Cache-Control", "no-cache")
	req.Header["authorisation"] = []string{"not the name"}
	resp, err := tr.RoundTrip(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, "Bearer tok", got)
}

// A port in Origins is a decimal number, leading zeros included (as in the
// request's URL): "08080" is a valid entry, and matches its own spelling.
func TestOriginPortsAreDecimal(t *testing.T) {
	var got string
	base := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		got = req.Header.Get("Authorization")
		return respond(req, http.StatusOK, ""), nil
	})
	tr := &authtransport.Transport{Base: base, Store: authtransport.NewMemoryStore(valid("tok")), Origins: []string{"https://api.example:08080"}}
	req, err := http.NewRequest(http.MethodGet, "https://api.example:08080/x", nil)
	require.NoError(t, err)
	resp, err := tr.RoundTrip(req)
	require.NoError(t, err, "a port with a leading zero is valid")
	resp.Body.Close()
	assert.Equal(t, "Bearer tok", got)
}
