package authtest_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/d5c4ca72/authtransport/authtest"
)

// BenchmarkResource measures one authorized resource request over loopback,
// with a bare httptest handler as the peer to compare against.
func BenchmarkResource(b *testing.B) {
	srv := authtest.NewServer()
	defer srv.Close()
	tok := srv.NewToken()
	peer := newBareServer()
	defer peer.Close()
	for _, bb := range []struct {
		name, url string
	}{{"authtest", srv.ResourceURL("items")}, {"bare-httptest", peer.URL}} {
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req, _ := http.NewRequest(http.MethodGet, bb.url, nil)
					req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
					resp, err := srv.Client().Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						b.Errorf("status %d", resp.StatusCode)
						return
					}
				}
			})
		})
	}
}

// BenchmarkRefresh measures one refresh_token grant with rotation.
func BenchmarkRefresh(b *testing.B) {
	srv := authtest.NewServer()
	defer srv.Close()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		rt := srv.NewToken().RefreshToken
		for pb.Next() {
			form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
			req, _ := http.NewRequest(http.MethodPost, srv.TokenURL(), strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(srv.ClientID, srv.ClientSecret)
			resp, err := srv.Client().Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("status %d: %s", resp.StatusCode, body)
				return
			}
			_, after, _ := strings.Cut(string(body), `"refresh_token":"`)
			rt, _, _ = strings.Cut(after, `"`)
		}
	})
}

// newBareServer is the peer: a handler that answers like the resource
// without any checks.
func newBareServer() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}` + "\n"))
	}))
}
