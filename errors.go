package authtransport

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/d5c4ca72/authtransport/wwwauth"
)

// ErrLoginRequired matches every [*LoginRequiredError] with [errors.Is].
var ErrLoginRequired = errors.New("authtransport: login required")

// ErrNoRefresher is returned by [Transport.RoundTrip] when the token is
// missing, expired or rejected, the [Store] holds no newer one, and the
// Transport has no [Refresher] to obtain one. It is a configuration error,
// not a reason to log in again: a new login would work only until the new
// token expires.
var ErrNoRefresher = errors.New("authtransport: cannot obtain a new token: Transport has no Refresher")

// ErrBodyNotReplayable is returned by [Transport.RoundTrip] when a resource
// server rejected the token, the Transport obtained a new one, but could not
// resend the request because its body cannot be replayed (the request has
// a body and no GetBody). No login is needed: sending the request again
// uses the new token. Requests made with a []byte, bytes.Reader or
// strings.Reader body (as [http.NewRequest] makes them) can always be
// replayed.
var ErrBodyNotReplayable = errors.New("authtransport: token rejected and renewed, but the request was not resent: its body cannot be replayed; send it again")

// Reason says why a [*LoginRequiredError] was returned. Each reason asks
// the user for something different.
type Reason int

// The reasons a [Transport] sends the user to log in.
const (
	// ReasonNoToken: there is no usable token and the Refresher cannot
	// obtain one without the user: the store is empty, the token has no
	// refresh token, or the store holds a token that only a new login
	// replaces (a corrupt or unreadable token file, say; Err says what).
	ReasonNoToken Reason = iota + 1
	// ReasonRefreshRejected: the authorization server refused to refresh
	// the user's grant (invalid_grant and the like): it was revoked or it
	// expired.
	ReasonRefreshRejected
	// ReasonRejectedAfterRefresh: the resource server rejected the request
	// again after the token was refreshed and the request resent.
	ReasonRejectedAfterRefresh
	// ReasonInsufficientScope: the token lacks a scope the resource
	// requires (RFC 6750 insufficient_scope); Challenge.Scopes() names it.
	ReasonInsufficientScope
	// ReasonStepUp: the resource requires a stronger or more recent
	// authentication (RFC 9470 insufficient_user_authentication);
	// Challenge.ACRValues() and Challenge.MaxAge() say what.
	ReasonStepUp
)

var reasonText = [...]string{
	ReasonNoToken:              "no token",
	ReasonRefreshRejected:      "refresh rejected by the authorization server",
	ReasonRejectedAfterRefresh: "still unauthorized after refresh",
	ReasonInsufficientScope:    "insufficient scope",
	ReasonStepUp:               "stronger authentication required",
}

// String returns a short description of r.
func (r Reason) String() string {
	if r > 0 && int(r) < len(reasonText) {
		return reasonText[r]
	}
	return "Reason(" + strconv.Itoa(int(r)) + ")"
}

// LoginRequiredError is returned by [Transport.RoundTrip] when a request
// cannot be authorized without the user: the application should send the
// user to log in again, to step up, or to grant more scope, as Reason says.
// [errors.As] finds it through the [*url.Error] that [http.Client] wraps
// around it, and errors.Is(err, ErrLoginRequired) reports true.
//
// Its message includes the cause (Err), such as why a token file cannot be
// used, so printing the error tells the user what happened.
type LoginRequiredError struct {
	// Reason says what happened.
	Reason Reason
	// StatusCode is the resource server's status code (401 or 403), or 0
	// when no response was involved.
	StatusCode int
	// Challenge is the Bearer or DPoP challenge that decided, if any: its
	// Scopes, ACRValues, MaxAge and ResourceMetadata methods give what
	// the server asked for.
	Challenge wwwauth.Challenge
	// Challenges are all the parsed WWW-Authenticate challenges of the
	// response, if any.
	Challenges []wwwauth.Challenge
	// Err is the underlying cause, such as a [*RefreshError] or a
	// [Store]'s error, if any.
	Err error
}

// Error describes the failure without any credentials.
func (e *LoginRequiredError) Error() string {
	var b strings.Builder
	b.WriteString("authtransport: login required: ")
	b.WriteString(e.Reason.String())
	if e.StatusCode != 0 {
		b.WriteString(" (status ")
		b.WriteString(strconv.Itoa(e.StatusCode))
		b.WriteString(")")
	}
	switch e.Reason {
	case ReasonInsufficientScope:
		if s := e.Challenge.Scopes(); len(s) > 0 {
			b.WriteString(": scope ")
			b.WriteString(strings.Join(s, " "))
		}
	case ReasonStepUp:
		if acr := e.Challenge.ACRValues(); len(acr) > 0 {
			b.WriteString(": acr_values ")
			b.WriteString(strings.Join(acr, " "))
		}
		if d, ok := e.Challenge.MaxAge(); ok {
			b.WriteString(": max_age ")
			b.WriteString(strconv.FormatInt(int64(d.Seconds()), 10))
		}
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(strings.TrimPrefix(e.Err.Error(), "authtransport: "))
	}
	return b.String()
}

// Is reports whether target is [ErrLoginRequired].
func (e *LoginRequiredError) Is(target error) bool { return target == ErrLoginRequired }

// Unwrap returns Err.
func (e *LoginRequiredError) Unwrap() error { return e.Err }

// CredentialsRejectedError is returned by [Transport.RoundTrip] when a
// resource server answered 401 to a request made with static credentials
// (Transport.Basic, or Transport.APIKey without a token): there is nothing
// to refresh, the credentials must change. [errors.As] finds it through the
// [*url.Error] that [http.Client] wraps around it.
type CredentialsRejectedError struct {
	// Credential is what was refused: "Basic" or "APIKey".
	Credential string
	// StatusCode is the resource server's status code (401).
	StatusCode int
	// Challenges are the parsed WWW-Authenticate challenges of the
	// response, if any: what the server asks for instead.
	Challenges []wwwauth.Challenge
}

// Error names the refused credential and the status, never the credential.
func (e *CredentialsRejectedError) Error() string {
	return "authtransport: credentials rejected: " + e.Credential + " (status " + strconv.Itoa(e.StatusCode) + ")"
}

// RefreshError is a failed attempt to obtain a new token that a login would
// not fix: the token endpoint or the [Store] failed (network failure,
// timeout, 5xx, 429, an answer that is not a token), or it refused the
// client itself. A transient one is retried after a backoff (at least
// RetryAfter); a Terminal one is not retried for the same stored token for a
// while (see [Transport.Forget]). A refused user grant is reported as a
// [*LoginRequiredError] instead, with the RefreshError as its Err.
type RefreshError struct {
	// Code is the OAuth 2.0 error code the server sent (RFC 6749 §5.2),
	// such as "invalid_client", or empty.
	Code string
	// Description is the server's error_description, if any, with any
	// credential it echoed replaced.
	Description string
	// StatusCode is the token endpoint's HTTP status, or 0.
	StatusCode int
	// RetryAfter is how long the server asked to wait (Retry-After), or 0.
	RetryAfter time.Duration
	// Terminal reports that retrying cannot help: the client's credentials
	// or configuration must change (for example an invalid_client answer
	// to a client-credentials grant, or a token endpoint that is not
	// https).
	Terminal bool
	// Err is the underlying error, if any.
	Err error
}

// Error describes the failure without any credentials.
func (e *RefreshError) Error() string {
	var b strings.Builder
	b.WriteString("authtransport: token refresh failed")
	if e.StatusCode != 0 {
		b.WriteString(": status ")
		b.WriteString(strconv.Itoa(e.StatusCode))
	}
	if e.Code != "" {
		b.WriteString(": ")
		b.WriteString(e.Code)
	}
	if e.Description != "" {
		b.WriteString(": ")
		b.WriteString(strconv.Quote(e.Description))
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(strings.TrimPrefix(e.Err.Error(), "authtransport: "))
	}
	return b.String()
}

// Unwrap returns Err.
func (e *RefreshError) Unwrap() error { return e.Err }

// isTerminalCode reports whether a token endpoint error code (RFC 6749
// §5.2) means that retrying the same request cannot help.
func isTerminalCode(code string) bool {
	switch code {
	case "invalid_grant", "invalid_client", "unauthorized_client",
		"unsupported_grant_type", "invalid_scope", "access_denied":
		return true
	}
	return false
}
