package filestore_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"os"
	"path/filepath"

	"github.com/d5c4ca72/authtransport"
	"github.com/d5c4ca72/authtransport/authtest"
	"github.com/d5c4ca72/authtransport/filestore"
)

// A command-line tool keeps its token in a Store, so that every copy of
// the tool the user runs shares one login, and copies that find the token
// expired at the same moment refresh it once between them.
func ExampleNew() {
	srv := authtest.NewServer() // stands in for the real authorization server and API
	defer srv.Close()
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	// A real tool would use filepath.Join(os.UserConfigDir(), "mytool", "token.json").
	store, err := filestore.New(filepath.Join(dir, "mytool", "token.json"))
	if err != nil {
		log.Fatal(err)
	}
	// The login command saves the token it obtained.
	if err := store.Save(context.Background(), srv.NewExpiredToken()); err != nil {
		log.Fatal(err)
	}

	// Every other command sends its requests through a Transport on the
	// store. The expired token is refreshed under the store's lock and the
	// new one saved for the next run.
	tr := &authtransport.Transport{
		Store:     store,
		Refresher: authtransport.NewOAuth2Refresher(srv.Config()),
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	resp, err := client.Get(srv.ResourceURL("/items"))
	var lr *authtransport.LoginRequiredError
	if errors.As(err, &lr) {
		fmt.Println("please run `mytool login`:", lr.Reason)
		return
	}
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println(resp.Status)
	// Output: 200 OK
}

// Load tells a missing login apart from a token file it must not use; both
// match authtransport.ErrNoToken, so test for the file's problems first.
func ExampleStore_Load() {
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "token.json")
	store, err := filestore.New(path)
	if err != nil {
		log.Fatal(err)
	}

	describe := func() {
		_, err := store.Load(context.Background())
		var corrupt *filestore.CorruptError
		var mode *filestore.ModeError
		switch {
		case err == nil:
			fmt.Println("logged in")
		case errors.As(err, &corrupt):
			fmt.Printf("corrupt: %s; copy kept: %v\n", corrupt.Reason, corrupt.Backup != "")
		case errors.As(err, &mode):
			fmt.Printf("refused: mode %#o\n", uint32(mode.Mode))
		case errors.Is(err, authtransport.ErrNoToken):
			fmt.Println("not logged in")
		default:
			fmt.Println(err)
		}
	}

	describe()
	if err := os.WriteFile(path, []byte(`{"version":1,"token":{"access_to`), 0o600); err != nil {
		log.Fatal(err)
	}
	describe()
	// Saving, for example after logging in again, replaces the corrupt
	// file; the copy stays.
	if err := store.Save(context.Background(), &authtransport.Token{AccessToken: "new"}); err != nil {
		log.Fatal(err)
	}
	describe()
	// Output:
	// not logged in
	// corrupt: invalid JSON at byte 32; copy kept: true
	// logged in
}
