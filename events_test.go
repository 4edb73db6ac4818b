package authtransport_test

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d5c4ca72/authtransport"
	"github.com/d5c4ca72/authtransport/authtest"
)

// captureHandler keeps the records a slog.Logger makes.
type captureHandler struct {
	mu      sync.Mutex
	records []string // level, message and attributes of each record
}

func (h *captureHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *captureHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *captureHandler) WithGroup(string) slog.Handler            { return h }

func (h *captureHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Level.String() + " " + r.Message)
	r.Attrs(func(a slog.Attr) bool {
		b.WriteString(" " + a.Key + "=" + a.Value.String())
		return true
	})
	h.mu.Lock()
	h.records = append(h.records, b.String())
	h.mu.Unlock()
	return nil
}

func (h *captureHandler) lines() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.records...)
}

// Every event reaches OnEvent and, as one record at its level, the Logger:
// a refresh, a rejection and resend, a refused refresh, a request without
// credentials.
func TestEventsAndLogRecords(t *testing.T) {
	srv := authtest.NewServer()
	defer srv.Close()
	h := &captureHandler{}
	var mu sync.Mutex
	var kinds []authtransport.EventKind
	tr := &authtransport.Transport{
		Base:      srv.Client().Transport,
		Store:     authtransport.NewMemoryStore(srv.NewExpiredToken()),
		Refresher: authtransport.NewOAuth2Refresher(srv.Config()),
		Logger:    slog.New(h),
		OnEvent: func(ev authtransport.Event) {
			mu.Lock()
			kinds = append(kinds, ev.Kind)
			mu.Unlock()
		},
	}
	c := &http.Client{Transport: tr}
	do := func(url string) {
		resp, err := c.Get(url)
		if err == nil {
			resp.Body.Close()
		}
	}
	do(srv.ResourceURL("items")) // expired: a refresh
	srv.RevokeAccessTokens()
	do(srv.ResourceURL("items")) // rejected: a refresh and a resend
	srv.RevokeGrant()
	do(srv.ResourceURL("items"))       // rejected, the refresh refused: login required
	do("http://api.example.com/plain") // no credentials over plain http (fails to connect: fine)

	assert.Equal(t, []authtransport.EventKind{
		authtransport.EventRefreshStarted, authtransport.EventRefreshSucceeded,
		authtransport.EventRequestRejected, authtransport.EventRefreshStarted, authtransport.EventRefreshSucceeded, authtransport.EventResent,
		authtransport.EventRequestRejected, authtransport.EventRefreshStarted, authtransport.EventRefreshFailed, authtransport.EventLoginRequired,
		authtransport.EventNoCredentials,
	}, kinds, "events in order")
	lines := h.lines()
	require.Len(t, lines, len(kinds), "one record per event: %q", lines)
	for i, want := range []string{
		"INFO authtransport: refresh started",
		"INFO authtransport: refresh succeeded duration=",
		"INFO authtransport: request rejected status=401 detail=Bearer invalid_token",
		"INFO authtransport: refresh started",
		"INFO authtransport: refresh succeeded",
		"INFO authtransport: request resent detail=refreshed",
		"INFO authtransport: request rejected status=401",
		"INFO authtransport: refresh started",
		"WARN authtransport: refresh failed detail=terminal duration=",
		"WARN authtransport: login required status=401 reason=refresh rejected by the authorization server",
		"DEBUG authtransport: request sent without credentials detail=plain-http",
	} {
		assert.True(t, strings.HasPrefix(lines[i], want), "record %d: want %q..., got %q", i, want, lines[i])
	}
	for _, l := range lines {
		assert.NotContains(t, l, srv.ClientSecret)
	}
}
