package authtransport

import (
	"errors"
	"fmt"
	"io"
	"net/http"
)

// action is what the Transport does with a 401 or 403.
type action int

const (
	// actionReturn hands the response to the caller: it is not about
	// the token (a 403 without a token error, say).
	actionReturn action = iota
	// actionRefresh refreshes the token (unless another caller already
	// did) and resends the request once.
	actionRefresh
	// actionLogin gives up with a *LoginRequiredError: the user must
	// grant more scope or authenticate again.
	actionLogin
	// actionNonce resends the request once with the DPoP nonce the server
	// just sent (RFC 9449 §9), without refreshing the token.
	actionNonce
)

// verdict is the decision on a 401 or 403 response and what it rests on.
type verdict struct {
	action     action
	reason     Reason // for actionLogin
	status     int
	challenges []Challenge
	decisive   Challenge // the challenge that decided, if any
	badProof   bool      // a challenge said invalid_dpop_proof
}

// readVerdict decides what to do with a 401 or 403 response from its status
// and its WWW-Authenticate challenges (RFC 9110 §11.6.1):
//   - error="insufficient_scope" (RFC 6750 §3.1): ask for more scope;
//   - error="insufficient_user_authentication" (RFC 9470): step up;
//   - a 401 with a DPoP challenge error="use_dpop_nonce" (RFC 9449 §9) and
//     a DPoP-Nonce header: resend with that nonce;
//   - any other 401 with a Bearer or DPoP challenge, or with none: the
//     token was rejected, refresh and resend; with error="invalid_dpop_proof"
//     (RFC 9449 §7.1) badProof is set, and [Transport.proofRefused] may
//     return the response instead;
//   - a 401 whose challenges are all of other schemes: the caller gets it;
//   - any other 403: the server understood the token and refuses the
//     request; the caller gets the response.
//
// Malformed challenges are skipped; the well-formed ones still count.
func readVerdict(resp *http.Response) verdict {
	chs, _ := ParseChallenges(resp.Header.Values("WWW-Authenticate")...)
	v := verdict{status: resp.StatusCode, challenges: chs}
	useNonce := false
	for _, c := range chs {
		if !c.IsScheme(SchemeBearer) && !c.IsScheme(SchemeDPoP) {
			continue
		}
		switch c.ErrorCode() {
		case CodeInsufficientScope:
			v.action, v.reason, v.decisive = actionLogin, ReasonInsufficientScope, c
			return v
		case CodeInsufficientUserAuthentication:
			v.action, v.reason, v.decisive = actionLogin, ReasonStepUp, c
			return v
		case CodeUseDPoPNonce:
			useNonce = useNonce || c.IsScheme(SchemeDPoP)
		case CodeInvalidDPoPProof:
			v.badProof = true
		}
		if v.decisive.Scheme == "" {
			v.decisive = c
		}
	}
	// A 401 whose challenges are all for other schemes (a proxy's Basic
	// or Negotiate, say) is not about the token.
	if resp.StatusCode == http.StatusUnauthorized && (len(chs) == 0 || v.decisive.Scheme != "") {
		v.action = actionRefresh
		if useNonce && validNonce(resp.Header.Get(HeaderDPoPNonce)) {
			v.action = actionNonce
		}
	}
	return v
}

// loginError is the error for an actionLogin verdict.
func (v verdict) loginError() *LoginRequiredError {
	return v.loginErrorFor(v.reason)
}

// loginErrorFor builds a *LoginRequiredError for reason from what the
// server said.
func (v verdict) loginErrorFor(reason Reason) *LoginRequiredError {
	e := &LoginRequiredError{
		Reason:           reason,
		StatusCode:       v.status,
		Challenges:       v.challenges,
		ResourceMetadata: v.decisive.ResourceMetadata(),
	}
	switch reason {
	case ReasonInsufficientScope:
		e.Scopes = v.decisive.Scopes()
	case ReasonStepUp:
		e.ACRValues = v.decisive.ACRValues()
		e.MaxAge, e.HasMaxAge = v.decisive.MaxAge()
	}
	return e
}

// authorized returns a shallow copy of req with body, the token's
// Authorization field, and a DPoP field when proof is not empty. The header
// map is copied; nothing of req changes.
func authorized(req *http.Request, body io.ReadCloser, cur *current, proof string) *http.Request {
	r2 := new(http.Request)
	*r2 = *req
	r2.Body = body
	if proof == "" {
		r2.Header = headerWith(req.Header, "Authorization", cur.auth)
	} else {
		r2.Header = headerWith(req.Header, "Authorization", cur.auth, "Dpop", proof)
	}
	return r2
}

// headerWith returns a copy of h with each key of the pairs in kv (key,
// value, key, value...; keys in canonical form) set to its value, in two
// allocations beside the map: all values share one backing array.
func headerWith(h http.Header, kv ...string) http.Header {
	n := len(kv) / 2
	for _, vv := range h {
		n += len(vv)
	}
	backing := make([]string, n)
	h2 := make(http.Header, len(h)+len(kv)/2)
	for k, vv := range h {
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

// rewind returns a fresh copy of req's body for a resend, and false when the
// body cannot be replayed.
func rewind(req *http.Request) (io.ReadCloser, bool, error) {
	switch {
	case req.Body == nil || req.Body == http.NoBody:
		return req.Body, true, nil
	case req.GetBody == nil:
		return nil, false, nil
	}
	body, err := req.GetBody()
	if err != nil {
		return nil, false, fmt.Errorf("authtransport: rewind request body: %w", err)
	}
	if body == nil {
		return nil, false, errors.New("authtransport: rewind request body: GetBody returned nil")
	}
	return body, true, nil
}

// maxDrain bounds how much of a discarded response body is read so that its
// connection can be reused.
const maxDrain = 64 << 10

func drainAndClose(resp *http.Response) {
	if resp.Body == nil {
		return
	}
	_, _ = io.CopyN(io.Discard, resp.Body, maxDrain)
	_ = resp.Body.Close()
}

// closeBody closes a request body, which may be nil.
func closeBody(body io.ReadCloser) {
	if body != nil {
		_ = body.Close()
	}
}
