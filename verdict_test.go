package authtransport

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/d5c4ca72/authtransport/wwwauth"
)

func TestReadVerdict(t *testing.T) {
	cases := []struct {
		name       string
		status     int
		challenges []string
		nonce      string
		action     action
		reason     Reason
	}{
		{"401 invalid_token", 401, []string{`Bearer realm="api", error="invalid_token"`}, "", actionRefresh, 0},
		{"401 without challenges", 401, nil, "", actionRefresh, 0},
		{"401 with only malformed challenges", 401, []string{`,,"`}, "", actionRefresh, 0},
		{"401 from a proxy", 401, []string{`Basic realm="corp"`, `Negotiate`}, "", actionReturn, 0},
		{"401 Basic beside Bearer", 401, []string{`Basic realm="corp"`, `Bearer realm="api"`}, "", actionRefresh, 0},
		{"403 without token error", 403, nil, "", actionReturn, 0},
		{"403 insufficient_scope", 403, []string{`Bearer error="insufficient_scope", scope="a b"`}, "", actionLogin, ReasonInsufficientScope},
		{"401 insufficient_scope", 401, []string{`Bearer error="insufficient_scope", scope="a"`}, "", actionLogin, ReasonInsufficientScope},
		{"401 step-up", 401, []string{`Bearer error="insufficient_user_authentication", acr_values="mfa", max_age=300`}, "", actionLogin, ReasonStepUp},
		{"scope wins over a malformed neighbour", 403, []string{`Bearer error="insufficient_scope", scope="x"`, `Newauth realm="x" junk`}, "", actionLogin, ReasonInsufficientScope},
		{"DPoP nonce", 401, []string{`DPoP error="use_dpop_nonce"`}, "n-1", actionNonce, 0},
		{"DPoP nonce without header", 401, []string{`DPoP error="use_dpop_nonce"`}, "", actionRefresh, 0},
		{"DPoP nonce with invalid header", 401, []string{`DPoP error="use_dpop_nonce"`}, "a b", actionRefresh, 0},
		{"Bearer use_dpop_nonce is a rejection", 401, []string{`Bearer error="use_dpop_nonce"`}, "n-1", actionRefresh, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			for _, c := range tc.challenges {
				h.Add("WWW-Authenticate", c)
			}
			if tc.nonce != "" {
				h.Set(wwwauth.HeaderDPoPNonce, tc.nonce)
			}
			v := readVerdict(&http.Response{StatusCode: tc.status, Header: h})
			assert.Equal(t, tc.action, v.action, "action")
			if tc.action == actionLogin {
				e := v.loginError(v.reason, nil)
				assert.Equal(t, tc.reason, e.Reason)
				assert.Equal(t, tc.status, e.StatusCode)
			}
		})
	}
}

func TestLoginErrorCarriesWhatTheServerAskedFor(t *testing.T) {
	h := http.Header{}
	h.Add("WWW-Authenticate", `Bearer error="insufficient_user_authentication", acr_values="urn:mfa urn:hwk", max_age=120, resource_metadata="https://api.example/.well-known/oauth-protected-resource"`)
	e := readVerdict(&http.Response{StatusCode: 401, Header: h}).loginError(ReasonStepUp, nil)
	assert.Equal(t, []string{"urn:mfa", "urn:hwk"}, e.Challenge.ACRValues())
	maxAge, ok := e.Challenge.MaxAge()
	assert.True(t, ok)
	assert.Equal(t, 2*time.Minute, maxAge)
	assert.Equal(t, "https://api.example/.well-known/oauth-protected-resource", e.Challenge.ResourceMetadata())
	assert.Len(t, e.Challenges, 1)
}

func TestHeaderWith(t *testing.T) {
	h := http.Header{"Accept": {"a", "b"}, "X-Empty": nil, "Authorization": {"old"}}
	h2 := headerWith(h, "Authorization", "Bearer t", "Dpop", "proof")
	assert.Equal(t, http.Header{"Accept": {"a", "b"}, "X-Empty": nil, "Authorization": {"Bearer t"}, "Dpop": {"proof"}}, h2)
	assert.Equal(t, []string{"old"}, h["Authorization"], "the original is unchanged")
	h2["Accept"] = append(h2["Accept"], "c")
	assert.Equal(t, []string{"a", "b"}, h["Accept"], "appending to the copy does not touch the original")
}
