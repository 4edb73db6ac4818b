package authtransport_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/d5c4ca72/authtransport"
)

func FuzzRoundTrip(f *testing.F) {
	f.Add("https://api.example/x?q=1", "X-Foo", "bar", 401, `Bearer error="invalid_token"`, "n1", "Bearer", uint8(0))
	f.Add("http://127.0.0.1:8080/p", "authorization", "x", 401, `DPoP error="use_dpop_nonce"`, "n2", "DPoP", uint8(1))
	f.Add("https://[::1]:443/", "Dpop", "y", 403, `Bearer error="insufficient_scope", scope="a"`, "", "dpop", uint8(2))
	f.Add("https://u:p@h/", "X-Api-Key", "z", 401, `Basic realm="r", charset="UTF-8"`, "", "", uint8(3))
	f.Add("//h/p", "", "", 401, ``, "", "mac", uint8(4))
	key := dpopTestKey()
	f.Fuzz(func(t *testing.T, rawURL, hk, hv string, status int, challenge, nonce, tokType string, mode uint8) {
		u, err := url.Parse(rawURL)
		if err != nil {
			return
		}
		if status < 100 || status > 599 {
			status = 401
		}
		var calls int
		base := roundTripFunc(func(req *http.Request) (*http.Response, error) {
			calls++
			if req.Body != nil {
				_, _ = io.Copy(io.Discard, req.Body)
				_ = req.Body.Close()
			}
			h := http.Header{}
			h.Set("WWW-Authenticate", challenge)
			h.Set("DPoP-Nonce", nonce)
			st := status
			if calls > 1 && mode&8 != 0 {
				st = 200
			}
			return &http.Response{StatusCode: st, Header: h, Body: io.NopCloser(strings.NewReader("x")), Request: req}, nil
		})
		tr := &authtransport.Transport{Base: base, RefreshTimeout: time.Second}
		if mode&1 != 0 {
			tr.Store = authtransport.NewMemoryStore(&authtransport.Token{AccessToken: "at-SECRET-123", TokenType: tokType, RefreshToken: "rt-SECRET-123", Expiry: time.Now().Add(time.Hour)})
			n := 0
			tr.Refresher = authtransport.RefresherFunc(func(context.Context, *authtransport.Token) (*authtransport.Token, error) {
				n++
				return &authtransport.Token{AccessToken: "at-new-" + string(rune('a'+n)), TokenType: tokType, RefreshToken: "rt", Expiry: time.Now().Add(time.Hour)}, nil
			})
		}
		if mode&2 != 0 {
			tr.Basic = &authtransport.Basic{Username: "user", Password: "pw-SECRET-ü"}
		}
		if mode&4 != 0 {
			tr.APIKey = &authtransport.APIKey{Query: "k", Value: "key-SECRET-1"}
		}
		if mode&16 != 0 {
			tr.DPoP = key
		}
		if mode&32 != 0 {
			tr.Origins = []string{"https://api.example", "http://127.0.0.1:8080"}
		}
		req := &http.Request{Method: "POST", URL: u, Header: http.Header{}, Host: u.Host}
		if hk != "" {
			req.Header[hk] = []string{hv}
		}
		req.Body = io.NopCloser(strings.NewReader("body"))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader("body")), nil }
		before := req.Header.Clone()
		beforeURL := *u
		resp, err := tr.RoundTrip(req)
		if (resp == nil) == (err == nil) {
			t.Fatalf("resp %v err %v", resp, err)
		}
		if resp != nil {
			resp.Body.Close()
		}
		if !reflect.DeepEqual(before, req.Header) || !reflect.DeepEqual(beforeURL, *req.URL) {
			t.Fatalf("caller's request modified")
		}
		if err != nil && (strings.Contains(err.Error(), "SECRET")) {
			t.Fatalf("secret in error: %v", err)
		}
	})
}
