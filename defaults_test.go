package authtransport_test

import (
	"context"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d5c4ca72/authtransport"
)

// The Refresher's context carries the refresh budget as its deadline:
// DefaultRefreshTimeout (30 s, as the README says) when RefreshTimeout is
// zero or negative, else RefreshTimeout.
func TestRefreshBudgetIsTheRefreshersDeadline(t *testing.T) {
	assert.Equal(t, 30*time.Second, authtransport.DefaultRefreshTimeout, "the documented default")
	tests := []struct {
		timeout, want time.Duration
	}{
		{0, authtransport.DefaultRefreshTimeout},
		{-time.Second, authtransport.DefaultRefreshTimeout},
		{7 * time.Second, 7 * time.Second},
	}
	for _, tt := range tests {
		synctest.Test(t, func(t *testing.T) {
			a := newAPI()
			var budget time.Duration
			ref := authtransport.RefresherFunc(func(ctx context.Context, _ *authtransport.Token) (*authtransport.Token, error) {
				deadline, ok := ctx.Deadline()
				require.True(t, ok, "the Refresher's context has a deadline")
				budget = time.Until(deadline)
				a.accept("new", true)
				return valid("new"), nil
			})
			tr := &authtransport.Transport{Base: a, Store: authtransport.NewMemoryStore(expired()), Refresher: ref, RefreshTimeout: tt.timeout}
			_, err := get(t, &http.Client{Transport: tr}, context.Background())
			require.NoError(t, err)
			assert.Equal(t, tt.want, budget, "RefreshTimeout %v", tt.timeout)
		})
	}
}

// A token is due DefaultRefreshMargin (one minute) before its expiry when
// RefreshMargin is zero, RefreshMargin before it when positive, and only
// at its expiry when negative. Refresh-ahead is off, so that being due is
// what starts the refresh.
func TestRefreshMarginSetsWhenATokenIsDue(t *testing.T) {
	assert.Equal(t, time.Minute, authtransport.DefaultRefreshMargin, "the documented default")
	tests := []struct {
		margin time.Duration
		due    time.Duration // before expiry
	}{
		{0, time.Minute},
		{5 * time.Minute, 5 * time.Minute},
		{-time.Second, 0},
	}
	for _, tt := range tests {
		synctest.Test(t, func(t *testing.T) {
			a := newAPI("at")
			r := &countingRefresher{api: a}
			tok := &authtransport.Token{AccessToken: "at", RefreshToken: "rt", Expiry: time.Now().Add(time.Hour), ObtainedAt: time.Now()}
			tr := &authtransport.Transport{Base: a, Store: authtransport.NewMemoryStore(tok), Refresher: r,
				RefreshMargin: tt.margin, DisableRefreshAhead: true}
			c := &http.Client{Transport: tr}
			time.Sleep(time.Hour - tt.due - time.Second)
			_, err := get(t, c, context.Background())
			require.NoError(t, err)
			assert.Zero(t, r.calls.Load(), "margin %v: a second before the token is due, no refresh", tt.margin)
			time.Sleep(time.Second)
			if tt.due == 0 {
				time.Sleep(time.Nanosecond) // expired, not only at its expiry
			}
			_, err = get(t, c, context.Background())
			require.NoError(t, err)
			assert.Equal(t, int32(1), r.calls.Load(), "margin %v: once due, one refresh", tt.margin)
		})
	}
}
