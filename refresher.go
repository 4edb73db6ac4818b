package authtransport

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// Refresher obtains a new token. The [Transport] calls it at most once at a
// time, from a single flight shared by every request waiting for a token.
//
// stale is the stored token to replace: missing, due, expired, or rejected
// by a resource server; it is nil when the store is empty. Refresh returns
// the token to use and persist. It returns a [*LoginRequiredError] when only
// the user can help, and a [*RefreshError] otherwise (Terminal when retrying
// cannot help but a login would not either, such as a refused client
// secret). An error of the oauth2 package is classified by its error code,
// a terminal one meaning a refused user grant; any other error counts as
// transient. A panic is recovered and counts as a transient failure.
//
// ctx is not cancelled when the request that started the refresh gives up,
// but it carries the Transport's RefreshTimeout. Its [oauth2.HTTPClient]
// is wrapped so that a token request follows no redirect, goes over plain
// http:// only to loopback (unless AllowInsecureHTTP), carries a DPoP proof
// when the Transport has a DPoP key, and once sent is awaited past that
// deadline (a server may have rotated the refresh token already); a
// Refresher that makes its own requests should take its client from there.
type Refresher interface {
	Refresh(ctx context.Context, stale *Token) (*Token, error)
}

// RefresherFunc adapts a function to a [Refresher].
type RefresherFunc func(ctx context.Context, stale *Token) (*Token, error)

// Refresh calls f(ctx, stale).
func (f RefresherFunc) Refresh(ctx context.Context, stale *Token) (*Token, error) {
	return f(ctx, stale)
}

// NewOAuth2Refresher returns a [Refresher] that uses the refresh-token grant
// of cfg (RFC 6749 §6). When the server sends no new refresh token, the old
// one is kept. Refreshing a token that has no refresh token gives a
// [*LoginRequiredError] with [ReasonNoToken], and a refusal of the grant
// (invalid_grant and the like) one with [ReasonRefreshRejected], whose Err
// is the [*RefreshError] with the server's error code and description.
//
// The HTTP client for the token endpoint is taken from the request context
// under [oauth2.HTTPClient], as with the oauth2 package; by default it is
// [http.DefaultClient]. The Transport wraps it so that token requests never
// follow redirects and never go over plain http:// except to loopback.
func NewOAuth2Refresher(cfg *oauth2.Config) Refresher {
	if cfg.Endpoint.AuthStyle == oauth2.AuthStyleAutoDetect {
		return &detectingRefresher{cfg: cfg}
	}
	return oauth2Refresher{cfg: cfg}
}

// oauth2Refresher is a value of one pointer, so that the Refresher
// interface holds it without an allocation (one Transport per grant, for
// many grants, each with its own).
type oauth2Refresher struct{ cfg *oauth2.Config }

func (r oauth2Refresher) Refresh(ctx context.Context, stale *Token) (*Token, error) {
	return refreshWith(ctx, r.cfg, stale)
}

func (r oauth2Refresher) clientCredentials() (id, secret string) {
	return r.cfg.ClientID, r.cfg.ClientSecret
}

// refreshWith runs the refresh-token grant of cfg for stale.
func refreshWith(ctx context.Context, cfg *oauth2.Config, stale *Token) (*Token, error) {
	if stale == nil || stale.RefreshToken == "" {
		return nil, &LoginRequiredError{Reason: ReasonNoToken}
	}
	// An empty access token makes the source refresh at once.
	ot, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: stale.RefreshToken}).Token()
	if err != nil {
		return nil, classify(err, nil, stale, nil)
	}
	return TokenFromOAuth2(ot), nil
}

// detectingRefresher is the refresh-token grant of a config that leaves the
// client authentication style to detection. The oauth2 package detects it
// by sending a failed request again in the other style, whatever the
// failure: a 429 or 5xx would be answered at once with the same refresh
// token. This one starts with client_secret_basic (client_id in the form for
// a public client), switches only when the server refuses the client
// (invalid_client, or a 401 without a code: the grant was not looked at),
// and remembers the style that worked.
type detectingRefresher struct {
	cfg   *oauth2.Config
	style atomic.Int32 // an oauth2.AuthStyle that worked, or 0
}

func (r *detectingRefresher) Refresh(ctx context.Context, stale *Token) (*Token, error) {
	style := oauth2.AuthStyle(r.style.Load())
	known := style != oauth2.AuthStyleAutoDetect
	if !known {
		style = oauth2.AuthStyleInHeader
		if r.cfg.ClientSecret == "" {
			style = oauth2.AuthStyleInParams
		}
	}
	tok, err := r.refreshIn(ctx, style, stale)
	if err != nil && !known && refusedClient(err) {
		style = otherStyle(style)
		tok, err = r.refreshIn(ctx, style, stale)
	}
	if err == nil {
		r.style.Store(int32(style))
	}
	return tok, err
}

func (r *detectingRefresher) refreshIn(ctx context.Context, style oauth2.AuthStyle, stale *Token) (*Token, error) {
	c := *r.cfg
	c.Endpoint.AuthStyle = style
	return refreshWith(ctx, &c, stale)
}

func (r *detectingRefresher) clientCredentials() (id, secret string) {
	return r.cfg.ClientID, r.cfg.ClientSecret
}

// refusedClient reports whether err says that the token endpoint refused
// the client's authentication, before looking at the grant.
func refusedClient(err error) bool {
	var re *RefreshError
	if !errors.As(err, &re) {
		return false
	}
	return re.Code == "invalid_client" || (re.Code == "" && re.StatusCode == http.StatusUnauthorized)
}

func otherStyle(s oauth2.AuthStyle) oauth2.AuthStyle {
	if s == oauth2.AuthStyleInHeader {
		return oauth2.AuthStyleInParams
	}
	return oauth2.AuthStyleInHeader
}

// NewClientCredentialsRefresher returns a [Refresher] that obtains tokens
// with the client-credentials grant of cfg (RFC 6749 §4.4). It needs no
// stored token, so a [Transport] using it can start with an empty store.
// A refusal of the client (invalid_client and the like) is a Terminal
// [*RefreshError]: there is no user to log in, the client's credentials
// must change.
func NewClientCredentialsRefresher(cfg *clientcredentials.Config) Refresher {
	return clientCredentialsRefresher{cfg: cfg}
}

type clientCredentialsRefresher struct{ cfg *clientcredentials.Config }

func (r clientCredentialsRefresher) Refresh(ctx context.Context, _ *Token) (*Token, error) {
	ot, err := r.cfg.Token(ctx)
	if err != nil {
		return nil, refreshError(err)
	}
	return TokenFromOAuth2(ot), nil
}

func (r clientCredentialsRefresher) clientCredentials() (id, secret string) {
	return r.cfg.ClientID, r.cfg.ClientSecret
}

// NewTokenSourceRefresher returns a [Refresher] that asks src for a token.
// src takes no context: when a refresh's context ends first, the Refresher
// stops waiting, and the call to src.Token it started goes on in its
// goroutine until it returns; later refreshes wait for that same call
// rather than start another (so src is never called concurrently), and a
// token it returns after its waiters left serves the next refresh. If src
// caches (as [oauth2.ReuseTokenSource] does) it may hand back the token a
// resource server rejected; the [Transport] then never sends that token
// again and reports a transient [*RefreshError] until src returns another
// one.
func NewTokenSourceRefresher(src oauth2.TokenSource) Refresher {
	return &tokenSourceRefresher{src: src}
}

type tokenSourceRefresher struct {
	src   oauth2.TokenSource
	mu    sync.Mutex       // guards call and ready
	call  *tokenSourceCall // the running call to src.Token, if any
	ready *tokenSourceCall // a call that succeeded after its waiters left
}

// tokenSourceCall is one call to src.Token; tok and err are set before done
// is closed.
type tokenSourceCall struct {
	done chan struct{}
	tok  *oauth2.Token
	err  error
}

func (r *tokenSourceRefresher) Refresh(ctx context.Context, _ *Token) (*Token, error) {
	r.mu.Lock()
	if c := r.ready; c != nil {
		// A source slower than the refresh timeout still gets its
		// token used.
		r.ready = nil
		r.mu.Unlock()
		return TokenFromOAuth2(c.tok), nil
	}
	c := r.call
	if c == nil {
		c = &tokenSourceCall{done: make(chan struct{})}
		r.call = c
		go func() {
			c.tok, c.err = callTokenSource(r.src)
			r.mu.Lock()
			r.call = nil
			if c.err == nil {
				r.ready = c
			}
			r.mu.Unlock()
			close(c.done)
		}()
	}
	r.mu.Unlock()
	select {
	case <-c.done:
		r.mu.Lock()
		if r.ready == c {
			r.ready = nil
		}
		r.mu.Unlock()
		if c.err != nil {
			return nil, refreshError(c.err)
		}
		return TokenFromOAuth2(c.tok), nil
	case <-ctx.Done():
		return nil, &RefreshError{Err: ctx.Err()}
	}
}

// callTokenSource calls src.Token, turning a panic into an error.
func callTokenSource(src oauth2.TokenSource) (tok *oauth2.Token, err error) {
	defer func() {
		if v := recover(); v != nil {
			tok, err = nil, panicError("TokenSource.Token", v)
		}
	}()
	return src.Token()
}

// refreshError returns err, an error of a token request, as a
// *RefreshError: the token endpoint's answer when there is one (its error
// code decides Terminal), or err as the cause.
func refreshError(err error) *RefreshError {
	var re *RefreshError
	if errors.As(err, &re) {
		return re
	}
	var oe *oauth2.RetrieveError
	if errors.As(err, &oe) {
		return retrieveError(oe)
	}
	var te *tokenEndpointError
	return &RefreshError{Err: err, Terminal: errors.As(err, &te) && te.terminal}
}

// classify returns err, a Refresher's error refreshing base, as what the
// callers get, with every secret in s scrubbed: a *LoginRequiredError (with
// why, the store's reason for having no usable token, as its cause when it
// has none), ErrNoRefresher, or a *RefreshError. A terminal refusal by the
// token endpoint of a token that has a refresh token is a refused user
// grant, a *LoginRequiredError with ReasonRefreshRejected, whichever
// Refresher reports it; without a refresh token (client credentials) it is
// the client that was refused, and it stays a terminal *RefreshError.
func classify(err error, why error, base *Token, s secrets) error {
	var lr *LoginRequiredError
	switch {
	case errors.As(err, &lr):
		c := *lr
		if c.Err == nil {
			c.Err = why
		}
		err = &c
	case errors.Is(err, ErrNoRefresher):
	default:
		re := refreshError(err)
		err = re
		if re.Terminal && (re.StatusCode != 0 || re.Code != "") && base != nil && base.RefreshToken != "" {
			err = &LoginRequiredError{Reason: ReasonRefreshRejected, Err: re}
		}
	}
	return scrubError(err, s)
}

// retrieveError builds a *RefreshError from the token endpoint's answer.
func retrieveError(oe *oauth2.RetrieveError) *RefreshError {
	e := &RefreshError{
		Code:        oe.ErrorCode,
		Description: oe.ErrorDescription,
	}
	if oe.Response != nil {
		e.StatusCode = oe.Response.StatusCode
		e.RetryAfter = retryAfter(oe.Response.Header.Get("Retry-After"), time.Now())
	}
	switch {
	case e.Code != "":
		e.Terminal = isTerminalCode(e.Code)
	case e.StatusCode == http.StatusBadRequest || e.StatusCode == http.StatusUnauthorized:
		// A refusal without an error code: retrying the same request
		// cannot help.
		e.Terminal = true
	}
	return e
}

// retryAfter parses a Retry-After value (RFC 9110 §10.2.3): seconds or an
// HTTP date. It returns 0 when v is empty or invalid.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseUint(v, 10, 32); err == nil {
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), maxRetryAfter)
}
