// Package login takes a user from "login required" to a working token:
// the browser login of native apps (authorization code with PKCE over a
// loopback redirect, RFC 8252), the device login of machines without a
// browser (RFC 8628), and the discovery that finds the authorization
// server from an issuer (RFC 8414) or from a protected resource's 401
// (RFC 9728).
//
//	flow := &login.Browser{Config: cfg}
//	tok, err := login.Save(ctx, store, flow.Login) // "mycli login"
//
// # Flows
//
// [Browser] and [Device] are values with exported fields whose Login
// method runs one login and returns an [*authtransport.Token], with
// ObtainedAt set; its method value has the type
// func(context.Context) (*authtransport.Token, error), for [Save] or for
// whatever runs logins. Both take the client from an [oauth2.Config]: the
// same value serves authtransport.NewOAuth2Refresher afterwards.
// A public client (no ClientSecret) names itself with client_id alone.
//
// The browser login listens on an ephemeral port of 127.0.0.1, sends the
// user's browser (through Browser.Open, [OpenBrowser] by default) to the
// authorization endpoint with state, an S256 code challenge and, if asked,
// a resource indicator (RFC 8707), prints the URL for the user to open by
// hand, and waits for the redirect back, up to Browser.Timeout. The
// redirect must carry the login's state and, when Browser.Issuer is set,
// the right iss (RFC 9207). The browser is shown a short page saying how
// the login went.
//
// The device login shows the verification URI and the user code through
// Device.Prompt (an answer whose URI is not https, or whose text has
// control or formatting characters, is refused first) and polls the token endpoint at the server's interval,
// slowing down when asked (slow_down adds 5 s) and after failed polls. It
// is written here rather than taken from golang.org/x/oauth2, whose
// device flow sends its device authorization request without the
// caller's context (it cannot be cancelled), never authenticates a
// confidential client there, reports an expired code as the context's
// deadline, and gives up on the first poll that fails in transit where
// RFC 8628 §3.5 asks to poll less often.
//
// # Discovery
//
// [Discovery] fetches and checks metadata: [Discovery.Server] from an
// issuer, [Discovery.Resource] from a resource_metadata URL, and
// [Discovery.ForResource] the whole way from a 401 to the endpoints and
// [ServerMetadata.Config].
//
// # Errors
//
// Errors are typed, for [errors.As], and say which check failed:
// [*OAuthError] when the authorization server refuses (access_denied,
// expired_token...), [*MismatchError] when a state, iss, issuer or
// resource names someone else, [*ResponseError] for an answer outside the
// protocol, [*RedirectError] for a redirect that was not followed, and
// [ErrTimeout] when the user took too long. A failed login returns no
// token, and [Save] then leaves the store untouched. No error contains an
// access or refresh token, an authorization code, a code verifier, a
// device code or a client secret, even when a server or a broken proxy
// echoes them back (in an error description, an iss, a redirect's path,
// or bytes the transport quotes); a value shorter than 4 characters is
// too short to be told apart from the text and is left alone. URLs in
// errors have no query. An error code outside the grammar of RFC 6749
// §5.2 (printable ASCII) is a [*ResponseError], so that no terminal
// escape sequence reaches the user.
//
// # Security
//
// Requests to the authorization server use the HTTP client of the context
// (under oauth2.HTTPClient, as in the oauth2 package) or
// [http.DefaultClient], with the rules the Transport applies to token
// requests: they go over https, or plain http only to loopback unless
// AllowInsecureHTTP is set; token and device authorization requests follow
// no redirect, since they carry credentials; metadata requests follow
// redirects within the same origin only. Each request is bounded by 30
// seconds and reads at most 1 MiB. The loopback listener accepts one
// authorization response; a response with the wrong state ends the login
// (a stale or forged redirect), and no page it serves repeats what the
// server sent but an error code.
package login
