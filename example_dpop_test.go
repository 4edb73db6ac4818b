package authtransport_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/d5c4ca72/authtransport"
	"github.com/d5c4ca72/authtransport/authtest"
)

// A client whose tokens are bound to its own key (RFC 9449). The authtest
// server stands in for an authorization server and API that require DPoP
// and nonces: the Transport goes through the nonce dance at the token
// endpoint and at the API by itself.
func ExampleDPoP() {
	srv := authtest.NewServer()
	defer srv.Close()
	srv.RequireDPoP(true)
	srv.RequireDPoPNonce(true)

	// Keep the key as long as the tokens: they are useless without it.
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		fmt.Println(err)
		return
	}
	dpop, err := authtransport.NewDPoP(key)
	if err != nil {
		fmt.Println(err)
		return
	}
	store := authtransport.NewMemoryStore(nil)
	client := &http.Client{Transport: &authtransport.Transport{
		Base:      srv.Client().Transport,
		Store:     store,
		Refresher: authtransport.NewClientCredentialsRefresher(srv.ClientCredentialsConfig()),
		DPoP:      dpop,
	}}
	resp, err := client.Get(srv.ResourceURL("items"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	tok, _ := store.Load(context.Background())
	fmt.Println(resp.Status, "with a token of type", tok.Type())

	// The same token without the key cannot be used, and is never sent as
	// a bearer token.
	keyless := &http.Client{Transport: &authtransport.Transport{
		Base:  srv.Client().Transport,
		Store: authtransport.NewMemoryStore(tok),
	}}
	_, err = keyless.Get(srv.ResourceURL("items"))
	fmt.Println(errors.Is(err, authtransport.ErrDPoPNotConfigured))
	// Output:
	// 200 OK with a token of type DPoP
	// true
}
