// Package authtransport is an [http.RoundTripper] that authorizes requests
// with OAuth 2.0 access tokens and keeps them working: it attaches the token
// to the origins it belongs to, refreshes it in the background before it is
// due, refreshes it once when a resource server rejects it, resends the
// request once (and once more for a DPoP nonce), and tells the application,
// with a typed error, when only the user can help.
//
//	client := &http.Client{Transport: &authtransport.Transport{
//		Store:     authtransport.NewMemoryStore(tok),
//		Refresher: authtransport.NewOAuth2Refresher(cfg),
//	}}
//
// Related packages: [github.com/d5c4ca72/authtransport/filestore] keeps the
// token in a file shared by the processes of a user,
// [github.com/d5c4ca72/authtransport/wwwauth] parses WWW-Authenticate
// challenges, and [github.com/d5c4ca72/authtransport/authtest] is a loopback
// authorization server for tests.
//
// # Request flow
//
// [Transport.RoundTrip] takes these steps:
//
//  1. A request that is not for one of the token's origins (a redirect to
//     another origin included), goes over plain http:// to a host that is
//     not loopback, or already carries an Authorization field (in any
//     spelling of the name) is sent to Base untouched. An [Event] of kind
//     [EventNoCredentials] says why.
//  2. The current token is read without a lock. If it is usable it is
//     attached; once it is inside its refresh-ahead window the first such
//     request starts one refresh in the background and every request goes
//     on with the current token. If it is missing, expired or due (see
//     RefreshMargin), the request waits for the single refresh (see
//     Concurrency).
//  3. A copy of the request with the token attached goes to Base.
//  4. A 401 or 403 is read through its WWW-Authenticate challenges:
//     error="insufficient_scope" (RFC 6750) and
//     error="insufficient_user_authentication" (RFC 9470) end in a
//     [*LoginRequiredError]; a DPoP error="use_dpop_nonce" is answered
//     with the new nonce; any other 401 with a Bearer or DPoP challenge, or
//     with none, means the token was rejected. A 401 whose challenges are
//     all of other schemes (a proxy's Basic, say) and a 403 without those
//     errors are returned to the caller as they are.
//  5. After a rejection a new token is obtained, unless another caller has
//     replaced it in the meantime (then the request is resent with that
//     one), and the request is resent once, if its body can be replayed
//     (no body, [http.NoBody], or GetBody); otherwise RoundTrip returns
//     [ErrBodyNotReplayable]. A rejection of the resent request ends in a
//     [*LoginRequiredError]; the Transport never loops.
//
// Refreshes that rejections ask for are spaced, whatever their outcome: a
// pool of servers of which one rejects every token must not cost a refresh
// token per request. Within the spacing the rejected request gets the 401
// as it is (with an [EventRefreshLimited]) and the token goes on serving
// the servers that accept it. docs/DESIGN.md gives the numbers.
//
// # Errors
//
// RoundTrip returns, wrapped by [http.Client] in a [*url.Error]:
//
//   - [*LoginRequiredError] (errors.Is(err, [ErrLoginRequired])) when the
//     user must log in, step up or grant more scope: its Reason says which
//     ([ReasonNoToken], [ReasonRefreshRejected],
//     [ReasonRejectedAfterRefresh], [ReasonInsufficientScope],
//     [ReasonStepUp]), its Challenge what the server asked for, its Err
//     the cause (such as the [Store]'s reason for having no usable token:
//     a corrupt token file, say).
//   - [*RefreshError] when no token could be obtained for now (network
//     failure, timeout, 5xx, 429, an answer that is not a usable token, a
//     [Store] that cannot be locked or read), or when the token endpoint
//     refused the client itself (Terminal: a client-credentials grant
//     whose secret is refused has no user to log in). The Transport waits
//     for a backoff (at least the server's Retry-After) before it asks
//     again, returns the same error at once until then, and meanwhile a
//     token that has not expired and was not rejected keeps serving.
//   - [ErrNoRefresher] when a new token is needed and the Transport has
//     no Refresher; [ErrBodyNotReplayable] as described above;
//     [ErrDPoPNotConfigured] for a DPoP token without a DPoP key.
//   - the request context's error when it ends first, and Base's errors as
//     they are.
//
// [Transport.Forget] drops the cached token and failures (after a client
// secret was rotated, say); [Transport.Logout] also removes the stored
// token.
//
// # Concurrency
//
// A Transport is safe for concurrent use. The hot path (a usable token)
// takes no lock and does no I/O. All callers that need a new token share
// one refresh (a single flight), which runs on a goroutine of its own,
// detached from any one caller's cancellation and bounded by
// RefreshTimeout (a token request already sent is awaited past it, so a
// rotated refresh token is never dropped); each caller stops waiting when
// its own context ends (or after about three times RefreshTimeout, should
// a Refresher or Store ignore its context). No goroutine outlives its
// refresh, and nothing runs while the Transport is idle. Refreshes are
// generation-checked: a request rejected with a token that has already
// been replaced uses the replacement and never causes a second refresh. A
// refresh the token endpoint refused is not repeated for the same stored
// token for a while; a new stored token (the user logged in again) is used
// at once. A refreshed token that the store fails to save is kept in memory
// and saved again by the next refresh, so this Transport never presents a
// spent refresh token.
//
// When the [Store] is a [LockingStore], such as a filestore.Store or a
// [MemoryStore] shared by several Transports, refreshes run under its lock
// across processes: reload, use the stored token if another process has
// already refreshed, otherwise refresh and save. A stored token that is
// still good is loaded without the lock. That is what keeps a rotating
// refresh token from being presented twice (servers that detect reuse
// revoke the whole grant). A token carries when it was obtained
// ([Token.ObtainedAt]), so a process that starts uses a short-lived token
// that another process has just obtained instead of refreshing it again.
//
// A panic in a Refresher, Store, OnEvent, Logger, GetBody or DPoP key is
// recovered and becomes an error (or nothing, where the request can go on).
//
// # DPoP
//
// With Transport.DPoP set ([NewDPoP]), a token of type DPoP is sent as
// "Authorization: DPoP" with a fresh RFC 9449 proof per request (jti, htm,
// htu without query, iat, ath, and the server's nonce), and the Refresher's
// token requests carry a proof too, so the tokens are bound to the key.
// Nonces from every response to a request with a proof, 200s included, are
// remembered per origin. A 401 use_dpop_nonce is resent once with the new
// nonce without a refresh, and a token endpoint's 400 use_dpop_nonce once
// too; with a refresh, a request is resent at most twice.
// invalid_dpop_proof refreshes once, since a token bound to another key is
// the one case a refresh fixes; if the refreshed token's proof is refused
// too, the caller gets the 401 and that token is not refreshed again for
// it. Without Transport.DPoP, a DPoP token is never sent as a bearer token.
//
// # Security
//
// By default a token goes only to the origin (scheme, host, port) of the
// request it was attached to: when an [http.Client] follows a redirect to
// another origin the Transport sees it (through Request.Response) and sends
// no credentials there, and a redirected request whose first request it
// cannot see gets none either. Transport.Origins lists the origins
// explicitly. Credentials never go over plain http:// except to loopback
// addresses unless AllowInsecureHTTP is set, to resource servers and to the
// token endpoint alike, and token requests follow no redirect, so a
// refresh token or client secret goes only to the token endpoint's origin.
//
// No error, event, log record, formatted [Token] or [DPoP] contains an
// access token, a refresh token, a client secret or a private key. When a
// server echoes one back (in error_description, in a field the JSON
// decoder quotes, in a challenge), the Transport, which knows them,
// replaces it in every form it may take: raw, URL- or JSON-escaped,
// quoted, and the base64 of client_id:client_secret. Secrets shorter than
// six bytes are not looked for, and a Refresher of the user's own only
// makes its tokens known, not its client secret.
//
// # Beyond the RoundTripper contract
//
// [http.RoundTripper] asks implementations not to handle authentication or
// retries. This Transport does both on purpose, and keeps the rest of the
// contract: it never modifies the caller's request (it sends shallow copies
// with their own header maps), closes the request body on every path,
// replays a body only through GetBody, never returns a response together
// with an error, and drains and closes every response it discards (at most
// 64 KiB is read).
package authtransport
