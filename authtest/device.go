package authtest

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// DeviceCodeGrantType is the grant_type of the device authorization grant
// (RFC 8628 §3.4), under which [Stats.TokenRequests] counts its polls.
const DeviceCodeGrantType = "urn:ietf:params:oauth:grant-type:device_code"

// Defaults of [DeviceFlow].
const (
	// DefaultDeviceInterval is the polling interval a device authorization
	// sends unless [DeviceFlow.Interval] says otherwise. It is shorter
	// than the 5 s clients assume without one, so that tests are quick.
	DefaultDeviceInterval = time.Second
	// DefaultDeviceCodeLifetime is how long a device code lives unless
	// [DeviceFlow.ExpiresIn] says otherwise.
	DefaultDeviceCodeLifetime = 10 * time.Minute
)

// DeviceFlow shapes how the device authorization grant (RFC 8628) goes for
// the device codes issued after [Server.SetDeviceFlow]: the user the
// server pretends to be approves after a number of polls, or denies. The
// zero value approves at the first poll.
type DeviceFlow struct {
	// Interval is the interval sent with the device code, rounded up to
	// whole seconds. Zero means DefaultDeviceInterval; a negative one
	// sends none, so that clients wait the 5 s RFC 8628 prescribes.
	Interval time.Duration
	// ExpiresIn is how long the device code lives on the server's clock
	// ([Server.SetNow]), rounded up to whole seconds; polls after that
	// are answered expired_token. Zero means DefaultDeviceCodeLifetime.
	ExpiresIn time.Duration
	// PendingPolls is how many polls are answered authorization_pending
	// before the user decides.
	PendingPolls int
	// SlowDownPolls lists the polls (1 for the first) answered slow_down
	// instead; they do not count among PendingPolls. The server does not
	// check the client's pace: it records it ([Server.DevicePollTimes]).
	SlowDownPolls []int
	// Deny makes the user deny the request: once the pending polls are
	// over, polls are answered access_denied.
	Deny bool
}

// deviceState is the device authorization endpoint's state, guarded by
// Server.mu.
type deviceState struct {
	flow   DeviceFlow
	codes  map[string]*deviceCode // by device_code
	polls  []time.Time            // server-clock times of the polls
	faults faultState
}

func (d *deviceState) init() {
	d.codes = make(map[string]*deviceCode)
}

// deviceCode is one device authorization in progress.
type deviceCode struct {
	clientID  string
	userCode  string
	scope     string
	resources []string
	expiry    time.Time // on the server's clock
	flow      DeviceFlow
	polls     int
	pending   int  // authorization_pending answers given
	over      bool // a token was issued or the request denied
}

// SetDeviceFlow sets how the device authorization grant goes for the
// device codes issued from now on.
func (s *Server) SetDeviceFlow(f DeviceFlow) {
	f.SlowDownPolls = slices.Clone(f.SlowDownPolls)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.device.flow = f
}

// DevicePollTimes returns, in order, when the token endpoint received each
// poll of the device authorization grant, on the server's clock
// ([Server.SetNow]), so that a test can check the client's pace
// (interval, slow_down). [Server.ResetStats] clears it. The slice is a
// copy.
func (s *Server) DevicePollTimes() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.device.polls)
}

// serveDeviceAuthorization is the device authorization endpoint (RFC 8628
// §3.1): it authenticates the client as the token endpoint does and
// answers with a device code, a user code and the verification URIs.
func (s *Server) serveDeviceAuthorization(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeOAuthError(w, &oauthError{status: http.StatusMethodNotAllowed, code: "invalid_request", description: "the device authorization endpoint takes POST"})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	formErr := r.ParseForm()
	s.mu.Lock()
	fault, faulty := s.device.faults.next()
	s.mu.Unlock()
	if faulty && s.applyFault(w, r, fault, func(string) {}) {
		return
	}
	if formErr != nil {
		writeOAuthError(w, errorf("invalid_request", "the request body is not a valid form"))
		return
	}
	c, oerr := s.authenticateClient(r)
	if oerr != nil {
		writeOAuthError(w, oerr)
		return
	}
	if !validResources(r.PostForm["resource"]) {
		writeOAuthError(w, errorf("invalid_target", "a resource must be an absolute URI without a fragment"))
		return
	}

	s.mu.Lock()
	flow := s.device.flow
	lifetime := flow.ExpiresIn
	if lifetime <= 0 {
		lifetime = DefaultDeviceCodeLifetime
	}
	lifetime = roundUpSeconds(lifetime)
	dc := &deviceCode{
		clientID:  c.id,
		userCode:  userCode(),
		scope:     r.PostForm.Get("scope"),
		resources: r.PostForm["resource"],
		expiry:    s.now().Add(lifetime),
		flow:      flow,
	}
	code := randomString(32)
	s.device.codes[code] = dc
	s.stats.DeviceAuthorizations++
	s.mu.Unlock()

	verify := s.URL + "/device"
	answer := map[string]any{
		"device_code":               code,
		"user_code":                 dc.userCode,
		"verification_uri":          verify,
		"verification_uri_complete": verify + "?user_code=" + dc.userCode,
		"expires_in":                int64(lifetime / time.Second),
	}
	switch {
	case flow.Interval == 0:
		answer["interval"] = int64(DefaultDeviceInterval / time.Second)
	case flow.Interval > 0:
		answer["interval"] = int64(roundUpSeconds(flow.Interval) / time.Second)
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, answer)
}

// deviceCodeGrantLocked answers a poll of the token endpoint (RFC 8628
// §3.4, §3.5) as the code's DeviceFlow says. s.mu must be held.
func (s *Server) deviceCodeGrantLocked(req *tokenRequest) (*tokenResponse, *oauthError) {
	now := s.now()
	s.device.polls = append(s.device.polls, now)
	presented := req.form.Get("device_code")
	if presented == "" {
		return nil, errorf("invalid_request", "device_code is missing")
	}
	dc, ok := s.device.codes[presented]
	switch {
	case !ok:
		return nil, errorf("invalid_grant", "the device code is unknown")
	case dc.clientID != req.client.id:
		return nil, errorf("invalid_grant", "the device code was issued to another client")
	case dc.over:
		return nil, errorf("invalid_grant", "the device code was already used")
	case !now.Before(dc.expiry):
		return nil, errorf("expired_token", "the device code expired")
	}
	dc.polls++
	if slices.Contains(dc.flow.SlowDownPolls, dc.polls) {
		return nil, errorf("slow_down", "the client polls too often")
	}
	if dc.pending < dc.flow.PendingPolls {
		dc.pending++
		return nil, errorf("authorization_pending", "the user has not decided yet")
	}
	dc.over = true
	if dc.flow.Deny {
		return nil, errorf("access_denied", "the user denied the request")
	}
	resources, oerr := narrowResources(dc.resources, req.form["resource"])
	if oerr != nil {
		return nil, oerr
	}
	g := &grant{grantType: DeviceCodeGrantType, clientID: dc.clientID, scope: dc.scope, resources: resources,
		acr: s.loginACR, authTime: now, jkt: req.jkt}
	s.grants = append(s.grants, g)
	tok := s.issueLocked(g, dc.scope, req.jkt, req.lifetime, true)
	return responseFor(tok.AccessToken, tok.TokenType, tok.RefreshToken, dc.scope, req.lifetime), nil
}

// serveDevicePage is the verification URI. The user the server pretends to
// be approves by polling alone, so the page only says so.
func (s *Server) serveDevicePage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, "authtest: device codes are approved or denied by the server's DeviceFlow; there is nothing to enter here.")
}

// userCode returns a user code of eight letters that cannot be mistaken
// for each other (RFC 8628 §6.1), as XXXX-XXXX.
func userCode() string {
	const alphabet = "BCDFGHJKLMNPQRSTVWXZ"
	b := make([]byte, 8)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	var out strings.Builder
	for i, c := range b {
		if i == 4 {
			out.WriteByte('-')
		}
		out.WriteByte(alphabet[int(c)%len(alphabet)])
	}
	return out.String()
}

func roundUpSeconds(d time.Duration) time.Duration {
	return (d + time.Second - 1) / time.Second * time.Second
}
