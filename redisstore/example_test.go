package redisstore_test

import (
	"context"
	"errors"
	"log"
	"net/http"
	"os"

	"github.com/redis/go-redis/v9"
	"golang.org/x/oauth2"

	"github.com/d5c4ca72/authtransport"
	"github.com/d5c4ca72/authtransport/redisstore"
)

// A service whose replicas share one grant keeps its token in Redis: every
// replica's Transport refreshes under the same lock, so a rotating refresh
// token is presented once. (The examples need a Redis server, so they are
// compiled but not run; the tests run the same code against a real one.)
func Example() {
	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379", ContextTimeoutEnabled: true})
	defer rdb.Close()
	cfg := &oauth2.Config{ClientID: "worker", ClientSecret: os.Getenv("CRM_CLIENT_SECRET"),
		Endpoint: oauth2.Endpoint{TokenURL: "https://crm.example.com/oauth/token"}}
	client := &http.Client{Transport: &authtransport.Transport{
		Store:     &redisstore.Store{Client: rdb, Key: "crm-integration"},
		Refresher: authtransport.NewOAuth2Refresher(cfg),
	}}
	resp, err := client.Get("https://crm.example.com/api/contacts")
	if errors.As(err, new(*redisstore.RedisError)) {
		log.Fatalf("token store unavailable and the token expired: %v", err)
	}
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
}

// An operator's tool stores the grant once the integration has been
// authorized. A replica that is refreshing the old grant at that moment
// does not save over the new one: its save, made under the lock, finds
// that the stored version has moved on and is refused, and the replica
// adopts the new grant on its next load.
func ExampleStore_Save() {
	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379", ContextTimeoutEnabled: true})
	defer rdb.Close()
	store := &redisstore.Store{Client: rdb, Key: "crm-integration"}
	tok := &authtransport.Token{AccessToken: "from the authorization", RefreshToken: "from the authorization"}
	if err := store.Save(context.Background(), tok); err != nil {
		log.Fatal(err)
	}
}
