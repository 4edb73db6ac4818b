package login

import (
	"errors"
	"strconv"
	"strings"
)

// ErrTimeout is returned when the user did not finish signing in in time:
// [Browser.Timeout] passed without an authorization response, or a device
// code expired before the user approved it. errors.Is reports true for it
// also when the authorization server answered expired_token
// ([*OAuthError]).
var ErrTimeout = errors.New("login: timed out waiting for the user to sign in")

// OAuthError is the authorization server's refusal, which ends the login:
// an authorization response with an error (RFC 6749 §4.1.2.1), or an error
// answer of the token or the device authorization endpoint (RFC 6749
// §5.2, RFC 8628 §3.5), such as access_denied when the user said no,
// expired_token when a device code expired, or invalid_client.
type OAuthError struct {
	// Endpoint is the URL of the endpoint that answered, without its
	// query.
	Endpoint string
	// StatusCode is the HTTP status of the answer, or 0 for an
	// authorization response (a redirect to the loopback listener).
	StatusCode int
	// Code is the OAuth 2.0 error code.
	Code string
	// Description and URI are the server's error_description and
	// error_uri, if any, with any credential of the login they echo
	// replaced.
	Description, URI string
}

// Error describes the refusal without any credentials.
func (e *OAuthError) Error() string {
	var b strings.Builder
	b.WriteString("login: ")
	b.WriteString(e.Endpoint)
	b.WriteString(" refused the login")
	if e.StatusCode != 0 {
		b.WriteString(" (status ")
		b.WriteString(strconv.Itoa(e.StatusCode))
		b.WriteString(")")
	}
	b.WriteString(": ")
	b.WriteString(e.Code)
	if e.Description != "" {
		b.WriteString(": ")
		b.WriteString(strconv.Quote(e.Description))
	}
	return b.String()
}

// Is reports whether target is [ErrTimeout] and the code is
// expired_token.
func (e *OAuthError) Is(target error) bool {
	return target == ErrTimeout && e.Code == "expired_token"
}

// The values of [MismatchError.Field].
const (
	// FieldState is the state of an authorization response (RFC 6749
	// §10.12): it did not come from this login's request.
	FieldState = "state"
	// FieldIss is the iss of an authorization response (RFC 9207): it
	// came from another authorization server, or lacks the iss that the
	// server's metadata promises.
	FieldIss = "iss"
	// FieldIssuer is the issuer of authorization server metadata (RFC
	// 8414 §3.3): the document describes another issuer.
	FieldIssuer = "issuer"
	// FieldResource is the resource of protected resource metadata (RFC
	// 9728 §3.3): the document describes another resource.
	FieldResource = "resource"
)

// MismatchError is a value that must name who the client is talking to and
// names someone else: the login or the discovery stops there, since using
// what came with it could send the user's credentials to an attacker.
type MismatchError struct {
	// Field is the checked value: FieldState, FieldIss, FieldIssuer or
	// FieldResource.
	Field string
	// URL is where the value came from: the metadata document, or the
	// authorization endpoint for an authorization response.
	URL string
	// Want is what the value had to be (for FieldResource: the URL that
	// the metadata must describe), and Got what it was. Both are empty
	// for FieldState, whose values are not reported.
	Want, Got string
}

// Error says which check failed.
func (e *MismatchError) Error() string {
	switch e.Field {
	case FieldState:
		return "login: the authorization response does not belong to this login (state mismatch): a stale or forged redirect"
	case FieldIss:
		if e.Got == "" {
			return "login: the authorization response carries no iss, though the authorization server promises one (RFC 9207)"
		}
		return "login: the authorization response comes from issuer " + strconv.Quote(e.Got) + ", not " + strconv.Quote(e.Want) + " (RFC 9207)"
	case FieldIssuer:
		return "login: the metadata at " + e.URL + " is for issuer " + strconv.Quote(e.Got) + ", not " + strconv.Quote(e.Want) + " (RFC 8414 §3.3)"
	case FieldResource:
		return "login: the resource metadata at " + e.URL + " is for resource " + strconv.Quote(e.Got) + ", which does not cover " + strconv.Quote(e.Want) + " (RFC 9728 §3.3)"
	}
	return "login: " + e.Field + " mismatch: " + strconv.Quote(e.Got) + ", want " + strconv.Quote(e.Want)
}

// ResponseError is an answer that is not what the protocol says: a
// status without an OAuth error, a body that is not JSON or too large, a
// document that lacks a required member, or an authorization response
// with neither code nor error.
type ResponseError struct {
	// URL is what answered, without its query.
	URL string
	// StatusCode is the HTTP status, or 0.
	StatusCode int
	// Reason says what is wrong with the answer. It never quotes the
	// answer.
	Reason string
}

// Error names the URL, the status and what was wrong.
func (e *ResponseError) Error() string {
	var b strings.Builder
	b.WriteString("login: ")
	b.WriteString(e.URL)
	if e.StatusCode != 0 {
		b.WriteString(" (status ")
		b.WriteString(strconv.Itoa(e.StatusCode))
		b.WriteString(")")
	}
	b.WriteString(": ")
	b.WriteString(e.Reason)
	return b.String()
}

// RedirectError is a redirect that was not followed: requests to the
// token and device authorization endpoints follow none, since they carry
// credentials, and metadata requests follow none to another origin, since
// the document found there would speak for a server the caller did not
// name.
type RedirectError struct {
	// From is the URL that answered with the redirect and To where it
	// pointed, both without their query.
	From, To string
	// StatusCode is the redirect's status.
	StatusCode int
}

// Error names both URLs.
func (e *RedirectError) Error() string {
	return "login: " + e.From + " answered " + strconv.Itoa(e.StatusCode) + ", a redirect to " + e.To + ", which was not followed"
}
