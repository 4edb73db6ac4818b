package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"golang.org/x/oauth2"

	"github.com/d5c4ca72/authtransport"
	"github.com/d5c4ca72/authtransport/authtest"
)

// apiClient is a Transport on a Store, talking to an authtest server that
// may run in another process (it knows only its URL and client secret).
// Its token requests go through the same base transport as its API
// requests, so that closing it leaves no connection behind.
type apiClient struct {
	url  string
	base *http.Transport
	tr   *authtransport.Transport
	http *http.Client
}

// newAPIClient returns an apiClient for the server at url whose client has
// secret. tweak, if not nil, changes the Transport before its first use.
func newAPIClient(url, secret string, store authtransport.Store, tweak func(*authtransport.Transport)) *apiClient {
	cfg := &oauth2.Config{
		ClientID:     authtest.DefaultClientID,
		ClientSecret: secret,
		Endpoint:     oauth2.Endpoint{TokenURL: url + "/token", AuthStyle: oauth2.AuthStyleInHeader},
	}
	base := &http.Transport{MaxIdleConnsPerHost: 64}
	tr := &authtransport.Transport{Base: base, Store: store, Refresher: authtransport.NewOAuth2Refresher(cfg)}
	if tweak != nil {
		tweak(tr)
	}
	return &apiClient{url: url, base: base, tr: tr, http: &http.Client{Transport: tr}}
}

// get requests path from the API and returns the status code.
func (a *apiClient) get(ctx context.Context, path string) (int, error) {
	ctx = context.WithValue(ctx, oauth2.HTTPClient, &http.Client{Transport: a.base})
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.url+"/api/"+path, nil)
	if err != nil {
		return 0, err
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// close closes the idle connections.
func (a *apiClient) close() { a.base.CloseIdleConnections() }

// outcome sums up a request's result as a short text: "ok", "status 401",
// or the kind of the error.
func outcome(status int, err error) string {
	var lr *authtransport.LoginRequiredError
	var re *authtransport.RefreshError
	switch {
	case errors.As(err, &lr):
		return "login required: " + lr.Reason.String()
	case errors.As(err, &re):
		return "refresh error: " + re.Error()
	case err != nil:
		return "error: " + err.Error()
	case status != http.StatusOK:
		return fmt.Sprintf("status %d", status)
	}
	return "ok"
}

// unlockedStore hides the lock of the Store it wraps: a Transport on it
// refreshes without one (the control rows).
type unlockedStore struct{ s authtransport.Store }

func (u unlockedStore) Load(ctx context.Context) (*authtransport.Token, error) { return u.s.Load(ctx) }
func (u unlockedStore) Save(ctx context.Context, tok *authtransport.Token) error {
	return u.s.Save(ctx, tok)
}
