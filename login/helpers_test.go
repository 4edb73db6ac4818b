package login_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/d5c4ca72/authtransport"
	"github.com/d5c4ca72/authtransport/authtest"
)

// newServer starts an authtest server that the test closes.
func newServer(t *testing.T) *authtest.Server {
	t.Helper()
	srv := authtest.NewServer()
	t.Cleanup(srv.Close)
	return srv
}

// newServerB is newServer for a benchmark.
func newServerB(b *testing.B) *authtest.Server {
	b.Helper()
	srv := authtest.NewServer()
	b.Cleanup(srv.Close)
	return srv
}

// withClient returns ctx carrying c for the login package's requests.
func withClient(ctx context.Context, c *http.Client) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, c)
}

// browser stands in for the user's browser: its Open GETs the
// authorization URL and follows the redirects, as a browser would, to
// authtest's auto-approving /authorize and back to the loopback listener,
// and keeps the page the listener answered.
type browser struct {
	client *http.Client
	// rewrite, if set, changes the authorization URL's redirect before
	// the browser follows it: the query of the redirect to the
	// listener, as a forged or mangled redirect would carry.
	rewrite func(q url.Values)

	mu     sync.Mutex // guards the fields below
	status int
	page   string
	opened int
}

// Open implements login.Browser.Open.
func (b *browser) Open(ctx context.Context, target string) error {
	b.mu.Lock()
	b.opened++
	b.mu.Unlock()
	c := *b.client
	if b.rewrite != nil {
		c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
			if len(via) == 1 { // the redirect to the listener
				q := req.URL.Query()
				b.rewrite(q)
				req.URL.RawQuery = q.Encode()
			}
			return nil
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	b.mu.Lock()
	b.status, b.page = resp.StatusCode, string(body)
	b.mu.Unlock()
	return err
}

// shown returns the status and page the browser got back.
func (b *browser) shown() (int, string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.status, b.page
}

// syncBuffer is a bytes.Buffer safe for concurrent use, for an Output
// that a test reads while Login writes.
type syncBuffer struct {
	mu sync.Mutex // guards b
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// apiStatus returns the status of a GET of path on srv's API with tok.
func apiStatus(t *testing.T, srv *authtest.Server, path string, tok *authtransport.Token) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.ResourceURL(path), nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}
