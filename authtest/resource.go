package authtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// StepUp is what a path demands of the user's authentication (RFC 9470).
// The zero value demands nothing.
type StepUp struct {
	// ACRValues lists the acceptable authentication context classes; a
	// token whose [Grant.ACR] is not among them is rejected. Empty means
	// any.
	ACRValues []string
	// MaxAge is the longest time since the user authenticated
	// ([Grant.AuthTime]) that the path accepts. Zero means any.
	MaxAge time.Duration
}

// Rejection is a fixed answer of the protected resource, set with
// [Server.Reject], that replaces all other checks.
type Rejection struct {
	// Status is the status code; zero means 401.
	Status int
	// WWWAuthenticate holds the WWW-Authenticate field values to send, one
	// field line each, sent as given.
	WWWAuthenticate []string
	// Times is how many requests get the answer before it is removed; zero
	// means every request until [Server.ClearRejections].
	Times int
}

type rejection struct {
	Rejection
	left int
}

// RequireScope makes requests to path need a token whose scope includes
// every one of scopes; others get 403 insufficient_scope. A path ending in
// "/" covers every path below it; the longest matching path wins. No scopes
// removes the requirement.
func (s *Server) RequireScope(path string, scopes ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(scopes) == 0 {
		delete(s.scopeRules, path)
		return
	}
	s.scopeRules[path] = append([]string(nil), scopes...)
}

// RequireStepUp makes requests to path need a token whose authentication
// meets su; others get 401 insufficient_user_authentication with acr_values
// and max_age (RFC 9470). Paths match as in [Server.RequireScope]. The zero
// StepUp removes the requirement.
func (s *Server) RequireStepUp(path string, su StepUp) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(su.ACRValues) == 0 && su.MaxAge == 0 {
		delete(s.stepUpRules, path)
		return
	}
	su.ACRValues = append([]string(nil), su.ACRValues...)
	s.stepUpRules[path] = su
}

// Reject makes requests to path get the answer r, whatever they carry.
// Paths match as in [Server.RequireScope]; a later call for the same path
// replaces the earlier one.
func (s *Server) Reject(path string, r Rejection) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r.WWWAuthenticate = append([]string(nil), r.WWWAuthenticate...)
	s.rejections[path] = &rejection{Rejection: r, left: r.Times}
}

// ClearRejections removes every answer set with [Server.Reject].
func (s *Server) ClearRejections() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.rejections)
}

// matchPath returns the value of the longest key of rules that matches
// path: the path itself, or a prefix of it ending in "/".
func matchPath[V any](rules map[string]V, path string) (V, bool) {
	v, _, ok := matchPathKey(rules, path)
	return v, ok
}

func matchPathKey[V any](rules map[string]V, path string) (best V, key string, ok bool) {
	for p, v := range rules {
		if (p == path || (strings.HasSuffix(p, "/") && strings.HasPrefix(path, p))) && (!ok || len(p) > len(key)) {
			best, key, ok = v, p, true
		}
	}
	return best, key, ok
}

// resourceAnswer is what the resource decided for one request.
type resourceAnswer struct {
	status  int
	outcome string
	header  http.Header
	body    any
	info    *TokenInfo // the token of an authorized request
}

func (s *Server) serveResource(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, maxRecordedBody))

	scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	tok = strings.TrimSpace(tok)
	rr := ResourceRequest{
		Method:    r.Method,
		Path:      r.URL.Path,
		Scheme:    scheme,
		Token:     tok,
		DPoPProof: r.Header.Get("DPoP") != "",
		Body:      body,
	}
	a := s.decide(r, scheme, tok)
	rr.Status, rr.Outcome = a.status, a.outcome
	if a.info != nil && s.serveMounted(w, r, body, rr, *a.info) {
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))

	s.mu.Lock()
	s.recordLocked(rr)
	s.mu.Unlock()

	h := w.Header()
	for k, v := range a.header {
		h[k] = v
	}
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(a.status)
	if a.body != nil {
		_ = json.NewEncoder(w).Encode(a.body)
	}
}

// decide runs the resource's checks in order: forced rejection, static
// credentials where a path demands them, DPoP nonce and proof, token
// validity, scope, step-up.
func (s *Server) decide(r *http.Request, scheme, tok string) resourceAnswer {
	path := r.URL.Path
	s.mu.Lock()
	if rej, key, ok := matchPathKey(s.rejections, path); ok {
		if rej.Times > 0 {
			if rej.left--; rej.left <= 0 {
				delete(s.rejections, key)
			}
		}
		s.mu.Unlock()
		status := rej.Status
		if status == 0 {
			status = http.StatusUnauthorized
		}
		h := http.Header{}
		for _, v := range rej.WWWAuthenticate {
			h.Add("WWW-Authenticate", v)
		}
		return resourceAnswer{status: status, outcome: OutcomeRejected, header: h,
			body: map[string]string{"error": "rejected"}}
	}
	static, isStatic := matchPath(s.staticRules, path)
	dpopRequired := s.dpop.required
	s.mu.Unlock()
	if isStatic {
		return static.check(r)
	}

	isBearer := strings.EqualFold(scheme, "Bearer")
	isDPoP := strings.EqualFold(scheme, "DPoP")
	if tok == "" || (!isBearer && !isDPoP) {
		if scheme == "" {
			return s.challenge(http.StatusUnauthorized, OutcomeNoToken, "", "", false)
		}
		return s.challenge(http.StatusUnauthorized, OutcomeWrongScheme, "invalid_token", "the authorization scheme is not supported", false)
	}

	var proofJKT string
	if isDPoP {
		jkt, oerr := s.checkDPoP(r, tok)
		if oerr != nil {
			outcome := OutcomeInvalidDPoPProof
			if oerr.code == "use_dpop_nonce" {
				outcome = OutcomeUseDPoPNonce
			}
			a := s.challenge(http.StatusUnauthorized, outcome, oerr.code, oerr.description, true)
			for k, v := range oerr.header {
				a.header[k] = v
			}
			return a
		}
		if jkt == "" {
			return s.challenge(http.StatusUnauthorized, OutcomeInvalidDPoPProof, "invalid_dpop_proof", "a DPoP proof is required", true)
		}
		proofJKT = jkt
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	at, ok := s.access[tok]
	switch {
	case !ok:
		return s.challengeLocked(http.StatusUnauthorized, OutcomeUnknownToken, "invalid_token", "the access token is unknown", isDPoP, nil)
	case at.revoked || at.grant.revoked:
		return s.challengeLocked(http.StatusUnauthorized, OutcomeRevokedToken, "invalid_token", "the access token is revoked", isDPoP, nil)
	case !now.Before(at.expiry):
		return s.challengeLocked(http.StatusUnauthorized, OutcomeExpiredToken, "invalid_token", "the access token expired", isDPoP, nil)
	case at.jkt != "" && !isDPoP:
		return s.challengeLocked(http.StatusUnauthorized, OutcomeWrongScheme, "invalid_token", "the access token is DPoP-bound", true, nil)
	case at.jkt == "" && dpopRequired:
		return s.challengeLocked(http.StatusUnauthorized, OutcomeWrongScheme, "invalid_token", "a DPoP-bound access token is required", isDPoP, nil)
	case at.jkt == "" && isDPoP:
		return s.challengeLocked(http.StatusUnauthorized, OutcomeWrongScheme, "invalid_token", "the access token is not DPoP-bound", isDPoP, nil)
	case at.jkt != "" && at.jkt != proofJKT:
		return s.challengeLocked(http.StatusUnauthorized, OutcomeInvalidDPoPProof, "invalid_dpop_proof", "the proof key does not match the token", isDPoP, nil)
	case !meantFor(at.grant.resources, s.resourceID()):
		return s.challengeLocked(http.StatusUnauthorized, OutcomeWrongAudience, "invalid_token", "the access token is meant for another resource", isDPoP, nil)
	}
	if need, ok := matchPath(s.scopeRules, path); ok {
		have := strings.Fields(at.scope)
		for _, sc := range need {
			if !contains(have, sc) {
				return s.challengeLocked(http.StatusForbidden, OutcomeInsufficientScope, "insufficient_scope",
					"the access token lacks a required scope", isDPoP, []string{"scope", strings.Join(need, " ")})
			}
		}
	}
	if su, ok := matchPath(s.stepUpRules, path); ok {
		acrOK := len(su.ACRValues) == 0 || contains(su.ACRValues, at.grant.acr)
		ageOK := su.MaxAge == 0 || (!at.grant.authTime.IsZero() && now.Sub(at.grant.authTime) <= su.MaxAge)
		if !acrOK || !ageOK {
			var extra []string
			if len(su.ACRValues) > 0 {
				extra = append(extra, "acr_values", strings.Join(su.ACRValues, " "))
			}
			if su.MaxAge > 0 {
				extra = append(extra, "max_age", strconv.FormatInt(int64(su.MaxAge/time.Second), 10))
			}
			return s.challengeLocked(http.StatusUnauthorized, OutcomeStepUp, "insufficient_user_authentication",
				"a stronger or more recent authentication is required", isDPoP, extra)
		}
	}
	return resourceAnswer{status: http.StatusOK, outcome: OutcomeOK, body: map[string]any{
		"ok":     true,
		"method": r.Method,
		"path":   path,
		"scope":  at.scope,
	}, info: &TokenInfo{
		ClientID:       at.grant.clientID,
		Scope:          at.scope,
		Resources:      slices.Clone(at.grant.resources),
		ACR:            at.grant.acr,
		AuthTime:       at.grant.authTime,
		Expiry:         at.expiry,
		DPoPThumbprint: at.jkt,
	}}
}

func (s *Server) challenge(status int, outcome, code, desc string, dpop bool) resourceAnswer {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.challengeLocked(status, outcome, code, desc, dpop, nil)
}

// challengeLocked builds a rejection with an RFC 6750 Bearer challenge, or
// an RFC 9449 DPoP one when dpop is set or the server requires DPoP. extra
// holds more name, value pairs. s.mu must be held.
func (s *Server) challengeLocked(status int, outcome, code, desc string, dpop bool, extra []string) resourceAnswer {
	params := []string{"realm", Realm}
	if code != "" {
		params = append(params, "error", code, "error_description", desc)
	}
	params = append(params, extra...)
	params = append(params, "resource_metadata", s.MetadataURL())
	h := http.Header{}
	if dpop || s.dpop.required {
		h.Set("WWW-Authenticate", formatChallenge("DPoP", append([]string{"algs", "ES256"}, params...)))
	} else {
		h.Set("WWW-Authenticate", formatChallenge("Bearer", params))
	}
	body := map[string]string{"error": code, "error_description": desc}
	if code == "" {
		body = map[string]string{"error": "unauthorized"}
	}
	return resourceAnswer{status: status, outcome: outcome, header: h, body: body}
}

// formatChallenge renders scheme followed by quoted auth-params.
func formatChallenge(scheme string, params []string) string {
	var b strings.Builder
	b.WriteString(scheme)
	for i := 0; i+1 < len(params); i += 2 {
		if i == 0 {
			b.WriteString(" ")
		} else {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s=%s", params[i], quote(params[i+1]))
	}
	return b.String()
}

// quote renders v as an RFC 9110 quoted-string.
func quote(v string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, c := range []byte(v) {
		if c == '"' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	b.WriteByte('"')
	return b.String()
}
