package wwwauth

import (
	"math"
	"strings"
	"time"
)

// Authentication schemes, as registered (compare them
// with [Challenge.IsScheme]).
const (
	// SchemeBearer is the OAuth 2.0 bearer token scheme (RFC 6750).
	SchemeBearer = "Bearer"
	// SchemeDPoP is the sender-constrained token scheme (RFC 9449).
	SchemeDPoP = "DPoP"
	// SchemeBasic is the user-id and password scheme (RFC 7617).
	SchemeBasic = "Basic"
)

// Error codes a resource server sends in the "error" auth-param (see
// [Challenge.ErrorCode]).
const (
	// CodeInvalidRequest means the request is malformed (RFC 6750 §3.1).
	CodeInvalidRequest = "invalid_request"
	// CodeInvalidToken means the access token is expired, revoked or
	// otherwise invalid (RFC 6750 §3.1).
	CodeInvalidToken = "invalid_token"
	// CodeInsufficientScope means the token lacks the scope the request
	// needs; the "scope" param names it (RFC 6750 §3.1).
	CodeInsufficientScope = "insufficient_scope"
	// CodeInsufficientUserAuthentication means the user's authentication is
	// too weak or too old; "acr_values" and "max_age" say what is needed
	// (RFC 9470 §3).
	CodeInsufficientUserAuthentication = "insufficient_user_authentication"
	// CodeUseDPoPNonce means the DPoP proof must carry the nonce from the
	// [HeaderDPoPNonce] response header (RFC 9449 §9).
	CodeUseDPoPNonce = "use_dpop_nonce"
	// CodeInvalidDPoPProof means the DPoP proof was rejected (RFC 9449 §7.1).
	CodeInvalidDPoPProof = "invalid_dpop_proof"
)

// HeaderDPoPNonce is the response header that carries a server-provided
// DPoP nonce (RFC 9449 §8 and §9).
const HeaderDPoPNonce = "DPoP-Nonce"

// Names of the auth-params the helpers below read.
const (
	paramRealm            = "realm"
	paramScope            = "scope"
	paramError            = "error"
	paramErrorDescription = "error_description"
	paramErrorURI         = "error_uri"
	paramAlgs             = "algs"
	paramACRValues        = "acr_values"
	paramMaxAge           = "max_age"
	paramResourceMetadata = "resource_metadata"
	paramCharset          = "charset"
)

// First returns the first of challenges whose scheme is scheme,
// compared case-insensitively, and whether there is one.
func First(challenges []Challenge, scheme string) (Challenge, bool) {
	for _, c := range challenges {
		if c.IsScheme(scheme) {
			return c, true
		}
	}
	return Challenge{}, false
}

// param returns the value of the named param, or "".
func (c Challenge) param(name string) string {
	v, _ := c.Param(name)
	return v
}

// Realm returns the "realm" param (RFC 9110 §11.5), or "".
func (c Challenge) Realm() string { return c.param(paramRealm) }

// ErrorCode returns the "error" param, such as [CodeInvalidToken], or ""
// (RFC 6750 §3, RFC 9449 §7.1, RFC 9470 §3).
func (c Challenge) ErrorCode() string { return c.param(paramError) }

// ErrorDescription returns the "error_description" param, text meant for
// developers (RFC 6750 §3), or "".
func (c Challenge) ErrorDescription() string { return c.param(paramErrorDescription) }

// ErrorURI returns the "error_uri" param, a page about the error (RFC 6750
// §3), or "".
func (c Challenge) ErrorURI() string { return c.param(paramErrorURI) }

// Scopes returns the "scope" param split on spaces (RFC 6750 §3: the scope
// the request needs, with [CodeInsufficientScope]), or nil.
func (c Challenge) Scopes() []string { return splitSpaces(c.param(paramScope)) }

// Algs returns the DPoP "algs" param split on spaces: the JWS algorithms
// the server accepts for DPoP proofs (RFC 9449 §7.1), or nil.
func (c Challenge) Algs() []string { return splitSpaces(c.param(paramAlgs)) }

// ACRValues returns the "acr_values" param split on spaces: the
// authentication context classes the server requires, in order of
// preference (RFC 9470 §3), or nil.
func (c Challenge) ACRValues() []string { return splitSpaces(c.param(paramACRValues)) }

// MaxAge returns the "max_age" param: how long ago, at most, the user may
// have authenticated (RFC 9470 §3). It reports false when the param is
// absent or not a non-negative decimal number of seconds that fits a
// [time.Duration].
func (c Challenge) MaxAge() (time.Duration, bool) {
	v, ok := c.Param(paramMaxAge)
	if !ok || v == "" {
		return 0, false
	}
	const maxSeconds = math.MaxInt64 / int64(time.Second)
	var n int64
	for i := 0; i < len(v); i++ {
		d := v[i]
		if d < '0' || d > '9' {
			return 0, false
		}
		n = n*10 + int64(d-'0')
		if n > maxSeconds {
			return 0, false
		}
	}
	return time.Duration(n) * time.Second, true
}

// ResourceMetadata returns the "resource_metadata" param: the URL of the
// protected resource's metadata (RFC 9728 §5.1), or "".
func (c Challenge) ResourceMetadata() string { return c.param(paramResourceMetadata) }

// Charset returns the Basic "charset" param, whose only defined value is
// "UTF-8" in any case (RFC 7617 §2.1), or "".
func (c Challenge) Charset() string { return c.param(paramCharset) }

// splitSpaces splits a space-delimited list (such as RFC 6749 scope),
// ignoring runs of spaces. It returns nil for a list with no items.
func splitSpaces(s string) []string {
	n := 0
	for f := range strings.SplitSeq(s, " ") {
		if f != "" {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	out := make([]string, 0, n)
	for f := range strings.SplitSeq(s, " ") {
		if f != "" {
			out = append(out, f)
		}
	}
	return out
}
