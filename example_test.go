package authtransport_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/d5c4ca72/authtransport"
	"github.com/d5c4ca72/authtransport/authtest"
)

// A client for an API that keeps its token fresh by itself. The authtest
// server stands in for a real authorization server and API.
func Example() {
	srv := authtest.NewServer()
	defer srv.Close()
	tok := srv.NewExpiredToken() // as loaded from where the app keeps it

	client := &http.Client{Transport: &authtransport.Transport{
		Base:      srv.Client().Transport, // nil means http.DefaultTransport
		Store:     authtransport.NewMemoryStore(tok),
		Refresher: authtransport.NewOAuth2Refresher(srv.Config()),
	}}
	resp, err := client.Get(srv.ResourceURL("items"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	fmt.Println(resp.Status, "after", srv.Stats().Refreshes(), "refresh")
	// Output: 200 OK after 1 refresh
}

// When only the user can help, the error says so; errors.As finds it
// through the *url.Error that http.Client returns.
func ExampleLoginRequiredError() {
	srv := authtest.NewServer()
	defer srv.Close()
	tok := srv.NewExpiredToken()
	srv.RevokeGrant() // the user logged out everywhere

	client := &http.Client{Transport: &authtransport.Transport{
		Base:      srv.Client().Transport,
		Store:     authtransport.NewMemoryStore(tok),
		Refresher: authtransport.NewOAuth2Refresher(srv.Config()),
	}}
	_, err := client.Get(srv.ResourceURL("items"))

	var lr *authtransport.LoginRequiredError
	switch {
	case errors.As(err, &lr) && lr.Reason == authtransport.ReasonInsufficientScope:
		fmt.Println("ask the user to grant:", lr.Challenge.Scopes())
	case errors.As(err, &lr) && lr.Reason == authtransport.ReasonStepUp:
		fmt.Println("ask the user to authenticate with:", lr.Challenge.ACRValues())
	case errors.Is(err, authtransport.ErrLoginRequired):
		fmt.Println("send the user to log in:", lr.Reason)
	case err != nil:
		fmt.Println("try again later:", err)
	}
	// Output: send the user to log in: refresh rejected by the authorization server
}

// A service calling another service with the client-credentials grant needs
// no stored token: the first request fetches one.
func ExampleNewClientCredentialsRefresher() {
	srv := authtest.NewServer()
	defer srv.Close()

	client := &http.Client{Transport: &authtransport.Transport{
		Base:      srv.Client().Transport,
		Refresher: authtransport.NewClientCredentialsRefresher(srv.ClientCredentialsConfig()),
	}}
	resp, err := client.Get(srv.ResourceURL("items"))
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	fmt.Println(resp.Status)
	// Output: 200 OK
}

// Any refresh logic fits behind a RefresherFunc, for example a secret
// manager's API.
func ExampleRefresherFunc() {
	refresher := authtransport.RefresherFunc(func(ctx context.Context, stale *authtransport.Token) (*authtransport.Token, error) {
		return &authtransport.Token{AccessToken: "from-vault", Expiry: time.Now().Add(time.Hour)}, nil
	})
	tr := &authtransport.Transport{Refresher: refresher}
	tok, err := tr.Token(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(tok.Type(), tok.AccessToken)
	// Output: Bearer from-vault
}

// Tokens never print their secrets, whatever the verb.
func ExampleToken_String() {
	tok := authtransport.Token{AccessToken: "eyJhbGciOi...", RefreshToken: "8xLOxBtZp8", Scope: "read"}
	fmt.Println(tok)
	fmt.Printf("%+v\n", &tok)
	// Output:
	// Token{Type:Bearer AccessToken:REDACTED RefreshToken:REDACTED Scope:read}
	// Token{Type:Bearer AccessToken:REDACTED RefreshToken:REDACTED Scope:read}
}
