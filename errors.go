package authtransport

import (
	"errors"
	"strconv"
	"strings"
	"time"
)

// ErrLoginRequired matches every [*LoginRequiredError] with [errors.Is].
var ErrLoginRequired = errors.New("authtransport: login required")

// Reason says why a [*LoginRequiredError] was returned.
type Reason int

// The reasons a [Transport] gives up on a request.
const (
	// ReasonNoToken: there is no usable token and none could be obtained:
	// none is stored and there is no refresher or no refresh token, or
	// the stored token file is one only a new login replaces (Err is then
	// a [*CorruptFileError], [*FileVersionError] or [*FileModeError]).
	ReasonNoToken Reason = iota + 1
	// ReasonRefreshRejected: the authorization server refused to refresh
	// the token (invalid_grant, invalid_client, unauthorized_client, ...).
	ReasonRefreshRejected
	// ReasonRejectedAfterRefresh: the resource server rejected the request
	// again after the token was refreshed and the request resent.
	ReasonRejectedAfterRefresh
	// ReasonBodyNotReplayable: the token was rejected and has been
	// refreshed, but the request could not be resent because its body
	// cannot be replayed (no GetBody). Sending the request again uses the
	// new token; no login is needed.
	ReasonBodyNotReplayable
	// ReasonInsufficientScope: the token lacks a scope the resource
	// requires (RFC 6750 insufficient_scope); see Scopes.
	ReasonInsufficientScope
	// ReasonStepUp: the resource requires a stronger or more recent
	// authentication (RFC 9470 insufficient_user_authentication); see
	// ACRValues and MaxAge.
	ReasonStepUp
)

var reasonText = [...]string{
	ReasonNoToken:              "no token",
	ReasonRefreshRejected:      "refresh rejected by the authorization server",
	ReasonRejectedAfterRefresh: "still unauthorized after refresh",
	ReasonBodyNotReplayable:    "token rejected and request body not replayable",
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
type LoginRequiredError struct {
	// Reason says what happened.
	Reason Reason
	// StatusCode is the resource server's status code (401 or 403), or 0
	// when no response was involved.
	StatusCode int
	// Challenges are the parsed WWW-Authenticate challenges of the last
	// response, if any.
	Challenges []Challenge
	// Scopes is what the server asked for with insufficient_scope, if any.
	Scopes []string
	// ACRValues and MaxAge are what the server asked for with
	// insufficient_user_authentication (RFC 9470), if any.
	ACRValues []string
	// MaxAge is the largest acceptable age of the user's authentication,
	// if the server named one.
	MaxAge time.Duration
	// HasMaxAge reports whether the server named a max_age.
	HasMaxAge bool
	// ResourceMetadata is the RFC 9728 resource_metadata URL from the
	// challenge, if any.
	ResourceMetadata string
	// Err is the underlying cause, such as a [*RefreshError], if any.
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
	if len(e.Scopes) > 0 {
		b.WriteString(": scope ")
		b.WriteString(strings.Join(e.Scopes, " "))
	}
	if len(e.ACRValues) > 0 {
		b.WriteString(": acr_values ")
		b.WriteString(strings.Join(e.ACRValues, " "))
	}
	if e.HasMaxAge {
		b.WriteString(": max_age ")
		b.WriteString(strconv.FormatInt(int64(e.MaxAge/time.Second), 10))
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

// RefreshError is a failed attempt to obtain a new token. A terminal one
// (the server refused the grant) reaches the caller inside a
// [*LoginRequiredError]; a transient one (network failure, timeout, 5xx,
// 429, a response that is not a token) is returned as it is, and the
// [Transport] waits RetryAfter (or a backoff) before it tries again.
type RefreshError struct {
	// Code is the OAuth 2.0 error code the server sent (RFC 6749 §5.2),
	// such as "invalid_grant", or empty.
	Code string
	// Description is the server's error_description, if any.
	Description string
	// StatusCode is the token endpoint's HTTP status, or 0.
	StatusCode int
	// RetryAfter is how long the server asked to wait (Retry-After), or 0.
	RetryAfter time.Duration
	// Terminal reports that retrying cannot help: the user must log in.
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
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns Err.
func (e *RefreshError) Unwrap() error { return e.Err }

// isTerminalCode reports whether a token endpoint error code (RFC 6749
// §5.2) means that only the user can help.
func isTerminalCode(code string) bool {
	switch code {
	case "invalid_grant", "invalid_client", "unauthorized_client",
		"unsupported_grant_type", "invalid_scope", "access_denied":
		return true
	}
	return false
}
