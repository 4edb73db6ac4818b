package authtest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d5c4ca72/authtransport/authtest"
)

// postForm posts form to target as the public client id and decodes the
// JSON answer.
func postForm(t *testing.T, srv *authtest.Server, target string, form url.Values) (int, map[string]any) {
	t.Helper()
	resp, err := srv.Client().PostForm(target, form)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var m map[string]any
	_ = json.Unmarshal(body, &m)
	return resp.StatusCode, m
}

// deviceCode asks the device authorization endpoint for a code as the
// public client "dev".
func deviceCode(t *testing.T, srv *authtest.Server, extra url.Values) map[string]any {
	t.Helper()
	form := url.Values{"client_id": {"dev"}, "scope": {"read"}}
	for k, v := range extra {
		form[k] = v
	}
	status, m := postForm(t, srv, srv.DeviceAuthURL(), form)
	require.Equal(t, http.StatusOK, status, "device authorization: %v", m)
	return m
}

// poll polls the token endpoint once for code and returns the error code,
// or "" and the access token.
func poll(t *testing.T, srv *authtest.Server, code string) (errCode, accessToken string) {
	t.Helper()
	_, m := postForm(t, srv, srv.TokenURL(), url.Values{
		"grant_type": {authtest.DeviceCodeGrantType}, "device_code": {code}, "client_id": {"dev"},
	})
	e, _ := m["error"].(string)
	at, _ := m["access_token"].(string)
	return e, at
}

func TestDeviceAuthorizationResponse(t *testing.T) {
	srv := newServer(t)
	srv.RegisterPublicClient("dev")
	tests := []struct {
		name         string
		flow         authtest.DeviceFlow
		wantInterval any // nil when absent
		wantExpires  float64
	}{
		{"defaults", authtest.DeviceFlow{}, float64(1), 600},
		{"interval and lifetime rounded up", authtest.DeviceFlow{Interval: 1500 * time.Millisecond, ExpiresIn: 90*time.Second + time.Millisecond}, float64(2), 91},
		{"no interval", authtest.DeviceFlow{Interval: -1}, nil, 600},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv.SetDeviceFlow(tt.flow)
			m := deviceCode(t, srv, nil)
			assert.Equal(t, tt.wantInterval, m["interval"], "interval")
			assert.Equal(t, tt.wantExpires, m["expires_in"], "expires_in")
			assert.NotEmpty(t, m["device_code"])
			assert.Regexp(t, `^[B-Z]{4}-[B-Z]{4}$`, m["user_code"])
			assert.Equal(t, srv.URL+"/device", m["verification_uri"])
			assert.Equal(t, srv.URL+"/device?user_code="+m["user_code"].(string), m["verification_uri_complete"])
		})
	}
	t.Run("refusals", func(t *testing.T) {
		status, m := postForm(t, srv, srv.DeviceAuthURL(), url.Values{"client_id": {"nobody"}})
		assert.Equal(t, http.StatusUnauthorized, status)
		assert.Equal(t, "invalid_client", m["error"])
		status, m = postForm(t, srv, srv.DeviceAuthURL(), url.Values{"client_id": {"dev"}, "resource": {"/relative"}})
		assert.Equal(t, http.StatusBadRequest, status)
		assert.Equal(t, "invalid_target", m["error"])
		resp, err := srv.Client().Get(srv.DeviceAuthURL())
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	})
	t.Run("the confidential client authenticates", func(t *testing.T) {
		req, err := http.NewRequest(http.MethodPost, srv.DeviceAuthURL(), strings.NewReader(""))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(srv.ClientID, srv.ClientSecret)
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode)
	})
	t.Run("verification page", func(t *testing.T) {
		resp, err := srv.Client().Get(srv.URL + "/device")
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode)
	})
	assert.Equal(t, len(tests)+1, srv.Stats().DeviceAuthorizations, "device codes issued")
}

func TestDeviceFlowPolls(t *testing.T) {
	tests := []struct {
		name  string
		flow  authtest.DeviceFlow
		want  []string // the error code of each poll, "" for the token
		after string   // the answer to one more poll
	}{
		{"approves at once", authtest.DeviceFlow{}, []string{""}, "invalid_grant"},
		{"pending, then approves", authtest.DeviceFlow{PendingPolls: 2}, []string{"authorization_pending", "authorization_pending", ""}, "invalid_grant"},
		{"slow_down among the pending polls", authtest.DeviceFlow{PendingPolls: 3, SlowDownPolls: []int{2}},
			[]string{"authorization_pending", "slow_down", "authorization_pending", "authorization_pending", ""}, "invalid_grant"},
		{"slow_down twice", authtest.DeviceFlow{SlowDownPolls: []int{1, 2}}, []string{"slow_down", "slow_down", ""}, "invalid_grant"},
		{"denied", authtest.DeviceFlow{PendingPolls: 1, Deny: true}, []string{"authorization_pending", "access_denied"}, "invalid_grant"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t)
			srv.RegisterPublicClient("dev")
			srv.SetDeviceFlow(tt.flow)
			code := deviceCode(t, srv, nil)["device_code"].(string)
			var got []string
			var at string
			for range tt.want {
				e, tok := poll(t, srv, code)
				got = append(got, e)
				if tok != "" {
					at = tok
				}
			}
			assert.Equal(t, tt.want, got, "answers to the polls")
			e, _ := poll(t, srv, code)
			assert.Equal(t, tt.after, e, "a poll after the decision")
			if tt.want[len(tt.want)-1] == "" {
				require.NotEmpty(t, at)
				assert.Equal(t, http.StatusOK, get(t, srv, "x", "Bearer "+at).StatusCode, "the token works")
			}
			assert.Len(t, srv.DevicePollTimes(), len(tt.want)+1, "every poll is recorded")
			assert.Equal(t, len(tt.want)+1, srv.Stats().TokenRequests[authtest.DeviceCodeGrantType]["authorization_pending"]+
				srv.Stats().TokenRequests[authtest.DeviceCodeGrantType]["slow_down"]+
				srv.Stats().TokenRequests[authtest.DeviceCodeGrantType]["access_denied"]+
				srv.Stats().TokenRequests[authtest.DeviceCodeGrantType]["invalid_grant"]+
				srv.Stats().TokenRequests[authtest.DeviceCodeGrantType][authtest.OutcomeOK], "polls counted under the grant type")
		})
	}
}

func TestDeviceFlowExpiryAndBinding(t *testing.T) {
	srv := newServer(t)
	srv.RegisterPublicClient("dev")
	clock := authtest.NewClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	srv.SetNow(clock.Now)
	srv.SetDeviceFlow(authtest.DeviceFlow{ExpiresIn: time.Minute, PendingPolls: 10})

	code := deviceCode(t, srv, nil)["device_code"].(string)
	e, _ := poll(t, srv, code)
	assert.Equal(t, "authorization_pending", e)
	clock.Advance(time.Minute)
	e, _ = poll(t, srv, code)
	assert.Equal(t, "expired_token", e, "a poll once the code has expired")
	assert.Equal(t, []time.Time{clock.Now().Add(-time.Minute), clock.Now()}, srv.DevicePollTimes(), "poll times on the server's clock")

	e, _ = poll(t, srv, "made-up")
	assert.Equal(t, "invalid_grant", e, "an unknown device code")

	code = deviceCode(t, srv, nil)["device_code"].(string)
	_, m, _ := postToken(t, srv, url.Values{"grant_type": {authtest.DeviceCodeGrantType}, "device_code": {code}}, true)
	assert.Equal(t, "invalid_grant", m["error"], "another client's device code")
	_, m, _ = postToken(t, srv, url.Values{"grant_type": {authtest.DeviceCodeGrantType}}, true)
	assert.Equal(t, "invalid_request", m["error"], "no device code")

	srv.ResetStats()
	assert.Empty(t, srv.DevicePollTimes(), "ResetStats forgets the poll times")
}

func TestDeviceAuthorizationFaults(t *testing.T) {
	srv := newServer(t)
	srv.RegisterPublicClient("dev")
	srv.FailDeviceAuthorizations(1, authtest.Fault{Kind: authtest.FaultGarbage})
	resp, err := srv.Client().PostForm(srv.DeviceAuthURL(), url.Values{"client_id": {"dev"}})
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.False(t, json.Valid(body), "the answer is garbage")
	assert.Zero(t, srv.Stats().DeviceAuthorizations, "a faulted request issues no code")
	assert.Zero(t, srv.Stats().TokenRequestsTotal(), "nor counts as a token request")
	deviceCode(t, srv, nil) // the next one works
	assert.Equal(t, 1, srv.Stats().DeviceAuthorizations)
}
