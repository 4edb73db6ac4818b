package otelauth_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"

	"github.com/d5c4ca72/authtransport"
	"github.com/d5c4ca72/authtransport/authtest"
	"github.com/d5c4ca72/authtransport/otelauth"
)

// roundTripFunc answers requests without a network.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// eventLog keeps the events a Transport sent, beside the metrics.
type eventLog struct {
	mu     sync.Mutex // guards events
	events []authtransport.Event
}

func (l *eventLog) add(ev authtransport.Event) {
	l.mu.Lock()
	l.events = append(l.events, ev)
	l.mu.Unlock()
}

func (l *eventLog) all() []authtransport.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]authtransport.Event(nil), l.events...)
}

// TestEventsFromTransport runs real Transports against authtest through a
// refresh of an expired token, a rejection and resend, a refresh failure, a
// login required and a request without credentials, and reads the metrics
// they leave in the SDK.
func TestEventsFromTransport(t *testing.T) {
	srv := authtest.NewServer()
	t.Cleanup(srv.Close)
	mp, reader := newProvider(t)
	onEvent, err := otelauth.Events(mp)
	require.NoError(t, err, "creating the instruments")
	var log eventLog
	hook := func(ev authtransport.Event) {
		onEvent(ev)
		log.add(ev)
	}
	client := func(tok *authtransport.Token) *http.Client {
		return &http.Client{Transport: &authtransport.Transport{
			Base:      srv.Client().Transport,
			Store:     authtransport.NewMemoryStore(tok),
			Refresher: authtransport.NewOAuth2Refresher(srv.Config()),
			OnEvent:   hook,
		}}
	}
	get := func(c *http.Client, url string) (int, error) {
		resp, err := c.Get(url)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		require.NoError(t, resp.Body.Close(), "closing the body")
		return resp.StatusCode, nil
	}

	// An expired token is refreshed; a revoked one is rejected, refreshed
	// and the request resent.
	a := client(srv.NewExpiredToken())
	status, err := get(a, srv.ResourceURL("items"))
	require.NoError(t, err, "request with an expired token")
	require.Equal(t, http.StatusOK, status, "status with an expired token")
	srv.RevokeAccessTokens()
	status, err = get(a, srv.ResourceURL("items"))
	require.NoError(t, err, "request with a revoked access token")
	require.Equal(t, http.StatusOK, status, "status with a revoked access token")

	// The token endpoint fails: a transient refresh failure.
	srv.FailTokenRequests(1, authtest.Fault{Kind: authtest.FaultStatus})
	_, err = get(client(srv.NewExpiredToken()), srv.ResourceURL("items"))
	var re *authtransport.RefreshError
	require.ErrorAs(t, err, &re, "request while the token endpoint fails")

	// The grant is revoked: rejected, the refresh is refused (terminal),
	// and the user must log in.
	c := client(srv.NewToken())
	srv.RevokeGrant()
	_, err = get(c, srv.ResourceURL("items"))
	var lr *authtransport.LoginRequiredError
	require.ErrorAs(t, err, &lr, "request after the grant was revoked")

	// Plain http to a host that is not loopback goes without credentials.
	d := &http.Client{Transport: &authtransport.Transport{
		Base: roundTripFunc(func(req *http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Request: req}, nil
		}),
		Store:   authtransport.NewMemoryStore(srv.NewToken()),
		OnEvent: hook,
	}}
	status, err = get(d, "http://api.example.test/items")
	require.NoError(t, err, "plain http request")
	require.Equal(t, http.StatusOK, status, "status of the plain http request")

	var sent strings.Builder
	for _, ev := range log.all() {
		fmt.Fprintf(&sent, "\n%v: status=%d detail=%q reason=%d", ev.Kind, ev.Status, ev.Detail, ev.Reason)
	}
	t.Log("events:" + sent.String())
	got := collect(t, reader)
	logPoints(t, got)
	reason := attribute.String("authtransport.login.reason", authtransport.ReasonRefreshRejected.String())
	assert.Equal(t, map[string]int64{
		key("authtransport.refresh.started"):                                                                               1 + 1 + 1 + 1,
		key("authtransport.refresh.completed", succeeded):                                                                  2,
		key("authtransport.refresh.duration", succeeded):                                                                   2,
		key("authtransport.refresh.completed", failed, transient):                                                          1,
		key("authtransport.refresh.duration", failed, transient):                                                           1,
		key("authtransport.refresh.completed", failed, terminal):                                                           1,
		key("authtransport.refresh.duration", failed, terminal):                                                            1,
		key("authtransport.request.rejected", status401, challenge("Bearer invalid_token")):                                2,
		key("authtransport.request.resent", attribute.String("authtransport.resend.reason", "refreshed")):                  1,
		key("authtransport.token.adopted"):                                                                                 1, // the token the new login stored, loaded
		key("authtransport.login.required", reason):                                                                        1,
		key("authtransport.request.no_credentials", attribute.String("authtransport.no_credentials.reason", "plain-http")): 1,
	}, values(got), "data points after the requests")
	for k, p := range got {
		if strings.HasPrefix(k, "authtransport.refresh.duration") {
			assert.Positive(t, p.sum, "%s: refreshes take some time", k)
		}
	}

	// Every value these Transports sent has a prebuilt attribute set.
	if raceEnabled {
		return
	}
	for _, ev := range log.all() {
		allocs := testing.AllocsPerRun(100, func() { onEvent(ev) })
		assert.Zero(t, allocs, "allocations recording %v %q", ev.Kind, ev.Detail)
	}
}
