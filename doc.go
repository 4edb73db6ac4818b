// Package authtransport is an [http.RoundTripper] that authorizes requests
// with OAuth 2.0 access tokens and keeps them working: it attaches the token
// to the origins it belongs to, refreshes it before it expires, refreshes it
// once when a resource server rejects it, resends the request once (and
// once more for a DPoP nonce), and
// tells the application, with a typed error, when only the user can help.
//
//	client := &http.Client{Transport: &authtransport.Transport{
//		Store:     authtransport.NewMemoryStore(tok),
//		Refresher: authtransport.NewOAuth2Refresher(cfg),
//	}}
//
// # Request flow
//
// [Transport.RoundTrip] takes these steps:
//
//  1. A request that is not for one of the token's origins, goes over plain
//     http:// to a host that is not loopback, or already carries an
//     Authorization field is sent to Base untouched.
//  2. The current token is read without a lock. If it is missing, expired,
//     or inside the refresh margin, the caller joins the single refresh
//     flight (see Concurrency).
//  3. A copy of the request with the token attached goes to Base.
//  4. A 401 or 403 is read through its WWW-Authenticate challenges
//     ([ParseChallenges]): error="insufficient_scope" (RFC 6750) and
//     error="insufficient_user_authentication" (RFC 9470) end in a
//     [*LoginRequiredError]; a DPoP error="use_dpop_nonce" is answered
//     with the new nonce; any other 401 with a Bearer or DPoP challenge, or
//     with none, means the token was rejected. A 401 whose challenges are
//     all of other schemes (a proxy's Basic, say) and a 403 without those
//     errors are returned to the caller as they are.
//  5. After a rejection the token is refreshed, unless another caller has
//     replaced it in the meantime, and the request is resent once, if its
//     body can be replayed (no body, [http.NoBody], or GetBody). A second
//     rejection ends in a [*LoginRequiredError]; the Transport never loops.
//
// # Errors
//
// RoundTrip returns, wrapped by [http.Client] in a [*url.Error]:
//
//   - [*LoginRequiredError] (errors.Is(err, [ErrLoginRequired])) when only
//     the user can help: no token, a refresh the server refused
//     (invalid_grant and friends), still unauthorized after a refresh, more
//     scope or a step-up needed, a token file that only a new login can
//     replace ([*CorruptFileError], [*FileVersionError], [*FileModeError] as
//     its Err); its Reason says which, and it carries the status, the
//     challenges and what the server asked for. One reason needs no login:
//     [ReasonBodyNotReplayable] means the token was refreshed but the
//     request could not be resent, so sending it again works. When a
//     token is rejected right after the refresh made for it, further
//     refreshes back off (1 s doubling to 1 min, callers get a transient
//     [*RefreshError] meanwhile), so a server that refuses every token does
//     not cost a refresh token per request; the token serves the resources
//     that accept it until it is rejected.
//   - [*RefreshError] when no token could be had for now (network failure,
//     timeout, 5xx, 429, garbage or an expired token from the token
//     endpoint, a [Store] that cannot be locked or read, wrapped as Err).
//     The Transport waits for a backoff (1 s doubling to 1 min, with jitter, and at least
//     the server's Retry-After) before it asks again, and until then
//     returns the same error at once; a token that has not expired and was
//     not rejected keeps serving meanwhile.
//   - the request context's error when it ends first, and Base's errors as
//     they are.
//
// No error, log record or formatted [Token] contains an access token, a
// refresh token or a client secret.
//
// # Concurrency
//
// A Transport is safe for concurrent use. The hot path (a valid token)
// takes no lock and does no I/O. All callers that need a new token share
// one refresh (a single flight): it runs detached from any one caller's
// cancellation, bounded by RefreshTimeout (a token request already sent is
// awaited past it, so a rotated refresh token is never dropped), and each
// caller stops waiting
// when its own context ends (or after about three times RefreshTimeout —
// lock wait, refresh, save — should a Refresher ignore its context). Refreshes are generation-checked: a request
// rejected with a token that has already been replaced uses the
// replacement and never causes a second refresh. A refresh the server
// refused is not repeated for the same stored token for five minutes; a
// new stored token (the user logged in again) is used at once. A refreshed
// token that the store fails to save (after three tries) is kept in memory
// and saved again on the next refresh, so this Transport presents its
// refresh token, not the spent one; other processes only see the store,
// so such a failure is logged at error level to Transport.Logger.
//
// When the [Store] is a [LockingStore], such as [FileStore] or
// [MemoryStore] shared by several Transports, the refresh
// runs under its lock across processes: lock, reload, use the stored token
// if another process has already refreshed, otherwise refresh and save,
// unlock. That is what keeps a rotating refresh token from being presented
// twice (servers that detect reuse revoke the whole grant). A process
// rereads the store only when its own token is due or rejected.
//
// # DPoP
//
// With Transport.DPoP set ([NewDPoP]), a token of type DPoP is sent as
// "Authorization: DPoP" with a fresh RFC 9449 proof per request (jti, htm,
// htu without query, iat, ath, and the server's nonce), and the Refresher's
// token requests carry a proof too, so the tokens are bound to the key.
// Nonces from every response to a request with a proof, 200s included,
// are remembered per origin. A
// 401 use_dpop_nonce is resent once with the new nonce without a refresh,
// and a token endpoint's 400 use_dpop_nonce once too; with a refresh, a
// request is resent at most twice. invalid_dpop_proof refreshes once, since
// a token bound to another key is the one case a refresh fixes; if the
// refreshed token's proof is refused too, the caller gets the 401 and that
// token is not refreshed again for it. Without Transport.DPoP, a DPoP token
// is never sent as a bearer token: the request fails with
// [ErrDPoPNotConfigured].
//
// # Security
//
// By default a token goes only to the origin (scheme, host, port) of the
// request it was attached to; when an [http.Client] follows a redirect to
// another origin the Transport sees it (through Request.Response) and sends
// no credentials there. Transport.Origins lists the origins explicitly.
// Tokens never go over plain http:// except to loopback addresses unless
// AllowInsecureHTTP is set. [Token] redacts its secrets in every fmt verb
// and in log/slog. [FileStore] writes its file with mode 0600 and refuses
// to read one that others can read.
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
