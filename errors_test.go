package authtransport

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/d5c4ca72/authtransport/wwwauth"
)

func TestErrorMessages(t *testing.T) {
	cases := []struct {
		err  error
		want string
	}{
		{&LoginRequiredError{Reason: ReasonNoToken}, "authtransport: login required: no token"},
		{&LoginRequiredError{Reason: ReasonInsufficientScope, StatusCode: 403, Challenge: challenge(`Bearer error="insufficient_scope", scope="a b"`)}, "authtransport: login required: insufficient scope (status 403): scope a b"},
		{&LoginRequiredError{Reason: ReasonStepUp, StatusCode: 401, Challenge: challenge(`Bearer error="insufficient_user_authentication", acr_values="mfa", max_age=60`)}, "authtransport: login required: stronger authentication required (status 401): acr_values mfa: max_age 60"},
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

// challenge parses one challenge.
func challenge(h string) wwwauth.Challenge {
	cs, err := wwwauth.Parse(h)
	if err != nil || len(cs) != 1 {
		panic("bad test challenge " + h)
	}
	return cs[0]
}
