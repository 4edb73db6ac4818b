package authtransport

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/d5c4ca72/authtransport/wwwauth"
)

// attempt is what one request carries: a token, or a Basic credential,
// or neither (an API key alone, which send adds to every attempt).
type attempt struct {
	g     *gen   // the token, when the request carries one
	basic string // the Basic Authorization value, when it carries Basic
}

// tok returns the token a carries, or nil.
func (a attempt) tok() *Token {
	if a.g == nil {
		return nil
	}
	return a.g.tok
}

// send attaches a's credentials and the API key to a copy of req with body
// (with a fresh DPoP proof when the token is of type DPoP), sends it through
// Base, and remembers the DPoP nonce of the answer. body is closed on every
// path.
func (t *Transport) send(req *http.Request, body io.ReadCloser, a attempt, su *setup) (*http.Response, error) {
	var auth, proof string
	switch {
	case a.g != nil && t.proves(a.g):
		method := req.Method
		if method == "" {
			method = http.MethodGet // as net/http reads an empty Method
		}
		p, err := t.DPoP.proof(method, req.URL, req.Host, a.g.tok.AccessToken, time.Now())
		if err != nil {
			closeBody(body)
			return nil, err
		}
		auth, proof = a.g.auth, p
	case a.g != nil && a.g.tok.Type() == wwwauth.SchemeDPoP:
		closeBody(body)
		return nil, ErrDPoPNotConfigured
	case a.g != nil:
		auth = a.g.auth
	default:
		auth = a.basic
	}
	r2 := authorized(req, body, auth, proof, su.creds)
	resp, err := t.base().RoundTrip(r2)
	if err != nil {
		// Base's errors may quote what went out (the URL with a key in
		// the query), or what a server echoed of the credentials.
		return nil, scrubError(err, t.secretsOf(a.tok()))
	}
	if proof != "" {
		t.DPoP.observe(req.URL, resp)
	}
	// The caller sees its own request, not the copy with the credentials.
	resp.Request = req
	if c := su.creds; c != nil && c.keyQuery != "" {
		hideQueryKey(resp, c)
	}
	return resp, nil
}

// hideQueryKey keeps an API key sent in the query out of what http.Client
// sees of resp: a redirect whose Location carries the key (a server that
// kept the query) loses it there, so that http.Client's next request, and
// its errors, name a URL without it; the Transport adds the key again to a
// request it may go with.
func hideQueryKey(resp *http.Response, c *staticCreds) {
	loc := resp.Header.Get("Location")
	if loc == "" || !secretsFrom(c.key).shows(loc) {
		return
	}
	u, err := url.Parse(loc)
	if err != nil {
		resp.Header.Del("Location")
		return
	}
	u.RawQuery = withoutParam(u.RawQuery, c.keyQuery)
	if secretsFrom(c.key).shows(u.String()) {
		resp.Header.Del("Location") // the key elsewhere in it: follow nothing
		return
	}
	resp.Header.Set("Location", u.String())
}

// proves reports whether requests with g carry DPoP proofs.
func (t *Transport) proves(g *gen) bool {
	return t.DPoP != nil && g.tok.Type() == wwwauth.SchemeDPoP
}

// basicFirst returns the Basic value to send to u before any challenge, if
// any: always for a Transport without tokens, and for one with tokens to an
// origin whose last challenge asked for Basic.
func (su *setup) basicFirst(u *url.URL) (string, bool) {
	c := su.creds
	if c == nil || c.basicUTF8 == "" {
		return "", false
	}
	latin1, asked := false, false
	if m := su.basicFor.Load(); m != nil {
		latin1, asked = (*m)[originOf(u)]
	}
	if su.tokens && !asked {
		return "", false
	}
	return c.basicFor(latin1), true
}

// preferBasic records whether u's origin asked for Basic (and took it in
// ISO-8859-1 only, when latin1), so that the next requests to it start
// with what it wants.
func (t *Transport) preferBasic(su *setup, u *url.URL, basic, latin1 bool) {
	o := originOf(u)
	t.mu.Lock()
	defer t.mu.Unlock()
	old := su.basicFor.Load()
	m := make(map[origin]bool)
	if old != nil {
		if was, ok := (*old)[o]; ok == basic && was == latin1 {
			return
		}
		for k, v := range *old {
			m[k] = v
		}
	}
	if basic {
		if len(m) >= maxNonceOrigins {
			clear(m)
		}
		m[o] = latin1
	} else {
		delete(m, o)
	}
	su.basicFor.Store(&m)
}

// authorized returns a shallow copy of req with body, the Authorization
// field auth (when not empty), a DPoP field when proof is not empty, and
// the API key of c, if any, in its header or query. The header map (and,
// for a key in the query, the URL) is copied; nothing of req changes.
func authorized(req *http.Request, body io.ReadCloser, auth, proof string, c *staticCreds) *http.Request {
	r2 := new(http.Request)
	*r2 = *req
	r2.Body = body
	var kv [6]string
	n := 0
	if auth != "" {
		kv[0], kv[1], n = "Authorization", auth, 2
	}
	if proof != "" {
		kv[n], kv[n+1], n = "Dpop", proof, n+2
	}
	if c != nil && c.keyHeader != "" {
		kv[n], kv[n+1], n = c.keyHeader, c.key, n+2
	}
	r2.Header = headerWith(req.Header, kv[:n]...)
	if c != nil && c.keyQuery != "" {
		u := *req.URL
		q := withoutParam(u.RawQuery, c.keyQuery)
		if q != "" {
			q += "&"
		}
		u.RawQuery = q + url.QueryEscape(c.keyQuery) + "=" + url.QueryEscape(c.key)
		r2.URL = &u
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

// withoutParam returns the query rawQuery without the pairs whose name is
// name, leaving every other byte of it as it is.
func withoutParam(rawQuery, name string) string {
	if rawQuery == "" {
		return ""
	}
	var b strings.Builder
	for pair := range strings.SplitSeq(rawQuery, "&") {
		key, _, _ := strings.Cut(pair, "=")
		if k, err := url.QueryUnescape(key); err == nil && k == name {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(pair)
	}
	return b.String()
}
