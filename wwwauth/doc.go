// Package wwwauth parses the WWW-Authenticate and Proxy-Authenticate fields
// of HTTP responses (RFC 9110 §11) and reads the parameters that OAuth 2.0
// resource servers put in them: the RFC 6750 bearer token errors, DPoP
// (RFC 9449), step-up authentication (RFC 9470), protected resource
// metadata (RFC 9728) and the Basic charset (RFC 7617).
//
//	challenges, err := wwwauth.Parse(resp.Header.Values("WWW-Authenticate")...)
//	if c, ok := wwwauth.First(challenges, wwwauth.SchemeBearer); ok &&
//		c.ErrorCode() == wwwauth.CodeInsufficientScope {
//		askFor(c.Scopes())
//	}
//
// [Parse] never gives up on a whole field because of one bad challenge: it
// returns every well-formed challenge and describes the malformed ones in a
// [*ParseError]. Its work is linear in the input, it never panics, and it
// does not copy the input except to unescape quoted-pairs. The package has
// no dependency beyond the standard library and is safe for concurrent use.
package wwwauth
