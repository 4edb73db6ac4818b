package keyringstore_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"

	"golang.org/x/oauth2"

	"github.com/d5c4ca72/authtransport"
	"github.com/d5c4ca72/authtransport/filestore"
	"github.com/d5c4ca72/authtransport/keyringstore"
)

// A command-line tool keeps its token in the keychain, and in a file only
// where there is no keychain (a server, an SSH session), saying so each
// time. The copies of the tool that run at once refresh the token once
// between them, under the store's lock.
func Example() {
	cfg := &oauth2.Config{
		ClientID: "mycli",
		Endpoint: oauth2.Endpoint{TokenURL: "https://auth.example.com/token"},
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		log.Fatal(err)
	}
	file, err := filestore.New(filepath.Join(dir, "mycli", "token.json"))
	if err != nil {
		log.Fatal(err)
	}
	store, err := keyringstore.New(keyringstore.Config{
		Service:  "mycli",
		Account:  "alice@example.com",
		Fallback: file,
		OnFallback: func(err error) {
			fmt.Fprintf(os.Stderr, "mycli: no keychain (%v); using %s\n", err, file.Path())
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	client := &http.Client{Transport: &authtransport.Transport{
		Store:     store,
		Refresher: authtransport.NewOAuth2Refresher(cfg),
	}}

	resp, err := client.Get("https://api.example.com/v1/me")
	var lr *authtransport.LoginRequiredError
	if errors.As(err, &lr) {
		fmt.Fprintln(os.Stderr, "mycli: run `mycli login` to sign in again:", lr.Reason)
		os.Exit(2)
	}
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	fmt.Println(resp.Status)
}

// Without a Fallback, a missing or locked keychain is an error of its own
// type, which the Transport's *RefreshError carries.
func ExampleNoKeyringError() {
	store, err := keyringstore.New(keyringstore.Config{Service: "mycli", Account: "alice@example.com"})
	if err != nil {
		log.Fatal(err)
	}
	client := &http.Client{Transport: &authtransport.Transport{Store: store}}
	_, err = client.Get("https://api.example.com/v1/me")

	var noKeyring *keyringstore.NoKeyringError
	var locked *keyringstore.LockedError
	switch {
	case errors.As(err, &noKeyring):
		fmt.Fprintln(os.Stderr, "mycli: no keychain here; run `mycli login --token-file` to keep the token in a file")
	case errors.As(err, &locked):
		fmt.Fprintln(os.Stderr, "mycli: unlock your keychain and try again")
	case errors.Is(err, authtransport.ErrLoginRequired):
		fmt.Fprintln(os.Stderr, "mycli: run `mycli login`")
	}
}

// Logging in saves the token; logging out removes it from the keychain,
// and from the fallback file if an earlier run had to use it. A Logger
// reports every use of the fallback as a warning.
func ExampleStore_Save() {
	file, err := filestore.New(filepath.Join(os.TempDir(), "mycli-example", "token.json"))
	if err != nil {
		log.Fatal(err)
	}
	store, err := keyringstore.New(keyringstore.Config{
		Service:  "mycli",
		Account:  "alice@example.com",
		Fallback: file,
		Logger:   slog.New(slog.NewTextHandler(os.Stderr, nil)),
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	tok := &authtransport.Token{AccessToken: "from the login", RefreshToken: "from the login too"}
	if err := store.Save(ctx, tok); err != nil {
		log.Fatal(err)
	}
	if err := store.Save(ctx, nil); err != nil {
		log.Fatal(err)
	}
}
