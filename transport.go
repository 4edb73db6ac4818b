package authtransport

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"
)

// Defaults for the [Transport] fields left zero.
const (
	// DefaultRefreshMargin is how long before expiry requests start
	// waiting for a new token when RefreshMargin is zero.
	DefaultRefreshMargin = time.Minute
	// DefaultRefreshTimeout bounds each step of a shared refresh when
	// RefreshTimeout is zero.
	DefaultRefreshTimeout = 30 * time.Second
)

// Transport is an [http.RoundTripper] that authorizes requests with an OAuth
// 2.0 access token. It attaches the token to requests for the origins it
// belongs to, refreshes it in the background before it expires, refreshes
// it when a resource server rejects it, resends the request once (and once
// more for a DPoP nonce), and returns a [*LoginRequiredError] when only the
// user can help. See the package documentation for the request flow and its
// guarantees.
//
// The zero value is usable but has no token and no way to get one. A
// Transport is safe for concurrent use. Its fields must not change after its
// first use, and a Transport must not be copied after first use.
type Transport struct {
	// Base sends the authorized requests. If nil, [http.DefaultTransport]
	// is used.
	Base http.RoundTripper

	// Store holds the current token. If nil, an in-memory store that
	// starts empty is used. If Store is a [LockingStore], refreshes run
	// under its lock, so that processes sharing it refresh once between
	// them.
	Store Store

	// Refresher obtains a new token when the stored one is missing,
	// due or rejected. If nil, the Transport uses the tokens the Store
	// holds (another process may refresh them) and fails with
	// [ErrNoRefresher] when they run out.
	Refresher Refresher

	// Login, if not nil, logs the user in when a token is needed and the
	// Refresher cannot get one without the user (the store is empty, the
	// token has no refresh token, the grant was refused) or there is no
	// Refresher: one login for every waiting request and, when the Store
	// is a [LoginLocker] (as filestore.Store is), for every process
	// sharing it. The others wait, each until its own context ends (not
	// bounded by RefreshTimeout), and then use the new token, which is
	// saved in the Store. [LoginReason] gives the login function why it
	// was called, with the resource server's challenge when a rejection
	// led to it (for RFC 9728 discovery). A login that fails or is
	// cancelled is a [*LoginRequiredError] for every waiter, whose Err says
	// what happened, and nothing is saved; the next login is tried after a
	// backoff (1 s doubling to 1 min). Functions of the login package fit:
	// Login: (&login.Browser{...}).Login. If nil, such requests fail with
	// a *LoginRequiredError.
	Login func(ctx context.Context) (*Token, error)

	// DPoP, if not nil, proves possession of its key (RFC 9449): requests
	// with a token of type DPoP carry a fresh proof, and the Refresher's
	// token requests carry one too when it takes its HTTP client from the
	// context (as [NewOAuth2Refresher] and [NewClientCredentialsRefresher]
	// do), so that the authorization server binds the tokens to the key.
	// Nonces the servers hand out are used without a refresh. If nil,
	// tokens of type DPoP cannot be used: a request that would carry one
	// fails with [ErrDPoPNotConfigured].
	DPoP *DPoP

	// Origins lists the origins ("https://api.example.com",
	// "http://127.0.0.1:8080") that receive the token. If empty, every
	// request the Transport sends receives it, as with oauth2.Transport,
	// except a request that an [http.Client] follows to another origin
	// through a redirect: so leave it empty only in a client made for
	// one API. An entry that is not an origin (no scheme, a path,
	// userinfo) makes every request fail with an error naming it.
	Origins []string

	// Basic, if not nil, is a user name and password for the Basic scheme
	// (RFC 7617). A Transport without a Store and a Refresher sends it
	// with every authorized request; one that has tokens too sends the
	// token, and Basic to an origin whose 401 asks for Basic and not for
	// a token (it never answers a Bearer or DPoP challenge with Basic).
	// Credentials are encoded in UTF-8; a server that turns down non-ASCII
	// credentials with a Basic challenge without charset="UTF-8" gets one
	// resend in ISO-8859-1, if they fit it, and the next requests to its
	// origin start with that.
	Basic *Basic

	// APIKey, if not nil, is sent with every authorized request, in its
	// header or query parameter, beside any token or Basic credential. A
	// 401 to a request made without a token ends in a
	// [*CredentialsRejectedError].
	APIKey *APIKey

	// AllowInsecureHTTP lets credentials go over plain http:// to hosts
	// other than loopback, to resource servers and to the token endpoint.
	// By default they do not: such requests to a resource are sent
	// without credentials, and such token requests fail.
	AllowInsecureHTTP bool

	// RefreshMargin is how long before its expiry a token is due: from
	// then on requests wait for a new one. If zero,
	// DefaultRefreshMargin is used; if negative, tokens are used until
	// they expire. For a short-lived token the margin is at most half of
	// its lifetime.
	RefreshMargin time.Duration

	// DisableRefreshAhead turns off the background refresh. By default,
	// once a token is three quarters of the way (±5%) from when it was
	// obtained to when it is due, the first request that finds it so
	// starts one refresh in the background and every request goes on
	// with the current token, so that no request waits for the token
	// endpoint while the token is valid. The background refresh is the
	// same single flight, under the same store lock and failure rules,
	// as any other; it is started only by a request, so nothing runs
	// while the Transport is idle.
	DisableRefreshAhead bool

	// RefreshTimeout bounds each step of a shared refresh: waiting for a
	// LockingStore's lock, then loading, refreshing and saving. A token
	// request already sent when it passes is still awaited (up to ten
	// times as long, at least 2 min) so that a rotated refresh token is
	// not lost, while callers stop waiting. If zero,
	// DefaultRefreshTimeout is used.
	RefreshTimeout time.Duration

	// Logger, if not nil, receives a record of each [Event]. Records
	// never contain credentials.
	Logger *slog.Logger

	// OnEvent, if not nil, is called with each [Event], synchronously on
	// the goroutine of the request or refresh it reports; it must be
	// quick and safe for concurrent use. A panic in it is recovered.
	OnEvent func(Event)

	setup  atomic.Pointer[setup] // parsed configuration, made on first use
	cur    atomic.Pointer[gen]   // the current generation; stored under mu
	flight atomic.Pointer[flight]

	mu      sync.Mutex // guards trouble and the stores to cur and flight
	trouble *trouble   // nil unless something went wrong
}

var _ http.RoundTripper = (*Transport)(nil)

// setup is the Transport's configuration, checked once.
type setup struct {
	origins []origin     // parsed Origins
	err     error        // an invalid Origins entry or credential
	mem     *MemoryStore // the store when Store is nil
	creds   *staticCreds // Basic and APIKey, checked
	// tokens reports that the Transport sends tokens: it has a Store or
	// a Refresher, or no static credentials.
	tokens bool
	// basicFor lists the origins whose last challenge asked for Basic
	// (true: that took it only in ISO-8859-1); replaced, never changed,
	// under Transport.mu.
	basicFor atomic.Pointer[map[origin]bool]
}

// plainSetup is the setup of a Transport with a Store, no Origins and no
// static credentials. It is never modified.
var plainSetup = &setup{tokens: true}

func (t *Transport) config() *setup {
	if su := t.setup.Load(); su != nil {
		return su
	}
	su := plainSetup
	if len(t.Origins) > 0 || t.Store == nil || t.Basic != nil || t.APIKey != nil {
		su = &setup{}
		for _, s := range t.Origins {
			o, err := parseOrigin(s)
			if err != nil {
				su.err = err
				break
			}
			su.origins = append(su.origins, o)
		}
		su.tokens = t.Store != nil || t.Refresher != nil || (t.Basic == nil && t.APIKey == nil)
		if creds, err := checkCreds(t.Basic, t.APIKey, su.tokens); err != nil {
			su.err = err
		} else {
			su.creds = creds
		}
		if su.tokens && t.Store == nil {
			su.mem = new(MemoryStore)
		}
	}
	if !t.setup.CompareAndSwap(nil, su) {
		return t.setup.Load()
	}
	return su
}

func (t *Transport) base() http.RoundTripper {
	if t.Base != nil {
		return t.Base
	}
	return http.DefaultTransport
}

func (t *Transport) store() Store {
	if t.Store != nil {
		return t.Store
	}
	if mem := t.config().mem; mem != nil {
		return mem
	}
	return nil // only static credentials
}

func (t *Transport) margin() time.Duration {
	switch {
	case t.RefreshMargin == 0:
		return DefaultRefreshMargin
	case t.RefreshMargin < 0:
		return 0
	}
	return t.RefreshMargin
}

func (t *Transport) refreshTimeout() time.Duration {
	if t.RefreshTimeout > 0 {
		return t.RefreshTimeout
	}
	return DefaultRefreshTimeout
}

// RoundTrip implements [http.RoundTripper]. A request that must not carry
// credentials (see the package documentation) goes to Base untouched. Any
// other request is sent as a copy with the credentials attached; the
// caller's request is never modified.
//
// RoundTrip returns a [*LoginRequiredError] when the request cannot be
// authorized without the user; a [*RefreshError] when no token could be
// obtained for now (the token endpoint or the [Store] failed) or the token
// endpoint refused the client; [ErrNoRefresher] when a new token is needed
// and there is no Refresher; a [*CredentialsRejectedError] when static
// credentials were refused; [ErrBodyNotReplayable] when the request was
// rejected, new credentials obtained, and the body cannot be sent again;
// the context's error when the request's context ends first; an error for
// an invalid Origins entry or credential, a failed DPoP signature or a
// failed GetBody; and Base's errors as they are (without an API key sent in
// the query). As the RoundTripper contract requires, the request body is
// closed on every path, and a response is never returned together with an
// error.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	su := t.config()
	if su.err != nil {
		closeBody(req.Body)
		return nil, su.err
	}
	if why := t.skips(req, su.origins); why != "" {
		if t.observed() {
			t.emit(req.Context(), Event{Kind: EventNoCredentials, Detail: why})
		}
		return t.base().RoundTrip(req)
	}
	var a attempt
	if basic, ok := su.basicFirst(req.URL); ok {
		a.basic = basic
	} else if su.tokens {
		g, err := t.current(req.Context())
		if err != nil {
			closeBody(req.Body)
			return nil, t.failRequest(req.Context(), err)
		}
		a.g = g
	}
	resp, err := t.send(req, req.Body, a, su)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusForbidden {
		return resp, nil
	}
	return t.rejected(req, a, resp, su)
}

// current returns the generation to attach: the current one without a lock
// when it is usable (starting a background refresh once it is inside its
// refresh-ahead window), else through obtain.
func (t *Transport) current(ctx context.Context) (*gen, error) {
	now := time.Now()
	g := t.cur.Load()
	if g.usable(now) && (!g.aheadAt.reached(now) || t.flight.Load() != nil) {
		return g, nil
	}
	g, _, err := t.obtain(ctx, ask{})
	return g, err
}

// rejected handles a 401 or 403 to the first attempt of req, made with a.
// It resends req at most twice, never in a loop: once with the DPoP nonce a
// server asked for, and once with new credentials (a new token, or another
// scheme the server asked for).
func (t *Transport) rejected(req *http.Request, a attempt, resp *http.Response, su *setup) (*http.Response, error) {
	ctx := req.Context()
	nonceResent, resent := false, false
	for {
		v := readVerdict(resp)
		proved := a.g != nil && t.proves(a.g)
		if v.action == actionNonce && !proved {
			// A nonce is no help to a request without a proof.
			v.action = actionRefresh
		}
		next, act := v.answer(a, su)
		if act != actionReturn && t.observed() {
			t.emit(ctx, Event{Kind: EventRequestRejected, Status: resp.StatusCode, Detail: v.summary(t.secretsOf(a.tok()))})
		}
		var body io.ReadCloser
		switch act {
		case actionReturn:
			return resp, nil
		case actionLogin:
			drainAndClose(resp)
			return nil, t.failRequest(ctx, v.loginError(v.reason, t.secretsOf(a.tok())))
		case actionRejectStatic:
			drainAndClose(resp)
			return nil, v.credentialsError(a, t.secretsOf(a.tok()))
		case actionNonce:
			if nonceResent {
				// The nonce changed again at once: the caller gets
				// the server's answer, and the next request the
				// newest nonce.
				return resp, nil
			}
			nonceResent = true
			b, ok, err := rewind(req)
			if err != nil {
				drainAndClose(resp)
				return nil, err
			}
			if !ok {
				// The nonce is remembered: sending the request again
				// succeeds.
				return resp, nil
			}
			drainAndClose(resp)
			t.emit(ctx, Event{Kind: EventResent, Detail: "dpop-nonce"})
			body = b
		case actionSwitch:
			// The server asked for another scheme this Transport holds.
			if resent {
				drainAndClose(resp)
				return nil, v.credentialsError(a, t.secretsOf(a.tok()))
			}
			t.preferBasic(su, req.URL, next.basic != "", next.basic != "" && next.basic == su.creds.basicLatin1 && su.creds.latin1Differs())
			if next.basic == "" {
				g, err := t.current(ctx)
				if err != nil {
					drainAndClose(resp)
					return nil, t.failRequest(ctx, err)
				}
				next.g = g
			}
			b, ok, err := t.resendBody(ctx, req, resp)
			if err != nil || !ok {
				return nil, err
			}
			resent, a, body = true, next, b
			t.emit(ctx, Event{Kind: EventResent, Detail: "scheme"})
		default: // actionRefresh
			badProof := proved && v.badProof
			if resent {
				if badProof {
					// A fresh proof with a fresh token refused: a
					// refresh cannot help (see decide).
					t.markProofRefused(a.g.tok)
					return resp, nil
				}
				drainAndClose(resp)
				return nil, t.failRequest(ctx, v.loginError(ReasonRejectedAfterRefresh, t.secretsOf(a.tok())))
			}
			why := v.loginError(0, t.secretsOf(a.tok()))
			g, respond, err := t.obtain(ctx, ask{seen: a.g.tok, rejected: true, badProof: badProof, why: why})
			if err != nil {
				drainAndClose(resp)
				return nil, t.failRequest(ctx, withResponse(err, why))
			}
			if respond {
				if t.observed() {
					t.emit(ctx, Event{Kind: EventRefreshLimited, Status: resp.StatusCode})
				}
				return resp, nil
			}
			b, ok, err := t.resendBody(ctx, req, resp)
			if err != nil || !ok {
				return nil, err
			}
			resent, a.g, body = true, g, b
			t.emit(ctx, Event{Kind: EventResent, Detail: "refreshed"})
		}
		var err error
		resp, err = t.send(req, body, a, su)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusForbidden {
			return resp, nil
		}
	}
}

// resendBody returns a fresh copy of req's body for a resend and discards
// resp. When the body cannot be replayed it returns ErrBodyNotReplayable,
// reported as an event.
func (t *Transport) resendBody(ctx context.Context, req *http.Request, resp *http.Response) (io.ReadCloser, bool, error) {
	b, ok, err := rewind(req)
	drainAndClose(resp)
	switch {
	case err != nil:
		return nil, false, err
	case !ok:
		t.emit(ctx, Event{Kind: EventResendSkipped, Status: resp.StatusCode})
		return nil, false, ErrBodyNotReplayable
	}
	return b, true, nil
}

// withResponse returns err with what the resource server said (why's
// status and challenges) when err is a *LoginRequiredError that lacks
// them: a refused refresh after a rejection, say. err is not modified;
// other callers may hold it.
func withResponse(err error, why *LoginRequiredError) error {
	lr, ok := err.(*LoginRequiredError)
	if !ok || lr.StatusCode != 0 {
		return err
	}
	c := *lr
	c.StatusCode, c.Challenge, c.Challenges = why.StatusCode, why.Challenge, why.Challenges
	return &c
}

// failRequest reports err, the error a request ends with, as an event when
// it asks for a login, and returns it.
func (t *Transport) failRequest(ctx context.Context, err error) error {
	var lr *LoginRequiredError
	if t.observed() && errors.As(err, &lr) {
		t.emit(ctx, Event{Kind: EventLoginRequired, Reason: lr.Reason, Status: lr.StatusCode})
	}
	return err
}

// Token returns a token that is valid now, refreshing the stored one if it
// is missing, expired or due. It is for code that needs the token itself,
// such as a gRPC or WebSocket client. A Transport with only static
// credentials (no Store and no Refresher) has none: [ErrNoRefresher].
//
// The token is a copy: changing it changes nothing in t.
func (t *Transport) Token(ctx context.Context) (*Token, error) {
	su := t.config()
	switch {
	case su.err != nil:
		return nil, su.err
	case !su.tokens:
		return nil, ErrNoRefresher // only static credentials
	}
	g, err := t.current(ctx)
	if err != nil {
		return nil, err
	}
	tok := *g.tok
	return &tok, nil
}

// TokenSource returns an [oauth2.TokenSource] backed by t, for code that
// wants one. Its Token method calls [Transport.Token] with
// [context.Background], since oauth2.TokenSource takes no context; each
// refresh is still bounded by RefreshTimeout.
func (t *Transport) TokenSource() oauth2.TokenSource {
	return tokenSource{t}
}

type tokenSource struct{ t *Transport }

func (s tokenSource) Token() (*oauth2.Token, error) {
	tok, err := s.t.Token(context.Background())
	if err != nil {
		return nil, err
	}
	return tok.OAuth2(), nil
}

// Forget drops what t holds in memory: the current token, the record of
// failed refreshes and their backoff, and the spacing of refreshes. The
// next request loads the [Store] again. A refresh running meanwhile goes on
// and its token is used (its refresh token may be the only one that still
// works), but a failure of it is not recorded. A token the store failed to
// save is kept, for the same reason. Call Forget after changing what the
// Store or the Refresher will give, such as a rotated client secret; to
// log out, use [Transport.Logout].
func (t *Transport) Forget() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if f := t.flight.Load(); f != nil {
		f.forgotten.Store(true)
	}
	var keep *gen
	if cur := t.cur.Load(); cur != nil && cur.unsaved != nil {
		c := *cur
		c.fail = nil
		keep = &c
	}
	t.cur.Store(keep)
	t.trouble = nil
}

// Logout removes the stored token, under the store's lock when it is a
// [LockingStore] (so that a refresh in progress in another process cannot
// save a new one after it), and drops what t holds in memory, unsaved
// tokens included. From the moment it is called no request starts with the
// token: requests arriving meanwhile wait for it to end and then find no
// token; a refresh or login running meanwhile neither saves nor uses its
// token. Every process sharing the Store is logged out. Logout does not
// revoke the token at the authorization server.
func (t *Transport) Logout(ctx context.Context) error {
	store := t.store()
	if store == nil { // only static credentials
		return nil
	}
	// Logout is a flight of its own, so that nothing refreshes from the
	// token it removes while it waits for the store's lock.
	f := &flight{kind: flightLogout, done: make(chan struct{})}
	t.mu.Lock()
	if prev := t.flight.Load(); prev != nil {
		prev.loggedOut.Store(true)
	}
	t.flight.Store(f)
	t.cur.Store(nil)
	t.trouble = nil
	t.mu.Unlock()
	defer t.landed(f)
	if ls, ok := store.(LockingStore); ok {
		unlock, err := t.lock(ctx, ls)
		if err != nil {
			return err
		}
		defer unlock()
	}
	return saveOnce(ctx, store, nil)
}

// CloseIdleConnections calls CloseIdleConnections on Base if it has one.
func (t *Transport) CloseIdleConnections() {
	type closeIdler interface{ CloseIdleConnections() }
	if c, ok := t.base().(closeIdler); ok {
		c.CloseIdleConnections()
	}
}
