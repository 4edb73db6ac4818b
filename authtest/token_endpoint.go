package authtest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// maxFormBytes bounds the token endpoint's request body.
const maxFormBytes = 64 << 10

// oauthError is an RFC 6749 §5.2 error answer.
type oauthError struct {
	status      int // 400 unless set
	code        string
	description string
	header      http.Header // extra response headers
}

func errorf(code, description string) *oauthError {
	return &oauthError{code: code, description: description}
}

// tokenResponse is the RFC 6749 §5.1 success answer.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope,omitempty"`
}

// tokenRequest is what the handler has gathered before granting.
type tokenRequest struct {
	form     url.Values
	client   client // the authenticated client
	jkt      string // thumbprint of a valid DPoP proof, if any
	lifetime time.Duration
}

func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		s.mu.Lock()
		s.countTokenLocked("", "invalid_request")
		s.mu.Unlock()
		writeOAuthError(w, &oauthError{status: http.StatusMethodNotAllowed, code: "invalid_request", description: "the token endpoint takes POST"})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	formErr := r.ParseForm()
	grantType := r.PostForm.Get("grant_type")

	s.mu.Lock()
	fault, faulty := s.faults.next()
	delay := s.tokenDelay
	s.mu.Unlock()

	if !s.wait(r, delay) {
		s.count(grantType, OutcomeCanceled)
		panic(http.ErrAbortHandler) // drop the connection without an answer
	}
	if faulty && s.applyFault(w, r, fault, func(outcome string) { s.count(grantType, outcome) }) {
		return
	}

	resp, oerr := s.grantToken(r, formErr)
	outcome := OutcomeOK
	if oerr != nil {
		outcome = oerr.code
	}
	s.count(grantType, outcome)
	if oerr != nil {
		writeOAuthError(w, oerr)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	_ = json.NewEncoder(w).Encode(resp)
}

func (s *Server) count(grantType, outcome string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.countTokenLocked(grantType, outcome)
}

// grantToken authenticates the client, checks a DPoP proof, and runs the
// grant.
func (s *Server) grantToken(r *http.Request, formErr error) (*tokenResponse, *oauthError) {
	if formErr != nil {
		return nil, errorf("invalid_request", "the request body is not a valid form")
	}
	c, oerr := s.authenticateClient(r)
	if oerr != nil {
		return nil, oerr
	}
	jkt, oerr := s.checkDPoP(r, "")
	if oerr != nil {
		return nil, oerr
	}
	if jkt == "" && s.dpopRequired() {
		return nil, errorf("invalid_dpop_proof", "a DPoP proof is required")
	}
	req := &tokenRequest{form: r.PostForm, client: c, jkt: jkt}

	s.mu.Lock()
	defer s.mu.Unlock()
	req.lifetime = s.lifetime
	switch gt := r.PostForm.Get("grant_type"); gt {
	case "refresh_token":
		return s.refreshGrantLocked(req)
	case "client_credentials":
		return s.clientCredentialsGrantLocked(req)
	case "authorization_code":
		return s.authorizationCodeGrantLocked(req)
	case DeviceCodeGrantType:
		return s.deviceCodeGrantLocked(req)
	case "":
		return nil, errorf("invalid_request", "grant_type is missing")
	default:
		return nil, errorf("unsupported_grant_type", "the grant type is not supported")
	}
}

func (s *Server) refreshGrantLocked(req *tokenRequest) (*tokenResponse, *oauthError) {
	presented := req.form.Get("refresh_token")
	if presented == "" {
		return nil, errorf("invalid_request", "refresh_token is missing")
	}
	rt, ok := s.refresh[presented]
	if !ok {
		return nil, errorf("invalid_grant", "the refresh token is unknown")
	}
	g := rt.grant
	if !issuedTo(g.clientID, req.client) {
		return nil, errorf("invalid_grant", "the refresh token was issued to another client")
	}
	if rt.used {
		s.stats.RefreshTokenReuse++
		if s.reuseDetection {
			g.revoked = true
			return nil, errorf("invalid_grant", "the refresh token was already used; the grant is revoked")
		}
		return nil, errorf("invalid_grant", "the refresh token was already used")
	}
	if g.revoked {
		return nil, errorf("invalid_grant", "the grant is revoked")
	}
	scope, oerr := narrowScope(g.scope, req.form.Get("scope"))
	if oerr != nil {
		return nil, oerr
	}
	jkt := req.jkt
	if g.jkt != "" {
		if req.jkt != g.jkt {
			return nil, errorf("invalid_grant", "the refresh token is bound to another DPoP key")
		}
	}
	tok := s.issueLocked(g, scope, jkt, req.lifetime, s.rotate)
	if s.rotate {
		rt.used = true
	} else {
		tok.RefreshToken = presented
	}
	return responseFor(tok.AccessToken, tok.TokenType, tok.RefreshToken, scope, req.lifetime), nil
}

func (s *Server) clientCredentialsGrantLocked(req *tokenRequest) (*tokenResponse, *oauthError) {
	if req.client.public {
		return nil, errorf("unauthorized_client", "a public client cannot use the client credentials grant")
	}
	scope := req.form.Get("scope")
	g := &grant{grantType: "client_credentials", clientID: req.client.id, scope: scope, authTime: s.now(), jkt: req.jkt}
	s.grants = append(s.grants, g)
	tok := s.issueLocked(g, scope, req.jkt, req.lifetime, false)
	return responseFor(tok.AccessToken, tok.TokenType, "", scope, req.lifetime), nil
}

// narrowScope returns the scope of a refreshed token: the requested one if
// it is within the granted one, the granted one if none is requested.
func narrowScope(granted, requested string) (string, *oauthError) {
	if requested == "" {
		return granted, nil
	}
	have := strings.Fields(granted)
	for _, sc := range strings.Fields(requested) {
		if !contains(have, sc) {
			return "", errorf("invalid_scope", "the requested scope exceeds the granted scope")
		}
	}
	return requested, nil
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// responseFor builds a success answer. expires_in is rounded up to whole
// seconds and is at least 1, since clients read 0 as "no expiry".
func responseFor(access, tokenType, refresh, scope string, lifetime time.Duration) *tokenResponse {
	secs := int64((lifetime + time.Second - 1) / time.Second)
	if secs < 1 {
		secs = 1
	}
	return &tokenResponse{AccessToken: access, TokenType: tokenType, ExpiresIn: secs, RefreshToken: refresh, Scope: scope}
}

func writeOAuthError(w http.ResponseWriter, oerr *oauthError) {
	h := w.Header()
	for k, v := range oerr.header {
		h[k] = v
	}
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	status := oerr.status
	if status == 0 {
		status = http.StatusBadRequest
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": oerr.code, "error_description": oerr.description})
}
