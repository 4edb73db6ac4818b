package authtransport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/sync/singleflight"
)

// Defaults for the [Transport] fields left zero.
const (
	// DefaultRefreshMargin is how long before expiry a token is refreshed
	// when RefreshMargin is zero.
	DefaultRefreshMargin = time.Minute
	// DefaultRefreshTimeout bounds one shared refresh when RefreshTimeout
	// is zero.
	DefaultRefreshTimeout = 30 * time.Second
)

// Transport is an [http.RoundTripper] that authorizes requests with an OAuth
// 2.0 access token. It attaches the token to requests for the origins it
// belongs to, refreshes it before it expires, refreshes it once more when a
// resource server rejects it with 401, resends the request once, and returns
// a [*LoginRequiredError] when only the user can help. See the package
// documentation for the request flow and its guarantees.
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
	// expired or rejected. If nil, such a request fails with a
	// [*LoginRequiredError].
	Refresher Refresher

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
	// "http://127.0.0.1:8080") that receive the token. If empty, a
	// request receives it for its own origin, and a request that an
	// [http.Client] follows to another origin through a redirect does
	// not.
	Origins []string

	// AllowInsecureHTTP lets the token go over plain http:// to hosts
	// other than loopback. By default it does not: such requests are sent
	// without credentials.
	AllowInsecureHTTP bool

	// RefreshMargin is how long before its expiry a token is refreshed.
	// If zero, DefaultRefreshMargin is used; if negative, tokens are used
	// until they expire. For a short-lived token the margin is at most
	// half of the lifetime it had when obtained.
	RefreshMargin time.Duration

	// RefreshTimeout bounds each shared refresh, including waiting for a
	// LockingStore's lock. If zero, DefaultRefreshTimeout is used.
	RefreshTimeout time.Duration

	// Logger, if not nil, receives a record of each refresh, retry and
	// failure. Records never contain credentials.
	Logger *slog.Logger

	initOnce sync.Once
	origins  []origin    // parsed Origins
	memStore MemoryStore // Store when Store is nil

	cur     atomic.Pointer[current] // the token attached to requests
	flights singleflight.Group

	mu      sync.Mutex // guards failure
	failure *failure
}

var _ http.RoundTripper = (*Transport)(nil)

// current is a token ready to attach.
type current struct {
	tok       *Token
	auth      string    // the Authorization field value
	refreshAt time.Time // when to refresh; zero: never ahead of a rejection
}

// failure is the last failed refresh, kept so that callers do not hammer an
// authorization server that refused or is down.
type failure struct {
	base     *Token    // the token that could not be refreshed
	err      error     // what the callers get
	until    time.Time // transient failures: when to try again
	terminal bool      // only a different stored token can help
	count    int       // consecutive transient failures
}

func (t *Transport) init() {
	t.initOnce.Do(func() {
		for _, s := range t.Origins {
			if o, ok := parseOrigin(s); ok {
				t.origins = append(t.origins, o)
			}
		}
	})
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
	return &t.memStore
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

// RoundTrip implements [http.RoundTripper]. A request that is not for one of
// the token's origins goes to Base untouched, and so does one that already
// carries an Authorization field. Any other request is sent as a copy with
// the token attached; the caller's request is never modified.
//
// RoundTrip returns a [*LoginRequiredError] when the request cannot be
// authorized without the user, a [*RefreshError] when no token could be
// obtained for now, and the context's error when the request's context ends
// first. As the RoundTripper contract requires, the request body is closed
// on every path, and a response is never returned together with an error.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.init()
	if !t.authorizes(req) {
		return t.base().RoundTrip(req)
	}
	ctx := req.Context()
	cur, err := t.usable(ctx)
	if err != nil {
		closeBody(req)
		return nil, err
	}
	resp, err := t.send(req, req.Body, cur)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusForbidden {
		return resp, nil
	}
	return t.rejected(req, cur, resp)
}

// rejected handles a 401 or 403 to the first attempt of req. It resends req
// at most twice, never in a loop: once with the DPoP nonce a server asked
// for, and once after a refresh.
func (t *Transport) rejected(req *http.Request, cur *current, resp *http.Response) (*http.Response, error) {
	ctx := req.Context()
	nonceResent, refreshed := false, false
	for {
		v := readVerdict(resp)
		proved := t.proves(cur)
		if v.action == actionNonce && !proved {
			// A nonce is no help to a request without a proof.
			v.action = actionRefresh
		}
		var body io.ReadCloser
		switch v.action {
		case actionReturn:
			return resp, nil
		case actionLogin:
			drainAndClose(resp)
			return nil, v.loginError()
		case actionNonce:
			if nonceResent {
				// The nonce changed again at once: the caller gets
				// the server's answer, and the next request the
				// newest nonce.
				t.log(ctx, slog.LevelWarn, "authtransport: DPoP nonce refused again", slog.Int("status", resp.StatusCode))
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
			t.log(ctx, slog.LevelInfo, "authtransport: resending with a new DPoP nonce")
			body = b
		default: // actionRefresh
			if proved && v.badProof && t.proofRefused(cur, refreshed) {
				t.log(ctx, slog.LevelWarn, "authtransport: DPoP proof refused", slog.Int("status", resp.StatusCode))
				return resp, nil
			}
			drainAndClose(resp)
			if refreshed {
				t.log(ctx, slog.LevelWarn, "authtransport: token rejected after refresh", slog.Int("status", resp.StatusCode))
				return nil, v.loginErrorFor(ReasonRejectedAfterRefresh)
			}
			refreshed = true
			t.log(ctx, slog.LevelInfo, "authtransport: token rejected", slog.Int("status", resp.StatusCode))
			next, err := t.refresh(ctx, cur, true)
			if err != nil {
				return nil, err
			}
			cur = next
			b, ok, err := rewind(req)
			if err != nil {
				return nil, err
			}
			if !ok {
				return nil, v.loginErrorFor(ReasonBodyNotReplayable)
			}
			body = b
		}
		var err error
		resp, err = t.send(req, body, cur)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusForbidden {
			return resp, nil
		}
	}
}

// Token returns a token that is valid now, refreshing the stored one if it
// is missing, expired or about to expire. It is for code that needs the
// token itself, such as a gRPC or WebSocket client.
func (t *Transport) Token(ctx context.Context) (*Token, error) {
	t.init()
	cur, err := t.usable(ctx)
	if err != nil {
		return nil, err
	}
	return cur.tok, nil
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

// CloseIdleConnections calls CloseIdleConnections on Base if it has one.
func (t *Transport) CloseIdleConnections() {
	type closeIdler interface{ CloseIdleConnections() }
	if c, ok := t.base().(closeIdler); ok {
		c.CloseIdleConnections()
	}
}

// usable returns the token to attach, refreshing first when it is missing
// or due.
func (t *Transport) usable(ctx context.Context) (*current, error) {
	cur := t.cur.Load()
	if cur != nil && !cur.due(time.Now()) {
		return cur, nil
	}
	return t.refresh(ctx, cur, false)
}

// due reports whether c must be refreshed before it is used.
func (c *current) due(now time.Time) bool {
	return (!c.refreshAt.IsZero() && !now.Before(c.refreshAt)) || c.tok.expiresWithin(now, 0)
}

// refresh returns a token newer than stale, running or joining the single
// flight that obtains one. rejected tells that the resource server refused
// stale, as opposed to stale being due.
func (t *Transport) refresh(ctx context.Context, stale *current, rejected bool) (*current, error) {
	var staleTok *Token
	if stale != nil {
		staleTok = stale.tok
	}
	// Another caller may have replaced the token already.
	if cur := t.cur.Load(); cur != nil && !sameToken(cur.tok, staleTok) && !cur.due(time.Now()) {
		return cur, nil
	}
	ch := t.flights.DoChan("", func() (any, error) {
		return t.obtain(context.WithoutCancel(ctx), staleTok, rejected)
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*current), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// obtain is the shared work of a flight: under the store's lock, if it has
// one, it reloads the store and uses the stored token if it is newer than
// stale and not due, and otherwise refreshes and saves. When refreshing
// fails, a stored token that has not expired and was not rejected goes on
// serving until the failure's backoff ends.
func (t *Transport) obtain(ctx context.Context, stale *Token, rejected bool) (*current, error) {
	ctx, cancel := context.WithTimeout(ctx, t.refreshTimeout())
	defer cancel()
	store := t.store()
	if ls, ok := store.(LockingStore); ok {
		unlock, err := ls.Lock(ctx)
		if err != nil {
			return nil, fmt.Errorf("authtransport: lock token store: %w", err)
		}
		defer unlock()
	}
	stored, err := store.Load(ctx)
	if err != nil && !errors.Is(err, ErrNoToken) {
		return nil, fmt.Errorf("authtransport: load token: %w", err)
	}
	if err != nil {
		stored = nil
	}
	now := time.Now()
	var fallback *Token
	if stored != nil && !stored.expiresWithin(now, 0) && !(rejected && sameToken(stored, stale)) {
		switch {
		case sameToken(stored, stale):
		case stale != nil:
			// Another process replaced the token this one had: adopt
			// it, even if it lives shorter than the margin.
			return t.publish(stored, t.refreshAt(stored, now)), nil
		case !stored.expiresWithin(now, t.margin()):
			// First load.
			return t.publish(stored, stored.Expiry.Add(-t.margin())), nil
		}
		fallback = stored
	}
	if f := t.recentFailure(stored, now); f != nil {
		return t.orFallback(fallback, f)
	}
	if t.Refresher == nil {
		return nil, &LoginRequiredError{Reason: ReasonNoToken}
	}
	t.log(ctx, slog.LevelInfo, "authtransport: refreshing token")
	tok, err := t.Refresher.Refresh(t.refreshContext(ctx), stored)
	if err == nil && (tok == nil || tok.AccessToken == "") {
		err = &RefreshError{Err: errors.New("authtransport: refresher returned no access token")}
	}
	if err != nil {
		f := t.recordFailure(stored, err, time.Now())
		t.log(ctx, slog.LevelWarn, "authtransport: token refresh failed", slog.Any("error", f.err))
		return t.orFallback(fallback, f)
	}
	t.recordSuccess()
	if err := store.Save(ctx, tok); err != nil {
		// The old refresh token may be spent already: keep serving the
		// new token from memory rather than fail the request.
		t.log(ctx, slog.LevelError, "authtransport: saving refreshed token failed", slog.Any("error", err))
	}
	t.log(ctx, slog.LevelInfo, "authtransport: token refreshed", slog.Any("token", *tok))
	return t.publish(tok, t.refreshAt(tok, time.Now())), nil
}

// refreshAt is when to refresh a token that is new at now: the margin
// before its expiry, or halfway through its life if it lives shorter than
// twice the margin. It is zero for a token without expiry.
func (t *Transport) refreshAt(tok *Token, now time.Time) time.Time {
	if tok.Expiry.IsZero() {
		return time.Time{}
	}
	return tok.Expiry.Add(-min(t.margin(), tok.Expiry.Sub(now)/2))
}

// orFallback returns fallback, if there is one, to be used until the
// failure f may be retried; otherwise f's error.
func (t *Transport) orFallback(fallback *Token, f *failure) (*current, error) {
	if fallback == nil {
		return nil, f.err
	}
	until := fallback.Expiry
	if !f.terminal && !until.IsZero() && f.until.Before(until) {
		until = f.until
	}
	return t.publish(fallback, until), nil
}

// publish makes tok the token attached to requests until refreshAt (zero:
// until it is rejected).
func (t *Transport) publish(tok *Token, refreshAt time.Time) *current {
	c := &current{tok: tok, auth: tok.Type() + " " + tok.AccessToken, refreshAt: refreshAt}
	t.cur.Store(c)
	return c
}

// Backoff after transient refresh failures: base doubles per failure up to
// the cap.
const (
	backoffBase = time.Second
	backoffCap  = time.Minute
)

// recentFailure returns the last failed refresh of base if it failed
// terminally, or transiently and less than the backoff ago.
func (t *Transport) recentFailure(base *Token, now time.Time) *failure {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.failure
	if f == nil || !sameToken(f.base, base) || (!f.terminal && !now.Before(f.until)) {
		return nil
	}
	return f
}

// recordFailure classifies err and remembers it; the failure's err is what
// callers get.
func (t *Transport) recordFailure(base *Token, err error, now time.Time) *failure {
	var lr *LoginRequiredError
	var re *RefreshError
	switch {
	case errors.As(err, &lr):
	case errors.As(err, &re) && re.Terminal:
		err = &LoginRequiredError{Reason: ReasonRefreshRejected, Err: err}
	case !errors.As(err, &re):
		re = &RefreshError{Err: err}
		err = re
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	f := &failure{base: base, err: err, terminal: re == nil || re.Terminal}
	if !f.terminal {
		f.count = 1
		if p := t.failure; p != nil && !p.terminal && sameToken(p.base, base) {
			f.count = p.count + 1
		}
		wait := min(backoffBase<<min(f.count-1, 16), backoffCap)
		f.until = now.Add(max(wait, re.RetryAfter))
	}
	t.failure = f
	return f
}

func (t *Transport) recordSuccess() {
	t.mu.Lock()
	t.failure = nil
	t.mu.Unlock()
}

func (t *Transport) log(ctx context.Context, level slog.Level, msg string, attrs ...slog.Attr) {
	if t.Logger != nil {
		t.Logger.LogAttrs(ctx, level, msg, attrs...)
	}
}
