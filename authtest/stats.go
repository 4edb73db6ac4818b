package authtest

import (
	"maps"
	"slices"
)

// Outcomes of a token endpoint request besides the RFC 6749 error codes
// (invalid_request, invalid_client, invalid_grant, unauthorized_client,
// unsupported_grant_type, invalid_scope), the RFC 8707 one
// (invalid_target), the RFC 8628 ones (authorization_pending, slow_down,
// expired_token, access_denied) and the RFC 9449 ones (invalid_dpop_proof,
// use_dpop_nonce), which are counted under their own names.
const (
	// OutcomeOK is a request that succeeded.
	OutcomeOK = "ok"
	// OutcomeFaultStatus is a request answered by an injected [FaultStatus].
	OutcomeFaultStatus = "fault_status"
	// OutcomeFaultRateLimit is a request answered by an injected
	// [FaultRateLimit].
	OutcomeFaultRateLimit = "fault_rate_limit"
	// OutcomeFaultGarbage is a request answered by an injected
	// [FaultGarbage].
	OutcomeFaultGarbage = "fault_garbage"
	// OutcomeFaultReset is a request whose connection an injected
	// [FaultReset] reset.
	OutcomeFaultReset = "fault_reset"
	// OutcomeFaultOAuthError is a request answered by an injected
	// [FaultOAuthError].
	OutcomeFaultOAuthError = "fault_oauth_error"
	// OutcomeCanceled is a request that ended (client gone or server
	// closed) during an injected delay.
	OutcomeCanceled = "canceled"
)

// Outcomes of a protected resource request.
const (
	// OutcomeNoToken is a request without credentials (401, no error code).
	OutcomeNoToken = "no_token"
	// OutcomeUnknownToken is a request with a token the server never issued
	// (401 invalid_token).
	OutcomeUnknownToken = "unknown_token"
	// OutcomeExpiredToken is a request with an expired access token (401
	// invalid_token).
	OutcomeExpiredToken = "expired_token"
	// OutcomeRevokedToken is a request with a revoked access token or one
	// of a revoked grant (401 invalid_token).
	OutcomeRevokedToken = "revoked_token"
	// OutcomeWrongScheme is a request whose authorization scheme does not
	// fit the token: a DPoP-bound token sent as Bearer, a Bearer token when
	// DPoP is required, or an unknown scheme (401 invalid_token).
	OutcomeWrongScheme = "wrong_scheme"
	// OutcomeInsufficientScope is a request whose token lacks a scope the
	// path requires (403 insufficient_scope).
	OutcomeInsufficientScope = "insufficient_scope"
	// OutcomeStepUp is a request whose token's authentication does not meet
	// the path's acr or max_age (401 insufficient_user_authentication).
	OutcomeStepUp = "insufficient_user_authentication"
	// OutcomeWrongAudience is a request with an access token meant for
	// other resources (RFC 8707 resource parameters that do not name this
	// one; 401 invalid_token).
	OutcomeWrongAudience = "wrong_audience"
	// OutcomeBadCredentials is a request to a path that demands Basic
	// credentials or an API key ([Server.RequireBasic],
	// [Server.RequireAPIKey]) without the right ones (401).
	OutcomeBadCredentials = "bad_credentials"
	// OutcomeRejected is a request answered by a [Rejection] set with
	// [Server.Reject].
	OutcomeRejected = "rejected"
	// OutcomeInvalidDPoPProof is a request with a missing or invalid DPoP
	// proof (401 invalid_dpop_proof).
	OutcomeInvalidDPoPProof = "invalid_dpop_proof"
	// OutcomeUseDPoPNonce is a request whose DPoP proof lacks the current
	// nonce (401 use_dpop_nonce).
	OutcomeUseDPoPNonce = "use_dpop_nonce"
)

// Stats is a snapshot of a [Server]'s counters, returned by [Server.Stats].
// It is a copy: reading it needs no lock, and it does not change.
type Stats struct {
	// TokenRequests counts token endpoint requests by grant type and then
	// by outcome ([OutcomeOK], an error code, or a fault outcome). A
	// missing entry reads as zero, so
	// st.TokenRequests["refresh_token"][authtest.OutcomeOK] is always safe.
	// Requests without a supported grant_type count under the grant "other";
	// polls of the device authorization grant under [DeviceCodeGrantType].
	TokenRequests map[string]map[string]int
	// RefreshTokenReuse counts refresh requests that presented a refresh
	// token already used (retired by rotation).
	RefreshTokenReuse int
	// AuthorizationRequests counts the authorization requests that
	// /authorize approved with a code: the browser logins begun.
	AuthorizationRequests int
	// DeviceAuthorizations counts the device authorization requests
	// answered with a device code: the device logins begun.
	DeviceAuthorizations int
	// ResourceRequests counts protected resource requests by outcome
	// ([OutcomeOK] or one of the resource outcomes).
	ResourceRequests map[string]int
}

func newStats() Stats {
	return Stats{
		TokenRequests:    make(map[string]map[string]int),
		ResourceRequests: make(map[string]int),
	}
}

// Refreshes returns the number of successful refresh_token grants.
func (st Stats) Refreshes() int {
	return st.TokenRequests["refresh_token"][OutcomeOK]
}

// TokenRequestsTotal returns the number of token endpoint requests of any
// grant and outcome.
func (st Stats) TokenRequestsTotal() int {
	n := 0
	for _, m := range st.TokenRequests {
		for _, c := range m {
			n += c
		}
	}
	return n
}

// ResourceRequestsTotal returns the number of protected resource requests
// of any outcome.
func (st Stats) ResourceRequestsTotal() int {
	n := 0
	for _, c := range st.ResourceRequests {
		n += c
	}
	return n
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := Stats{
		TokenRequests:         make(map[string]map[string]int, len(s.stats.TokenRequests)),
		RefreshTokenReuse:     s.stats.RefreshTokenReuse,
		AuthorizationRequests: s.stats.AuthorizationRequests,
		DeviceAuthorizations:  s.stats.DeviceAuthorizations,
		ResourceRequests:      maps.Clone(s.stats.ResourceRequests),
	}
	for g, m := range s.stats.TokenRequests {
		out.TokenRequests[g] = maps.Clone(m)
	}
	return out
}

// ResetStats sets every counter to zero and forgets the recorded resource
// requests and device poll times.
func (s *Server) ResetStats() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats = newStats()
	s.requests = nil
	s.device.polls = nil
}

// countTokenLocked counts one token endpoint request. s.mu must be held.
func (s *Server) countTokenLocked(grantType, outcome string) {
	switch grantType {
	case "refresh_token", "client_credentials", "authorization_code", DeviceCodeGrantType:
	default:
		grantType = "other"
	}
	m := s.stats.TokenRequests[grantType]
	if m == nil {
		m = make(map[string]int)
		s.stats.TokenRequests[grantType] = m
	}
	m[outcome]++
}

// MaxRecordedRequests is how many resource requests [Server.ResourceRequests]
// keeps at most. When it is reached, the oldest tenth is dropped.
const MaxRecordedRequests = 10000

// maxRecordedBody bounds the body bytes kept per recorded request.
const maxRecordedBody = 64 << 10

// ResourceRequest is what one request to the protected resource carried and
// how the server answered it.
type ResourceRequest struct {
	// Method and Path are the request's method and URL path.
	Method, Path string
	// Scheme is the authorization scheme used ("Bearer", "DPoP"), or empty.
	Scheme string
	// Token is the access token the request carried, or empty.
	Token string
	// DPoPProof reports whether the request carried a DPoP header.
	DPoPProof bool
	// Body holds the request body, at most 64 KiB of it.
	Body []byte
	// Status is the status code of the answer.
	Status int
	// Outcome is how the server classified the request.
	Outcome string
}

// ResourceRequests returns the recorded resource requests, oldest first (at
// most [MaxRecordedRequests] of them). The slice is a copy.
func (s *Server) ResourceRequests() []ResourceRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// recordLocked counts and records one resource request. s.mu must be held.
func (s *Server) recordLocked(rr ResourceRequest) {
	s.stats.ResourceRequests[rr.Outcome]++
	if len(s.requests) >= MaxRecordedRequests {
		s.requests = slices.Delete(s.requests, 0, MaxRecordedRequests/10)
	}
	s.requests = append(s.requests, rr)
}
