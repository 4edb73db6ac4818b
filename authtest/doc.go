// Package authtest provides a fake OAuth 2.0 authorization server and
// protected resource for tests, in the way [net/http/httptest] provides a
// fake HTTP server.
//
// [NewServer] starts one [Server] on a loopback port, in-process. It serves
//
//   - a token endpoint at /token with the refresh_token, client_credentials
//     and authorization_code (PKCE S256) grants, client authentication by
//     client_secret_basic and client_secret_post, and RFC 6749 §5.2 errors;
//   - an authorization endpoint at /authorize that approves every valid
//     request at once and redirects to a loopback redirect URI;
//   - a protected resource at every path under /api/, answering 200 with a
//     small JSON body, or 401/403 with RFC 6750, RFC 9449 and RFC 9470
//     WWW-Authenticate challenges;
//   - Protected Resource Metadata (RFC 9728) at
//     /.well-known/oauth-protected-resource and Authorization Server
//     Metadata (RFC 8414) at /.well-known/oauth-authorization-server.
//
// Everything is reached over HTTP, so other processes can share one Server.
//
// # Knobs
//
// A test shapes the server's behaviour with methods that are safe to call
// while requests are running: access-token lifetime, refresh-token rotation
// and reuse detection, revocation of access tokens or whole grants, a
// controllable clock, required scopes and step-up authentication per path,
// arbitrary WWW-Authenticate answers per path, DPoP with or without nonces,
// and faults on the token endpoint (5xx, 429 with Retry-After, garbage,
// delays, connection resets, any OAuth error code) for the next N requests
// or a fraction of them.
//
// # Observing
//
// [Server.Stats] returns a copy of the counters (token requests by grant and
// outcome, refresh-token reuse, resource requests by outcome), and
// [Server.ResourceRequests] lists what each resource request carried.
//
// # What it is not
//
// authtest is not an authorization server for production and offers no real
// security: it knows a single client, keeps everything in memory, approves
// every authorization request without a user, never expires its state, and
// exists only to exercise clients. Its tokens are opaque random strings.
package authtest
