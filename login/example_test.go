package login_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"golang.org/x/oauth2"

	"github.com/d5c4ca72/authtransport"
	"github.com/d5c4ca72/authtransport/authtest"
	"github.com/d5c4ca72/authtransport/login"
)

// openWith returns a Browser.Open that GETs the authorization URL with
// client, standing in for the user's browser: authtest approves at once
// and redirects back to the loopback listener.
func openWith(client *http.Client) func(ctx context.Context, url string) error {
	return func(ctx context.Context, url string) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.Body.Close()
	}
}

// A "mycli login" command: discover the authorization server, sign in
// with the browser, and save the token where the Transport of the other
// commands finds it.
func Example() {
	srv := authtest.NewServer() // the authorization server and API
	defer srv.Close()
	srv.RegisterPublicClient("mycli")
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, srv.Client())

	md, err := (&login.Discovery{}).Server(ctx, srv.URL)
	if err != nil {
		fmt.Println(err)
		return
	}
	cfg := md.Config("mycli", "", "read")
	flow := &login.Browser{
		Config:        cfg,
		Issuer:        md.Issuer,
		RequireIssuer: md.AuthorizationResponseIssParameterSupported,
		Open:          openWith(srv.Client()), // a real CLI leaves Open nil: OpenBrowser
		Output:        io.Discard,             // a real CLI leaves it nil: os.Stderr
	}
	store := authtransport.NewMemoryStore(nil) // a real CLI uses filestore.New(path)
	tok, err := login.Save(ctx, store, flow.Login)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("signed in; scope:", tok.Scope)

	client := &http.Client{Transport: &authtransport.Transport{Store: store, Refresher: authtransport.NewOAuth2Refresher(cfg)}}
	resp, err := client.Get(srv.ResourceURL("items"))
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	fmt.Println(resp.Status)
	// Output:
	// signed in; scope: read
	// 200 OK
}

// A program on a machine without a browser signs in with the device
// flow: the user opens the verification URI on their phone and enters
// the code.
func ExampleDevice() {
	srv := authtest.NewServer()
	defer srv.Close()
	cfg := srv.RegisterPublicClient("tv-app")
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, srv.Client())

	flow := &login.Device{
		Config: cfg,
		Prompt: func(ctx context.Context, p login.DevicePrompt) error {
			// A real program prints p (its String method says it all),
			// or shows p.VerificationURIComplete as a QR code.
			fmt.Println("the user enters a code of", len(p.UserCode), "characters")
			return nil
		},
	}
	tok, err := flow.Login(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("signed in:", tok.AccessToken != "", "with a refresh token:", tok.RefreshToken != "")
	// Output:
	// the user enters a code of 9 characters
	// signed in: true with a refresh token: true
}

// An MCP-style client knows only the URL it called: the 401's challenge
// names the resource's metadata, which names its authorization server.
func ExampleDiscovery_ForResource() {
	srv := authtest.NewServer()
	defer srv.Close()
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, srv.Client())
	resource := srv.ResourceURL("items")
	metadataURL := srv.MetadataURL() // LoginRequiredError.Challenge.ResourceMetadata()

	var d login.Discovery
	rm, sm, err := d.ForResource(ctx, metadataURL, resource)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(rm.Resource == srv.URL+"/api/", sm.Issuer == srv.URL, sm.DeviceAuthorizationEndpoint == srv.DeviceAuthURL())
	// Output: true true true
}

// A login the user declines is an *OAuthError; a redirect that does not
// belong to the login is a *MismatchError.
func ExampleOAuthError() {
	srv := authtest.NewServer()
	defer srv.Close()
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, srv.Client())
	flow := &login.Browser{
		Config: srv.RegisterPublicClient("mycli"),
		Output: io.Discard,
		// The user clicks "Deny": the browser is sent back with
		// error=access_denied.
		Open: func(ctx context.Context, authURL string) error {
			u, _ := url.Parse(authURL)
			q := u.Query()
			back := q.Get("redirect_uri") + "?error=access_denied&state=" + url.QueryEscape(q.Get("state"))
			return openWith(srv.Client())(ctx, back)
		},
	}
	_, err := flow.Login(ctx)
	var oe *login.OAuthError
	var me *login.MismatchError
	switch {
	case errors.As(err, &oe) && oe.Code == "access_denied":
		fmt.Println("you declined; run `mycli login` to try again")
	case errors.As(err, &me):
		fmt.Println("that sign-in did not come from us:", me.Field)
	case errors.Is(err, login.ErrTimeout):
		fmt.Println("you took too long")
	}
	// Output: you declined; run `mycli login` to try again
}
