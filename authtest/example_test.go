package authtest_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"time"

	"golang.org/x/oauth2"

	"github.com/d5c4ca72/authtransport"
	"github.com/d5c4ca72/authtransport/authtest"
)

// An SDK author tests that their client survives an expired token and a
// revoked one: the transport refreshes once and resends.
func Example() {
	srv := authtest.NewServer()
	defer srv.Close()

	client := &http.Client{Transport: &authtransport.Transport{
		Store:     authtransport.NewMemoryStore(srv.NewExpiredToken()),
		Refresher: authtransport.NewOAuth2Refresher(srv.Config()),
	}}
	for range 2 {
		resp, err := client.Get(srv.ResourceURL("items"))
		if err != nil {
			fmt.Println(err)
			return
		}
		resp.Body.Close()
		fmt.Println(resp.Status)
		srv.RevokeAccessTokens() // the server forgets the access token
	}
	st := srv.Stats()
	fmt.Println("refreshes:", st.Refreshes(), "rejected:", st.ResourceRequests[authtest.OutcomeRevokedToken])
	// Output:
	// 200 OK
	// 200 OK
	// refreshes: 2 rejected: 1
}

// When the grant is revoked, the client must send the user to log in again;
// the test checks that it says so with a *LoginRequiredError.
func ExampleServer_RevokeGrant() {
	srv := authtest.NewServer()
	defer srv.Close()
	client := &http.Client{Transport: &authtransport.Transport{
		Store:     authtransport.NewMemoryStore(srv.NewToken()),
		Refresher: authtransport.NewOAuth2Refresher(srv.Config()),
	}}

	srv.RevokeGrant()
	_, err := client.Get(srv.ResourceURL("items"))
	var lre *authtransport.LoginRequiredError
	fmt.Println(errors.As(err, &lre), errors.Is(err, authtransport.ErrLoginRequired))
	fmt.Println(srv.Stats().TokenRequests["refresh_token"]["invalid_grant"])
	// Output:
	// true true
	// 1
}

// A path can demand step-up authentication (RFC 9470); the client learns
// what to ask the user for.
func ExampleServer_RequireStepUp() {
	srv := authtest.NewServer()
	defer srv.Close()
	srv.RequireStepUp("/api/payments/", authtest.StepUp{ACRValues: []string{"mfa"}})
	client := &http.Client{Transport: &authtransport.Transport{
		Store: authtransport.NewMemoryStore(srv.IssueToken(authtest.Grant{ACR: "pwd"})),
	}}

	_, err := client.Post(srv.ResourceURL("payments/1"), "application/json", nil)
	var lre *authtransport.LoginRequiredError
	if errors.As(err, &lre) {
		fmt.Println(lre.Reason == authtransport.ReasonStepUp, lre.Challenge.ACRValues())
	}
	// Output: true [mfa]
}

// The token endpoint can fail on demand, here with 429 and Retry-After for
// the next request only.
func ExampleServer_FailTokenRequests() {
	srv := authtest.NewServer()
	defer srv.Close()
	srv.FailTokenRequests(1, authtest.Fault{Kind: authtest.FaultRateLimit, RetryAfter: 2 * time.Second})
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, srv.Client())

	_, err := srv.ClientCredentialsConfig().Token(ctx)
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		fmt.Println(re.Response.StatusCode, re.Response.Header.Get("Retry-After"))
	}
	_, err = srv.ClientCredentialsConfig().Token(ctx)
	fmt.Println(err, srv.Stats().TokenRequests["client_credentials"])
	// Output:
	// 429 2
	// <nil> map[fault_rate_limit:1 ok:1]
}

// A CLI logs in with the authorization code grant and PKCE: it listens on
// loopback, opens the authorization URL (here it GETs it itself, standing in
// for the browser), and exchanges the code it receives.
func ExampleServer_Config() {
	srv := authtest.NewServer()
	defer srv.Close()
	codes := make(chan string, 1)
	callback := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		codes <- r.URL.Query().Get("code")
		fmt.Fprintln(w, "logged in; you may close this window")
	}))
	defer callback.Close()

	cfg := srv.Config()
	cfg.RedirectURL = callback.URL + "/callback"
	verifier := oauth2.GenerateVerifier()
	resp, err := http.Get(cfg.AuthCodeURL("state", oauth2.S256ChallengeOption(verifier)))
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	tok, err := cfg.Exchange(context.Background(), <-codes, oauth2.VerifierOption(verifier))
	fmt.Println(err, tok.Valid(), tok.RefreshToken != "")
	// Output: <nil> true true
}

// An SDK author mounts their own API handler: the server checks the token
// (here a scope demand) before the handler runs, and hands it what the
// token carries.
func ExampleServer_Handle() {
	srv := authtest.NewServer()
	defer srv.Close()
	srv.RequireScope("/api/orders/", "orders:read")
	srv.Handle("GET /api/orders/{id}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ti, _ := authtest.TokenInfoFromContext(r.Context())
		fmt.Fprintf(w, "order %s for a token with scope %q\n", r.PathValue("id"), ti.Scope)
	}))
	client := &http.Client{Transport: &authtransport.Transport{
		Store: authtransport.NewMemoryStore(srv.IssueToken(authtest.Grant{Scope: "orders:read"})),
	}}

	resp, err := client.Get(srv.ResourceURL("orders/7"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	_, _ = io.Copy(os.Stdout, resp.Body)
	// Output: order 7 for a token with scope "orders:read"
}

// A command-line tool registered as a public client logs in with the
// device authorization grant; the server's user denies, and the test sees
// how the client polled.
func ExampleServer_SetDeviceFlow() {
	srv := authtest.NewServer()
	defer srv.Close()
	cfg := srv.RegisterPublicClient("my-cli")
	srv.SetDeviceFlow(authtest.DeviceFlow{Interval: time.Second, Deny: true})
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, srv.Client())

	da, err := cfg.DeviceAuth(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = cfg.DeviceAccessToken(ctx, da)
	var re *oauth2.RetrieveError
	fmt.Println(errors.As(err, &re) && re.ErrorCode == "access_denied")
	fmt.Println(len(srv.DevicePollTimes()), "poll,", srv.Stats().DeviceAuthorizations, "device authorization")
	// Output:
	// true
	// 1 poll, 1 device authorization
}
