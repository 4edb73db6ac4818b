package authtransport_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

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
	for _, o := range []string{"api.example.com", "https://user:pw@api.example.com", "https://api.example.com/v1", "ftp://api.example.com", "https://api.example.com?q=1"} {
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
