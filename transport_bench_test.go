package authtransport_test

import (
	"context"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/d5c4ca72/authtransport"
)

// stubBase answers 200 with an empty body and allocates nothing itself, so
// that the benchmarks measure only the auth layer.
type stubBase struct{ resp http.Response }

func (s *stubBase) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Header.Get("Authorization") == "" && req.Header.Get("X-Api-Key") == "" && req.URL.RawQuery == "" {
		panic("no credentials")
	}
	return &s.resp, nil
}

func newStubBase() *stubBase {
	return &stubBase{resp: http.Response{StatusCode: http.StatusOK, Body: http.NoBody}}
}

func benchRequest(b testing.TB) *http.Request {
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

// benchStatic are Transports with static credentials over the same stub.
func benchStatic() map[string]http.RoundTripper {
	return map[string]http.RoundTripper{
		"basic":         &authtransport.Transport{Base: newStubBase(), Basic: &authtransport.Basic{Username: "user", Password: "password"}},
		"apikey-header": &authtransport.Transport{Base: newStubBase(), APIKey: &authtransport.APIKey{Header: "X-API-Key", Value: "api-key-value"}},
		"apikey-query":  &authtransport.Transport{Base: newStubBase(), APIKey: &authtransport.APIKey{Query: "api_key", Value: "api-key-value"}},
	}
}

// BenchmarkRoundTripStatic is the hot path with static credentials, to
// compare with BenchmarkRoundTrip's Bearer token.
func BenchmarkRoundTripStatic(b *testing.B) {
	for _, name := range []string{"basic", "apikey-header", "apikey-query"} {
		rt := benchStatic()[name]
		b.Run("cred="+name, func(b *testing.B) {
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

// perGrant builds the client for one user grant: its own token, store and
// Refresher, as an integration platform holds one per connected account.
var perGrant = map[string]func(cfg *oauth2.Config, base http.RoundTripper, exp time.Time, i int) http.RoundTripper{
	"authtransport": func(cfg *oauth2.Config, base http.RoundTripper, exp time.Time, i int) http.RoundTripper {
		return &authtransport.Transport{
			Base:      base,
			Store:     authtransport.NewMemoryStore(&authtransport.Token{AccessToken: "access-" + strconv.Itoa(i), RefreshToken: "refresh", Expiry: exp}),
			Refresher: authtransport.NewOAuth2Refresher(cfg),
		}
	},
	"oauth2": func(cfg *oauth2.Config, base http.RoundTripper, exp time.Time, i int) http.RoundTripper {
		tok := &oauth2.Token{AccessToken: "access-" + strconv.Itoa(i), RefreshToken: "refresh", Expiry: exp}
		return &oauth2.Transport{Base: base, Source: oauth2.ReuseTokenSource(tok, cfg.TokenSource(context.Background(), tok))}
	},
}

// BenchmarkIdleTransport reports the memory an idle client for one grant
// keeps after its first request (bytes and live heap objects per grant, over
// 10,000 grants), and the allocations to build it and make that request.
func BenchmarkIdleTransport(b *testing.B) {
	cfg := &oauth2.Config{ClientID: "client", Endpoint: oauth2.Endpoint{TokenURL: "https://as.example/token"}}
	exp := time.Now().Add(time.Hour)
	for _, name := range []string{"authtransport", "oauth2"} {
		build := perGrant[name]
		b.Run("impl="+name+"/what=idle", func(b *testing.B) {
			const grants = 10000
			base := newStubBase()
			req := benchRequest(b)
			for b.Loop() {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				rts := make([]http.RoundTripper, grants)
				for i := range rts {
					rts[i] = build(cfg, base, exp, i)
					if _, err := rts[i].RoundTrip(req); err != nil {
						b.Fatal(err)
					}
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/grants, "B/grant")
				b.ReportMetric(float64(after.HeapObjects-before.HeapObjects)/grants, "objects/grant")
				runtime.KeepAlive(rts)
			}
		})
		b.Run("impl="+name+"/what=first-request", func(b *testing.B) {
			base := newStubBase()
			req := benchRequest(b)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				if _, err := build(cfg, base, exp, i).RoundTrip(req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
