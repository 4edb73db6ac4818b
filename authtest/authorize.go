package authtest

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// codeLifetime is how long an authorization code can be exchanged.
const codeLifetime = 10 * time.Minute

// authCode is an authorization code issued by /authorize.
type authCode struct {
	clientID    string
	redirectURI string
	challenge   string // PKCE S256 code_challenge
	scope       string
	resources   []string // RFC 8707 resource parameters
	acr         string
	authTime    time.Time
	jkt         string // dpop_jkt from the authorization request
	expiry      time.Time
	used        bool
	grant       *grant // set once exchanged
}

// SetLoginACR sets the authentication context class that a login through
// /authorize achieves. Empty (the default) means the login achieves what
// the request asked for: the first of its acr_values, or none.
func (s *Server) SetLoginACR(acr string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loginACR = acr
}

// SetAuthorizationResponseIssuer sets the iss parameter that /authorize
// adds to its redirects (RFC 9207), so that a test can check that its
// client refuses a response from another issuer. Empty (the default) sends
// the server's issuer identifier, URL.
func (s *Server) SetAuthorizationResponseIssuer(iss string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.issParam = iss
}

// serveAuthorize approves every valid authorization request at once, as if
// the user had logged in and consented, and redirects to the client's
// loopback redirect_uri with code, state and iss (RFC 9207). Requests with
// a wrong client_id or redirect_uri get a 400 page and no redirect (RFC
// 6749 §4.1.2.1); other errors are redirected.
func (s *Server) serveAuthorize(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "authtest: the authorization endpoint takes GET or POST", http.StatusMethodNotAllowed)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, "authtest: malformed authorization request", http.StatusBadRequest)
		return
	}
	q := r.Form
	if !s.knownClient(q.Get("client_id")) {
		http.Error(w, "authtest: unknown client_id", http.StatusBadRequest)
		return
	}
	redirect, ok := loopbackRedirect(q.Get("redirect_uri"))
	if !ok {
		http.Error(w, "authtest: redirect_uri must be an http URL on a loopback address", http.StatusBadRequest)
		return
	}
	reply := redirect.Query()
	if st := q.Get("state"); st != "" {
		reply.Set("state", st)
	}
	s.mu.Lock()
	iss := s.issParam
	s.mu.Unlock()
	if iss == "" {
		iss = s.URL
	}
	reply.Set("iss", iss)
	fail := func(code, desc string) {
		reply.Set("error", code)
		reply.Set("error_description", desc)
		redirect.RawQuery = reply.Encode()
		http.Redirect(w, r, redirect.String(), http.StatusFound)
	}
	switch {
	case q.Get("response_type") != "code":
		fail("unsupported_response_type", "only response_type=code is supported")
		return
	case q.Get("code_challenge") == "":
		fail("invalid_request", "PKCE is required: code_challenge is missing")
		return
	case q.Get("code_challenge_method") != "S256":
		fail("invalid_request", "code_challenge_method must be S256")
		return
	case !validResources(q["resource"]):
		fail("invalid_target", "a resource must be an absolute URI without a fragment")
		return
	}

	s.mu.Lock()
	now := s.now()
	acr := s.loginACR
	if acr == "" {
		if vals := strings.Fields(q.Get("acr_values")); len(vals) > 0 {
			acr = vals[0]
		}
	}
	code := randomString(32)
	s.codes[code] = &authCode{
		clientID:    q.Get("client_id"),
		redirectURI: q.Get("redirect_uri"),
		challenge:   q.Get("code_challenge"),
		scope:       q.Get("scope"),
		resources:   q["resource"],
		acr:         acr,
		authTime:    now,
		jkt:         q.Get("dpop_jkt"),
		expiry:      now.Add(codeLifetime),
	}
	s.stats.AuthorizationRequests++
	s.mu.Unlock()

	reply.Set("code", code)
	redirect.RawQuery = reply.Encode()
	http.Redirect(w, r, redirect.String(), http.StatusFound)
}

// loopbackRedirect parses raw and reports whether it is an http URL on a
// loopback host (127.0.0.0/8, ::1 or localhost) without a fragment, as
// RFC 8252 §7.3 describes for native apps. Any port is accepted.
func loopbackRedirect(raw string) (*url.URL, bool) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" || u.Fragment != "" || u.User != nil {
		return nil, false
	}
	host := u.Hostname()
	if host == "localhost" {
		return u, true
	}
	ip := net.ParseIP(host)
	return u, ip != nil && ip.IsLoopback()
}

func (s *Server) authorizationCodeGrantLocked(req *tokenRequest) (*tokenResponse, *oauthError) {
	presented := req.form.Get("code")
	if presented == "" {
		return nil, errorf("invalid_request", "code is missing")
	}
	c, ok := s.codes[presented]
	if !ok {
		return nil, errorf("invalid_grant", "the authorization code is unknown")
	}
	if c.used {
		// RFC 6749 §4.1.2: a code used twice revokes what it issued.
		if c.grant != nil {
			c.grant.revoked = true
		}
		return nil, errorf("invalid_grant", "the authorization code was already used")
	}
	if !s.now().Before(c.expiry) {
		return nil, errorf("invalid_grant", "the authorization code expired")
	}
	if c.clientID != req.client.id {
		return nil, errorf("invalid_grant", "the authorization code was issued to another client")
	}
	if req.form.Get("redirect_uri") != c.redirectURI {
		return nil, errorf("invalid_grant", "redirect_uri does not match the authorization request")
	}
	verifier := req.form.Get("code_verifier")
	if verifier == "" {
		return nil, errorf("invalid_request", "code_verifier is missing")
	}
	sum := sha256.Sum256([]byte(verifier))
	want := base64.RawURLEncoding.EncodeToString(sum[:])
	if len(verifier) < 43 || len(verifier) > 128 || subtle.ConstantTimeCompare([]byte(want), []byte(c.challenge)) != 1 {
		return nil, errorf("invalid_grant", "the code_verifier does not match the code_challenge")
	}
	if c.jkt != "" && req.jkt != c.jkt {
		return nil, errorf("invalid_grant", "the DPoP key does not match dpop_jkt")
	}
	resources, oerr := narrowResources(c.resources, req.form["resource"])
	if oerr != nil {
		return nil, oerr
	}
	c.used = true
	g := &grant{grantType: "authorization_code", clientID: c.clientID, scope: c.scope, resources: resources,
		acr: c.acr, authTime: c.authTime, jkt: req.jkt}
	s.grants = append(s.grants, g)
	c.grant = g
	tok := s.issueLocked(g, c.scope, req.jkt, req.lifetime, true)
	return responseFor(tok.AccessToken, tok.TokenType, tok.RefreshToken, c.scope, req.lifetime), nil
}
