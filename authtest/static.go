package authtest

import (
	"crypto/subtle"
	"encoding/base64"
	"net/http"

	"github.com/d5c4ca72/authtransport"
)

// staticRule is what a path demands instead of a token: Basic credentials
// or an API key.
type staticRule struct {
	basic *authtransport.Basic
	key   *authtransport.APIKey
}

// RequireBasic makes requests to path need the Basic credentials b (RFC
// 7617, UTF-8) instead of a token; others get 401 with a challenge
// `Basic realm="authtest", charset="UTF-8"`. Paths match as in
// [Server.RequireScope]; a later call for the same path, or
// [Server.RequireAPIKey], replaces it. A zero b removes the requirement.
func (s *Server) RequireBasic(path string, b authtransport.Basic) {
	s.setStatic(path, staticRule{basic: &b}, b == authtransport.Basic{})
}

// RequireAPIKey makes requests to path need the API key k, in its header
// or query parameter, instead of a token; others get 401 without a
// challenge. Paths match as in [Server.RequireScope]; a later call for the
// same path, or [Server.RequireBasic], replaces it. A zero k removes the
// requirement.
func (s *Server) RequireAPIKey(path string, k authtransport.APIKey) {
	s.setStatic(path, staticRule{key: &k}, k == authtransport.APIKey{})
}

func (s *Server) setStatic(path string, r staticRule, remove bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if remove {
		delete(s.staticRules, path)
		return
	}
	s.staticRules[path] = r
}

// check answers a request to a path with the rule r.
func (r staticRule) check(req *http.Request) resourceAnswer {
	ok := false
	challenge := ""
	switch {
	case r.basic != nil:
		want := "Basic " + base64.StdEncoding.EncodeToString([]byte(r.basic.Username+":"+r.basic.Password))
		ok = subtle.ConstantTimeCompare([]byte(req.Header.Get("Authorization")), []byte(want)) == 1
		challenge = `Basic realm="` + Realm + `", charset="UTF-8"`
	case r.key.Header != "":
		ok = subtle.ConstantTimeCompare([]byte(req.Header.Get(r.key.Header)), []byte(r.key.Value)) == 1
	default:
		ok = subtle.ConstantTimeCompare([]byte(req.URL.Query().Get(r.key.Query)), []byte(r.key.Value)) == 1
	}
	if ok {
		return resourceAnswer{status: http.StatusOK, outcome: OutcomeOK, body: map[string]any{"ok": true, "method": req.Method, "path": req.URL.Path}}
	}
	h := http.Header{}
	if challenge != "" {
		h.Set("WWW-Authenticate", challenge)
	}
	return resourceAnswer{status: http.StatusUnauthorized, outcome: OutcomeBadCredentials, header: h, body: map[string]string{"error": "unauthorized"}}
}
