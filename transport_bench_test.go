package authtransport_test

import (
	"io"
	"net/http"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/d5c4ca72/authtransport"
)

// stubBase answers 200 with an empty body and allocates nothing itself, so
// that the benchmarks measure only the auth layer.
type stubBase struct{ resp http.Response }

func (s *stubBase) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Header.Get("Authorization") == "" {
		panic("no Authorization")
	}
	return &s.resp, nil
}

func newStubBase() *stubBase {
	return &stubBase{resp: http.Response{StatusCode: http.StatusOK, Body: http.NoBody}}
}

func benchRequest(b *testing.B) *http.Request {
	req, err := http.NewRequest(http.MethodGet, "https://api.example/v1/things", nil)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "bench")
	return req
}

// benchRoundTrippers are this package's Transport and x/oauth2's, each with
// a valid token, over the same stub.
func benchRoundTrippers() map[string]http.RoundTripper {
	exp := time.Now().Add(time.Hour)
	return map[string]http.RoundTripper{
		"authtransport": &authtransport.Transport{
			Base:  newStubBase(),
			Store: authtransport.NewMemoryStore(&authtransport.Token{AccessToken: "access-token-value", Expiry: exp}),
		},
		"oauth2": &oauth2.Transport{
			Base:   newStubBase(),
			Source: oauth2.ReuseTokenSource(nil, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "access-token-value", Expiry: exp})),
		},
	}
}

func BenchmarkRoundTrip(b *testing.B) {
	for _, name := range []string{"authtransport", "oauth2"} {
		rt := benchRoundTrippers()[name]
		b.Run("impl="+name+"/mode=serial", func(b *testing.B) {
			req := benchRequest(b)
			b.ReportAllocs()
			for b.Loop() {
				resp, err := rt.RoundTrip(req)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
			}
		})
		b.Run("impl="+name+"/mode=parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				req := benchRequest(b)
				for pb.Next() {
					resp, err := rt.RoundTrip(req)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
				}
			})
		})
	}
}
