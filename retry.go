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
)

// verdict is the decision on a 401 or 403 response and what it rests on.
type verdict struct {
	action     action
	reason     Reason // for actionLogin
	status     int
	challenges []Challenge
	decisive   Challenge // the challenge that decided, if any
}

// readVerdict decides what to do with a 401 or 403 response from its status
// and its WWW-Authenticate challenges (RFC 9110 §11.6.1):
//   - error="insufficient_scope" (RFC 6750 §3.1): ask for more scope;
//   - error="insufficient_user_authentication" (RFC 9470): step up;
//   - any other 401: the token was rejected, refresh and resend;
//   - any other 403: the server understood the token and refuses the
//     request; the caller gets the response.
//
// Malformed challenges are skipped; the well-formed ones still count.
func readVerdict(resp *http.Response) verdict {
	chs, _ := ParseChallenges(resp.Header.Values("WWW-Authenticate")...)
	v := verdict{status: resp.StatusCode, challenges: chs}
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
		}
		if v.decisive.Scheme == "" {
			v.decisive = c
		}
	}
	if resp.StatusCode == http.StatusUnauthorized {
		v.action = actionRefresh
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

// authorized returns a shallow copy of req with body and the token's
// Authorization field. The header map is copied; nothing of req changes.
func authorized(req *http.Request, body io.ReadCloser, cur *current) *http.Request {
	r2 := new(http.Request)
	*r2 = *req
	r2.Body = body
	r2.Header = headerWith(req.Header, "Authorization", cur.auth)
	return r2
}

// headerWith returns a copy of h with key set to value, in two allocations
// beside the map: all values share one backing array.
func headerWith(h http.Header, key, value string) http.Header {
	n := 1
	for _, vv := range h {
		n += len(vv)
	}
	backing := make([]string, n)
	h2 := make(http.Header, len(h)+1)
	for k, vv := range h {
		if vv == nil {
			h2[k] = nil
			continue
		}
		m := copy(backing, vv)
		h2[k] = backing[:m:m]
		backing = backing[m:]
	}
	backing[0] = value
	h2[key] = backing[:1:1]
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
	_, _ = io.CopyN(io.Discard, resp.Body, maxDrain)
	_ = resp.Body.Close()
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
}
