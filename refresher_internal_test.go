package authtransport

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"
)

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		in   string
		want time.Duration
	}{
		{"empty", "", 0},
		{"seconds", "120", 2 * time.Minute},
		{"zero", "0", 0},
		{"date", now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{"date in the past", now.Add(-time.Hour).Format(http.TimeFormat), 0},
		{"negative", "-5", 0},
		{"garbage", "soon", 0},
		{"huge", "999999999", maxRetryAfter},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, retryAfter(tc.in, now))
		})
	}
}

func TestOAuth2RefresherClassifiesErrors(t *testing.T) {
	cases := []struct {
		name        string
		status      int
		body        string
		contentType string
		code        string
		terminal    bool
	}{
		{"invalid_grant", 400, `{"error":"invalid_grant","error_description":"expired"}`, "application/json", "invalid_grant", true},
		{"invalid_client", 401, `{"error":"invalid_client"}`, "application/json", "invalid_client", true},
		{"server error code", 400, `{"error":"temporarily_unavailable"}`, "application/json", "temporarily_unavailable", false},
		{"400 without a code", 400, `<html>bad</html>`, "text/html", "", true},
		{"500", 500, `oops`, "text/plain", "", false},
		{"429", 429, `slow down`, "text/plain", "", false},
		{"200 garbage", 200, `not json at all`, "application/json", "", false},
		{"200 without token", 200, `{"token_type":"Bearer"}`, "application/json", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tc.contentType)
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			r := NewOAuth2Refresher(&oauth2.Config{ClientID: "c", ClientSecret: "client-SECRET", Endpoint: oauth2.Endpoint{TokenURL: srv.URL}})
			ctx := context.WithValue(context.Background(), oauth2.HTTPClient, srv.Client())
			_, err := r.Refresh(ctx, &Token{AccessToken: "at-SECRET", RefreshToken: "rt-SECRET"})
			var re *RefreshError
			require.ErrorAs(t, err, &re)
			assert.Equal(t, tc.code, re.Code)
			assert.Equal(t, tc.terminal, re.Terminal)
			assert.NotContains(t, err.Error(), "SECRET")
		})
	}
}

func TestOAuth2RefresherKeepsRefreshToken(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"access_token":"new","token_type":"bearer","expires_in":60,"scope":"read"}`))
	}))
	defer srv.Close()
	r := NewOAuth2Refresher(&oauth2.Config{ClientID: "c", Endpoint: oauth2.Endpoint{TokenURL: srv.URL}})
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, srv.Client())
	tok, err := r.Refresh(ctx, &Token{AccessToken: "old", RefreshToken: "rt"})
	require.NoError(t, err)
	assert.Equal(t, "new", tok.AccessToken)
	assert.Equal(t, "rt", tok.RefreshToken, "kept when the server sends none")
	assert.Equal(t, "read", tok.Scope)
	assert.WithinDuration(t, time.Now().Add(time.Minute), tok.Expiry, 5*time.Second)

	_, err = r.Refresh(ctx, &Token{AccessToken: "old"})
	var lr *LoginRequiredError
	require.ErrorAs(t, err, &lr)
	assert.Equal(t, ReasonNoToken, lr.Reason)
}
