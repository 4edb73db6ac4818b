package authtest_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/d5c4ca72/authtransport"
	"github.com/d5c4ca72/authtransport/authtest"
)

// TestTransportSingleRefresh checks the kit against the project's Transport:
// many goroutines start with one expired token, and the server sees one
// refresh and no reuse.
func TestTransportSingleRefresh(t *testing.T) {
	srv := newServer(t)
	srv.SetTokenDelay(20 * time.Millisecond) // widen the window for duplicate refreshes
	tr := &authtransport.Transport{
		Base:      srv.Client().Transport,
		Store:     authtransport.NewMemoryStore(srv.NewExpiredToken()),
		Refresher: authtransport.NewOAuth2Refresher(srv.Config()),
	}
	client := &http.Client{Transport: tr}
	ctx := ctxWithClient(t, srv)

	const n = 32
	var wg sync.WaitGroup
	statuses := make([]int, n)
	for i := range n {
		wg.Go(func() {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.ResourceURL(fmt.Sprintf("items/%d", i)), nil)
			resp, err := client.Do(req)
			if !assert.NoError(t, err) {
				return
			}
			resp.Body.Close()
			statuses[i] = resp.StatusCode
		})
	}
	wg.Wait()
	for i, s := range statuses {
		assert.Equal(t, 200, s, "request %d", i)
	}
	st := srv.Stats()
	assert.Equal(t, 1, st.Refreshes(), "token requests: %v", st.TokenRequests)
	assert.Zero(t, st.RefreshTokenReuse)
	assert.Equal(t, n, st.ResourceRequests[authtest.OutcomeOK])
}

// TestConcurrentKnobs turns every knob while clients refresh and call the
// resource; run under -race it shows the server's state is guarded, and the
// counters add up to what the clients saw.
func TestConcurrentKnobs(t *testing.T) {
	srv := newServer(t)
	ctx, cancel := context.WithTimeout(ctxWithClient(t, srv), 10*time.Second)
	defer cancel()
	clock := authtest.NewClock(time.Now())

	const workers, rounds = 8, 25
	var resourceSeen, tokenSeen atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			cfg := srv.Config()
			if w%2 == 1 {
				cfg.Endpoint.AuthStyle = oauth2.AuthStyleInParams
			}
			tok := srv.NewExpiredToken().OAuth2()
			for range rounds {
				if nt, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err == nil {
					tok = nt
				} else {
					var re *oauth2.RetrieveError
					if errors.As(err, &re) && re.ErrorCode == "invalid_grant" {
						tok = srv.NewToken().OAuth2() // log in again
					}
				}
				tokenSeen.Add(1)
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.ResourceURL(fmt.Sprintf("w%d", w)), nil)
				req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
				resp, err := srv.Client().Do(req)
				if err != nil {
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				resourceSeen.Add(1)
			}
		})
	}
	knobs := []func(int){
		func(i int) { srv.SetAccessTokenLifetime(time.Duration(i%3) * time.Minute) },
		func(i int) { srv.SetRotateRefreshTokens(i%2 == 0) },
		func(i int) { srv.SetReuseDetection(i%3 != 0) },
		func(int) { srv.RevokeAccessTokens() },
		func(i int) {
			if i%10 == 0 {
				srv.RevokeGrant()
			}
		},
		func(i int) { srv.SetTokenDelay(time.Duration(i%2) * time.Millisecond) },
		func(i int) { srv.FailTokenRequests(1, authtest.Fault{Kind: authtest.FaultKind(1 + i%6)}) },
		func(i int) { srv.FailTokenRequestFraction(float64(i%4)/10, authtest.Fault{Kind: authtest.FaultStatus}) },
		func(i int) { srv.RequireScope("/api/w1", fmt.Sprint("s", i%2)) },
		func(i int) { srv.RequireStepUp("/api/w2", authtest.StepUp{MaxAge: time.Duration(1+i%2) * time.Hour}) },
		func(i int) {
			srv.Reject("/api/w3", authtest.Rejection{WWWAuthenticate: []string{"Bearer"}, Times: 1})
		},
		func(i int) {
			if i%2 == 0 {
				srv.SetNow(clock.Now)
			} else {
				srv.SetNow(nil)
			}
			clock.Advance(time.Second)
		},
		func(int) { srv.RotateDPoPNonce() },
		func(i int) { srv.SetDPoPNonceInterval(time.Duration(i%2) * time.Second) },
		func(i int) { srv.SetLoginACR(fmt.Sprint(i)) },
		func(int) { _ = srv.Stats(); _ = srv.ResourceRequests(); _ = srv.DPoPNonce() },
	}
	done := make(chan struct{})
	var knobWG sync.WaitGroup
	knobWG.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			default:
			}
			knobs[i%len(knobs)](i)
			time.Sleep(100 * time.Microsecond)
		}
	})
	wg.Wait()
	close(done)
	knobWG.Wait()

	st := srv.Stats()
	assert.EqualValues(t, resourceSeen.Load(), st.ResourceRequestsTotal(), "every answered resource request is counted once")
	assert.GreaterOrEqual(t, int64(st.TokenRequestsTotal()), tokenSeen.Load()/2, "token requests: %v", st.TokenRequests)
	assert.Len(t, srv.ResourceRequests(), int(resourceSeen.Load()))
}

// TestCrossProcess shows other processes using one server over loopback:
// a child refreshes, and a second child presenting the retired refresh
// token trips reuse detection, which revokes the grant.
func TestCrossProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("starts subprocesses")
	}
	srv := newServer(t)
	tok := srv.NewExpiredToken()
	run := func(refreshToken string) string {
		cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestHelperProcess$")
		cmd.Env = append(os.Environ(), "AUTHTEST_HELPER=1", "AUTHTEST_URL="+srv.URL,
			"AUTHTEST_SECRET="+srv.ClientSecret, "AUTHTEST_REFRESH="+refreshToken)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "child output: %s", out)
		for line := range strings.Lines(string(out)) {
			if res, ok := strings.CutPrefix(line, "RESULT "); ok {
				return strings.TrimSpace(res)
			}
		}
		t.Fatalf("no result from child: %s", out)
		return ""
	}
	assert.Equal(t, "200", run(tok.RefreshToken))
	assert.Equal(t, "invalid_grant", run(tok.RefreshToken))
	st := srv.Stats()
	assert.Equal(t, 1, st.Refreshes())
	assert.Equal(t, 1, st.RefreshTokenReuse)
	assert.Equal(t, 1, st.ResourceRequests[authtest.OutcomeOK])
}

// TestHelperProcess is the child of TestCrossProcess: it refreshes with the
// given refresh token and calls the resource, all over HTTP.
func TestHelperProcess(t *testing.T) {
	if os.Getenv("AUTHTEST_HELPER") != "1" {
		t.Skip("run by TestCrossProcess")
	}
	base := os.Getenv("AUTHTEST_URL")
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	ctx := context.WithValue(t.Context(), oauth2.HTTPClient, &http.Client{Transport: tr})
	cfg := &oauth2.Config{
		ClientID:     authtest.DefaultClientID,
		ClientSecret: os.Getenv("AUTHTEST_SECRET"),
		Endpoint:     oauth2.Endpoint{TokenURL: base + "/token", AuthStyle: oauth2.AuthStyleInParams},
	}
	tok, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: os.Getenv("AUTHTEST_REFRESH")}).Token()
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		fmt.Println("RESULT", re.ErrorCode)
		return
	}
	require.NoError(t, err)
	client := oauth2.NewClient(ctx, oauth2.StaticTokenSource(tok))
	resp, err := client.Get(base + "/api/from-child")
	require.NoError(t, err)
	resp.Body.Close()
	fmt.Println("RESULT", resp.StatusCode)
}
