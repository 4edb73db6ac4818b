package authtransport

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestErrorMessages(t *testing.T) {
	cases := []struct {
		err  error
		want string
	}{
		{&LoginRequiredError{Reason: ReasonNoToken}, "authtransport: login required: no token"},
		{&LoginRequiredError{Reason: ReasonInsufficientScope, StatusCode: 403, Scopes: []string{"a", "b"}}, "authtransport: login required: insufficient scope (status 403): scope a b"},
		{&LoginRequiredError{Reason: ReasonStepUp, StatusCode: 401, ACRValues: []string{"mfa"}, MaxAge: time.Minute, HasMaxAge: true}, "authtransport: login required: stronger authentication required (status 401): acr_values mfa: max_age 60"},
		{&LoginRequiredError{Reason: ReasonRefreshRejected, Err: &RefreshError{StatusCode: 400, Code: "invalid_grant"}}, "authtransport: login required: refresh rejected by the authorization server: token refresh failed: status 400: invalid_grant"},
		{&RefreshError{Err: errors.New("dial tcp: refused")}, "authtransport: token refresh failed: dial tcp: refused"},
		{&LoginRequiredError{Reason: Reason(99)}, "authtransport: login required: Reason(99)"},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.want, tc.err.Error())
	}
	assert.ErrorIs(t, &LoginRequiredError{}, ErrLoginRequired)
	assert.NotErrorIs(t, &RefreshError{}, ErrLoginRequired)
}
