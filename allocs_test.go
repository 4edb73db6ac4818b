package authtransport_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"golang.org/x/oauth2"

	"github.com/d5c4ca72/authtransport"
)

// The allocation counts that BENCHMARKS.md reports, as ceilings: a request
// with a valid token (with and without Origins, with the in-memory store)
// and with static credentials, and building the client of one grant and
// making its first request. Checked without the race detector, which
// changes the counts (scripts/test.sh runs them in a pass of their own).
func TestRoundTripAllocs(t *testing.T) {
	if testing.CoverMode() != "" || raceEnabled {
		t.Skip("allocation counts differ under coverage or the race detector")
	}
	exp := time.Now().Add(time.Hour)
	tok := func() *authtransport.Token {
		return &authtransport.Token{AccessToken: "access-token-value", Expiry: exp}
	}
	refresher := authtransport.RefresherFunc(func(context.Context, *authtransport.Token) (*authtransport.Token, error) {
		return tok(), nil
	})
	tests := []struct {
		name string
		rt   *authtransport.Transport
		max  float64
	}{
		{"bearer", &authtransport.Transport{Base: newStubBase(), Store: authtransport.NewMemoryStore(tok())}, 4},
		{"bearer with Origins", &authtransport.Transport{Base: newStubBase(), Store: authtransport.NewMemoryStore(tok()), Origins: []string{"https://api.example"}}, 4},
		{"bearer, in-memory store", &authtransport.Transport{Base: newStubBase(), Refresher: refresher}, 4},
		{"basic", benchStatic()["basic"].(*authtransport.Transport), 4},
		{"API key in a header", benchStatic()["apikey-header"].(*authtransport.Transport), 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := benchRequest(t)
			if _, err := tt.rt.RoundTrip(req); err != nil {
				t.Fatal(err)
			}
			n := testing.AllocsPerRun(100, func() {
				if _, err := tt.rt.RoundTrip(req); err != nil {
					t.Error(err)
				}
			})
			t.Logf("%v allocations per request", n)
			assert.LessOrEqual(t, n, tt.max, "allocations per request")
		})
	}
	t.Run("first request of a grant", func(t *testing.T) {
		cfg := &oauth2.Config{ClientID: "client", Endpoint: oauth2.Endpoint{TokenURL: "https://as.example/token"}}
		base, req := newStubBase(), benchRequest(t)
		for name, max := range map[string]float64{"authtransport": 22, "oauth2": 100} {
			i := 0
			n := testing.AllocsPerRun(100, func() {
				i++
				if _, err := perGrant[name](cfg, base, exp, i).RoundTrip(req); err != nil {
					t.Error(err)
				}
			})
			t.Logf("%s: %v allocations to build a grant's client and make its first request", name, n)
			assert.LessOrEqual(t, n, max, name)
		}
	})
	t.Run("oauth2 for comparison", func(t *testing.T) {
		rt := &oauth2.Transport{Base: newStubBase(), Source: oauth2.ReuseTokenSource(nil, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "access-token-value", Expiry: exp}))}
		req := benchRequest(t)
		n := testing.AllocsPerRun(100, func() { _, _ = rt.RoundTrip(req) })
		t.Logf("oauth2.Transport: %v allocations per request", n)
	})
}
