// Package authtest provides a fake OAuth 2.0 authorization server and
// protected resource for tests, in the way [net/http/httptest] provides a
// fake HTTP server.
//
// [NewServer] starts one [Server] on a loopback port, in-process. It serves
//
//   - a token endpoint at /token with the refresh_token, client_credentials,
//     authorization_code (PKCE S256) and device code (RFC 8628) grants,
//     client authentication by client_secret_basic and client_secret_post
//     for its confidential client, by client_id alone for the public
//     clients a test registers ([Server.RegisterPublicClient]), and RFC
//     6749 §5.2 errors;
//   - an authorization endpoint at /authorize that approves every valid
//     request at once and redirects to a loopback redirect URI with code,
//     state and iss (RFC 9207);
//   - a device authorization endpoint at /device_authorization, whose user
//     approves, hesitates, asks the client to slow down or denies as
//     [DeviceFlow] says;
//   - a protected resource at every path under /api/, answering 200 with a
//     small JSON body, or with a handler the test mounts ([Server.Handle]),
//     or 401/403 with RFC 6750, RFC 9449 and RFC 9470 WWW-Authenticate
//     challenges; a token issued for other resources (RFC 8707 resource
//     parameters) is refused;
//   - Protected Resource Metadata (RFC 9728) at
//     /.well-known/oauth-protected-resource (and below it, for every path
//     under /api/) and Authorization Server Metadata (RFC 8414) at
//     /.well-known/oauth-authorization-server.
//
// Everything is reached over HTTP, so other processes can share one Server.
// Tests under [testing/synctest] reach it without a socket through
// [Server.InMemoryTransport].
//
// # Knobs
//
// A test shapes the server's behaviour with methods that are safe to call
// while requests are running: access-token lifetime, refresh-token rotation
// and reuse detection, revocation of access tokens or whole grants, a
// controllable clock, required scopes and step-up authentication per path,
// arbitrary WWW-Authenticate answers per path, DPoP with or without nonces,
// the course of device logins, a wrong iss in authorization responses,
// and faults on the token and device authorization endpoints (5xx, 429
// with Retry-After, garbage, delays, connection resets, any OAuth error
// code) for the next N requests or a fraction of them.
//
// # Observing
//
// [Server.Stats] returns a copy of the counters (token requests by grant and
// outcome, refresh-token reuse, logins begun, resource requests by
// outcome), [Server.ResourceRequests] lists what each resource request
// carried, and [Server.DevicePollTimes] when each device poll came.
//
// # What it is not
//
// authtest is not an authorization server for production and offers no real
// security: it knows one confidential client and the public clients a test
// registers, keeps everything in memory, approves every authorization
// request without a user, never expires its state, and exists only to
// exercise clients. Its tokens are opaque random strings.
package authtest
