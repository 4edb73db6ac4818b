package authtransport

import (
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/d5c4ca72/authtransport/wwwauth"
)

// send attaches g's credentials to a copy of req with body (and a fresh
// DPoP proof when the token is of type DPoP), sends it through Base, and
// remembers the DPoP nonce of the answer. body is closed on every path.
func (t *Transport) send(req *http.Request, body io.ReadCloser, g *gen) (*http.Response, error) {
	var proof string
	if t.proves(g) {
		p, err := t.DPoP.proof(req.Method, req.URL, req.Host, g.tok.AccessToken, time.Now())
		if err != nil {
			closeBody(body)
			return nil, err
		}
		proof = p
	} else if g.tok.Type() == wwwauth.SchemeDPoP {
		closeBody(body)
		return nil, ErrDPoPNotConfigured
	}
	resp, err := t.base().RoundTrip(authorized(req, body, g.auth, proof))
	if err == nil && proof != "" {
		t.DPoP.observe(req.URL, resp)
	}
	return resp, err
}

// proves reports whether requests with g carry DPoP proofs.
func (t *Transport) proves(g *gen) bool {
	return t.DPoP != nil && g.tok.Type() == wwwauth.SchemeDPoP
}

// authorized returns a shallow copy of req with body, the Authorization
// field auth, and a DPoP field when proof is not empty. The header map is
// copied; nothing of req changes.
func authorized(req *http.Request, body io.ReadCloser, auth, proof string) *http.Request {
	r2 := new(http.Request)
	*r2 = *req
	r2.Body = body
	if proof == "" {
		r2.Header = headerWith(req.Header, "Authorization", auth)
	} else {
		r2.Header = headerWith(req.Header, "Authorization", auth, "Dpop", proof)
	}
	return r2
}

// headerWith returns a copy of h with each key of the pairs in kv (key,
// value, key, value...; keys in canonical form) set to its value, and any
// other spelling of those keys dropped, in two allocations beside the map:
// all values share one backing array.
func headerWith(h http.Header, kv ...string) http.Header {
	n := len(kv) / 2
	for _, vv := range h {
		n += len(vv)
	}
	backing := make([]string, n)
	h2 := make(http.Header, len(h)+len(kv)/2)
	for k, vv := range h {
		if setsKey(kv, k) {
			continue
		}
		if vv == nil {
			h2[k] = nil
			continue
		}
		m := copy(backing, vv)
		h2[k] = backing[:m:m]
		backing = backing[m:]
	}
	for i := 0; i+1 < len(kv); i += 2 {
		backing[0] = kv[i+1]
		h2[kv[i]] = backing[:1:1]
		backing = backing[1:]
	}
	return h2
}

// setsKey reports whether k is, in any spelling, one of the keys of kv.
func setsKey(kv []string, k string) bool {
	for i := 0; i < len(kv); i += 2 {
		if len(k) == len(kv[i]) && strings.EqualFold(k, kv[i]) {
			return true
		}
	}
	return false
}
