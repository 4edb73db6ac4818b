package authtransport_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d5c4ca72/authtransport"
)

// A request that carried a Bearer token (no DPoP proof) and is asked for a
// DPoP nonce is not resent with a nonce, which it has no proof to carry: its
// token is refreshed and the request resent once with the new one. Whether
// the Transport has a DPoP key or not.
func TestNonceAskedOfABearerRequestRefreshes(t *testing.T) {
	es, _, _ := dpopKeys(t)
	for _, withKey := range []bool{false, true} {
		base := &dpopBase{answer: func(_ int, req *http.Request) *http.Response {
			if req.Header.Get("Authorization") == "Bearer tok-1" {
				return dpopAnswer(req, http.StatusOK)
			}
			return useNonce(req, "n1")
		}}
		var events eventLog
		tr := &authtransport.Transport{Base: base, Store: authtransport.NewMemoryStore(valid("b")), Refresher: &countingRefresher{}, OnEvent: events.record}
		if withKey {
			tr.DPoP = newTestDPoP(t, es)
		}
		resp, err := (&http.Client{Transport: tr}).Get("https://api.example/x")
		require.NoError(t, err, "DPoP key: %v", withKey)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		var auths []string
		for _, c := range base.seen() {
			auths = append(auths, c.auth)
			assert.Empty(t, c.proof, "a Bearer request carries no proof")
		}
		assert.Equal(t, []string{"Bearer b", "Bearer tok-1"}, auths, "DPoP key: %v", withKey)
		assert.Contains(t, events.got(), authtransport.Event{Kind: authtransport.EventResent, Detail: "refreshed"})
	}
}

// A DPoP request asked for a nonce is resent once with it, reported as a
// resend for a nonce, without a refresh.
func TestNonceResendIsReported(t *testing.T) {
	es, _, _ := dpopKeys(t)
	base := &dpopBase{answer: func(n int, req *http.Request) *http.Response {
		if n == 0 {
			return useNonce(req, "n1")
		}
		return dpopAnswer(req, http.StatusOK)
	}}
	var events eventLog
	ref := &countingRefresher{}
	tr := &authtransport.Transport{Base: base, Store: authtransport.NewMemoryStore(dpopToken("d")), Refresher: ref, DPoP: newTestDPoP(t, es), OnEvent: events.record}
	resp, err := (&http.Client{Transport: tr}).Get("https://api.example/x")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Len(t, base.seen(), 2)
	assert.Zero(t, ref.calls.Load(), "a nonce needs no refresh")
	assert.Equal(t, []authtransport.Event{{Kind: authtransport.EventTokenAdopted},
		{Kind: authtransport.EventRequestRejected, Status: http.StatusUnauthorized, Detail: "DPoP use_dpop_nonce"},
		{Kind: authtransport.EventResent, Detail: "dpop-nonce"}}, events.got())
}

// A server that asks for Basic when it gets the token and for the token
// when it gets Basic is answered with one switch of scheme: the second
// rejection is a *CredentialsRejectedError, after two requests.
func TestSchemeIsSwitchedOnce(t *testing.T) {
	var seen []string
	base := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		auth := req.Header.Get("Authorization")
		seen = append(seen, auth)
		if len(seen) > 10 {
			t.Fatal("the Transport keeps switching schemes")
		}
		if auth == "Bearer b" {
			return respond(req, http.StatusUnauthorized, `Basic realm="api"`), nil
		}
		return respond(req, http.StatusUnauthorized, `Bearer realm="api"`), nil
	})
	var events eventLog
	tr := &authtransport.Transport{Base: base, Store: authtransport.NewMemoryStore(valid("b")), Refresher: &countingRefresher{},
		Basic: &authtransport.Basic{Username: testUser, Password: testPassword}, OnEvent: events.record}
	_, err := (&http.Client{Transport: tr}).Get("https://api.example/x")
	var cr *authtransport.CredentialsRejectedError
	require.ErrorAs(t, err, &cr)
	assert.Equal(t, []string{"Bearer b", basicValue(testUser, testPassword)}, seen)
	assert.Contains(t, events.got(), authtransport.Event{Kind: authtransport.EventResent, Detail: "scheme"})
}

// A response returned as it is (a 403 without a challenge) is not reported
// as a rejection: nothing was done about it.
func TestResponseReturnedAsItIsIsNoEvent(t *testing.T) {
	base := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		return respond(req, http.StatusForbidden, ""), nil
	})
	var events eventLog
	tr := &authtransport.Transport{Base: base, Store: authtransport.NewMemoryStore(valid("b")), Refresher: &countingRefresher{}, OnEvent: events.record}
	resp, err := (&http.Client{Transport: tr}).Get("https://api.example/x")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	assert.Equal(t, []authtransport.Event{{Kind: authtransport.EventTokenAdopted}}, events.got())
}

// A Transport holding a token and non-ASCII Basic credentials that
// switches to Basic remembers for the origin the charset that worked: the
// origin's next request starts with the same encoding. The switch is the
// request's one resend: a server that then turns UTF-8 down gets the
// ISO-8859-1 form with the next request.
func TestSchemeSwitchRemembersTheCharset(t *testing.T) {
	const user, pass = "jürgen", "päss-wörd-1"
	utf8Value := basicValue(user, pass)
	latin1Value := "Basic " + base64.StdEncoding.EncodeToString([]byte("j\xfcrgen:p\xe4ss-w\xf6rd-1"))
	for _, tc := range []struct {
		name, accepts, challenge string
		want                     []string
		firstFails               bool
	}{
		{"UTF-8 server", utf8Value, `Basic realm="r", charset="UTF-8"`, []string{"Bearer b", utf8Value, utf8Value, utf8Value}, false},
		{"ISO-8859-1 server", latin1Value, `Basic realm="r"`, []string{"Bearer b", utf8Value, utf8Value, latin1Value, latin1Value}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var seen []string
			base := roundTripFunc(func(req *http.Request) (*http.Response, error) {
				auth := req.Header.Get("Authorization")
				seen = append(seen, auth)
				if auth == tc.accepts {
					return respond(req, http.StatusOK, ""), nil
				}
				return respond(req, http.StatusUnauthorized, tc.challenge), nil
			})
			tr := &authtransport.Transport{Base: base, Store: authtransport.NewMemoryStore(valid("b")), Refresher: &countingRefresher{},
				Basic: &authtransport.Basic{Username: user, Password: pass}}
			c := &http.Client{Transport: tr}
			resp, err := c.Get("https://api.example/x")
			if err == nil {
				resp.Body.Close()
			}
			if tc.firstFails {
				var cr *authtransport.CredentialsRejectedError
				assert.ErrorAs(t, err, &cr, "a second resend")
			} else {
				assert.NoError(t, err)
			}
			for range 2 {
				mustGet(t, c, "https://api.example/x")
			}
			assert.Equal(t, tc.want, seen)
		})
	}
}

// An origin that took Basic and then asks for the token gets the token
// again; when the token cannot be had, the request fails with the reason
// and the 401's body is closed.
func TestSchemeSwitchBackToTheToken(t *testing.T) {
	for _, refreshFails := range []bool{false, true} {
		var seen []string
		wantToken := false
		var bodies []*closeCounter
		base := roundTripFunc(func(req *http.Request) (*http.Response, error) {
			auth := req.Header.Get("Authorization")
			seen = append(seen, auth)
			switch {
			case wantToken && strings.HasPrefix(auth, "Bearer "), !wantToken && strings.HasPrefix(auth, "Basic "):
				return respond(req, http.StatusOK, ""), nil
			case wantToken:
				resp := respond(req, http.StatusUnauthorized, `Bearer realm="api"`)
				b := &closeCounter{Reader: strings.NewReader("ask for the token")}
				bodies = append(bodies, b)
				resp.Body = b
				return resp, nil
			}
			return respond(req, http.StatusUnauthorized, `Basic realm="api"`), nil
		})
		store := authtransport.NewMemoryStore(valid("b"))
		tr := &authtransport.Transport{Base: base, Store: store, Refresher: &countingRefresher{},
			Basic: &authtransport.Basic{Username: testUser, Password: testPassword}}
		c := &http.Client{Transport: tr}
		mustGet(t, c, "https://api.example/x") // Bearer, then Basic
		wantToken = true
		if !refreshFails {
			mustGet(t, c, "https://api.example/x") // Basic first, then the token
			assert.Equal(t, []string{"Bearer b", basicValue(testUser, testPassword), basicValue(testUser, testPassword), "Bearer b"}, seen)
			continue
		}
		require.NoError(t, store.Save(context.Background(), nil))
		tr.Forget()
		tr.Refresher = nil
		_, err := c.Get("https://api.example/x")
		assert.ErrorIs(t, err, authtransport.ErrNoRefresher, "no token to switch back to")
		assert.Equal(t, []string{"Bearer b", basicValue(testUser, testPassword), basicValue(testUser, testPassword)}, seen)
		require.Len(t, bodies, 1)
		assert.Equal(t, int32(1), bodies[0].closes.Load(), "the 401's body is closed")
	}
}

// The answer to a resend is judged like the first: a 403 asking for more
// scope after a refresh and resend is a *LoginRequiredError for the scope,
// and a 401 without a challenge after it one for the rejection after
// refresh.
func TestAnswerToAResendIsJudged(t *testing.T) {
	for _, tc := range []struct {
		name      string
		status    int
		challenge string
		reason    authtransport.Reason
	}{
		{"403 insufficient_scope", http.StatusForbidden, `Bearer error="insufficient_scope", scope="admin"`, authtransport.ReasonInsufficientScope},
		{"401 without a challenge", http.StatusUnauthorized, "", authtransport.ReasonRejectedAfterRefresh},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := 0
			base := roundTripFunc(func(req *http.Request) (*http.Response, error) {
				n++
				if n == 1 {
					return respond(req, http.StatusUnauthorized, `Bearer error="invalid_token"`), nil
				}
				return respond(req, tc.status, tc.challenge), nil
			})
			tr := &authtransport.Transport{Base: base, Store: authtransport.NewMemoryStore(valid("b")), Refresher: &countingRefresher{}}
			_, err := (&http.Client{Transport: tr}).Get("https://api.example/x")
			var lr *authtransport.LoginRequiredError
			require.ErrorAs(t, err, &lr)
			assert.Equal(t, tc.reason, lr.Reason)
			assert.Equal(t, tc.status, lr.StatusCode)
			assert.Equal(t, 2, n, "one resend")
		})
	}
}

// A refused DPoP proof is recorded against the token the refused request
// carried, not against whatever token is current when its answer arrives:
// when another request has replaced the token meanwhile, the new token's
// own refused proof still gets its refresh.
func TestRefusedProofIsRecordedForItsOwnToken(t *testing.T) {
	es, _, _ := dpopKeys(t)
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		var mu sync.Mutex
		seen := map[string]int{}
		base := &dpopBase{answer: func(_ int, req *http.Request) *http.Response {
			auth := req.Header.Get("Authorization")
			mu.Lock()
			seen[auth]++
			n := seen[auth]
			mu.Unlock()
			invalidToken := dpopAnswer(req, http.StatusUnauthorized, "WWW-Authenticate", `DPoP algs="ES256", error="invalid_token"`)
			badProof := dpopAnswer(req, http.StatusUnauthorized, "WWW-Authenticate", `DPoP algs="ES256", error="invalid_dpop_proof"`)
			switch {
			case auth == "DPoP d2" && n == 1: // the first request's resend, answered late
				<-release
				return badProof
			case auth == "DPoP d3" && n == 2: // the third request
				return badProof
			case auth == "DPoP d3", auth == "DPoP d4":
				return dpopAnswer(req, http.StatusOK)
			}
			return invalidToken
		}}
		calls := 1
		ref := authtransport.RefresherFunc(func(context.Context, *authtransport.Token) (*authtransport.Token, error) {
			calls++
			return dpopToken(fmt.Sprintf("d%d", calls)), nil
		})
		tr := &authtransport.Transport{Base: base, Store: authtransport.NewMemoryStore(dpopToken("d1")), Refresher: ref, DPoP: newTestDPoP(t, es)}
		c := &http.Client{Transport: tr}
		var wg sync.WaitGroup
		var first *http.Response
		wg.Go(func() { first, _ = get(t, c, context.Background()) }) // d1 refused, d2 sent, its answer held
		synctest.Wait()
		second, err := get(t, c, context.Background()) // d2 refused, d3 obtained and accepted
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, second.StatusCode)
		close(release) // the proof sent with d2 is refused
		wg.Wait()
		require.NotNil(t, first)
		assert.Equal(t, http.StatusUnauthorized, first.StatusCode, "a fresh token's refused proof is answered with the response")

		third, err := get(t, c, context.Background()) // d3's proof refused: not held against it
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, third.StatusCode, "d3's refused proof is refreshed")
		assert.Equal(t, 4, calls, "d2, d3 and d4 were obtained")
	})
}
