package authtransport

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// Refresher obtains a new token. The [Transport] calls it at most once at a
// time, from a single flight shared by every request waiting for a token.
//
// rejected is the stored token that is missing, expired or was rejected by
// the resource server; it is nil when the store is empty. Refresh returns
// the token to use and persist. It may return a [*LoginRequiredError] when
// only the user can help, or a [*RefreshError]; any other error counts as
// transient.
//
// ctx is not cancelled when the request that started the refresh gives up,
// but it carries the Transport's RefreshTimeout. Its [oauth2.HTTPClient]
// is wrapped so that a token request, once sent, is awaited past that
// deadline (a server may have rotated the refresh token already); a
// Refresher that makes its own requests should take its client from there.
type Refresher interface {
	Refresh(ctx context.Context, rejected *Token) (*Token, error)
}

// RefresherFunc adapts a function to a [Refresher].
type RefresherFunc func(ctx context.Context, rejected *Token) (*Token, error)

// Refresh calls f(ctx, rejected).
func (f RefresherFunc) Refresh(ctx context.Context, rejected *Token) (*Token, error) {
	return f(ctx, rejected)
}

// NewOAuth2Refresher returns a [Refresher] that uses the refresh-token grant
// of cfg (RFC 6749 §6). When the server sends no new refresh token, the old
// one is kept. Refreshing a token that has no refresh token gives a
// [*LoginRequiredError] with [ReasonNoToken]. When the server refuses, its
// error code and description are in the returned [*RefreshError].
//
// The HTTP client for the token endpoint is taken from the request context
// under [oauth2.HTTPClient], as with the oauth2 package; by default it is
// [http.DefaultClient].
func NewOAuth2Refresher(cfg *oauth2.Config) Refresher {
	return RefresherFunc(func(ctx context.Context, rejected *Token) (*Token, error) {
		if rejected == nil || rejected.RefreshToken == "" {
			return nil, &LoginRequiredError{Reason: ReasonNoToken}
		}
		// An empty access token makes the source refresh at once.
		src := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: rejected.RefreshToken})
		ot, err := src.Token()
		if err != nil {
			return nil, refreshError(err)
		}
		return TokenFromOAuth2(ot), nil
	})
}

// NewClientCredentialsRefresher returns a [Refresher] that obtains tokens
// with the client-credentials grant of cfg (RFC 6749 §4.4). It needs no
// stored token, so a [Transport] using it can start with an empty store.
func NewClientCredentialsRefresher(cfg *clientcredentials.Config) Refresher {
	return RefresherFunc(func(ctx context.Context, _ *Token) (*Token, error) {
		ot, err := cfg.Token(ctx)
		if err != nil {
			return nil, refreshError(err)
		}
		return TokenFromOAuth2(ot), nil
	})
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
			c.tok, c.err = r.src.Token()
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

// refreshError classifies a refresher's error as a *LoginRequiredError or a
// *RefreshError. It never keeps the body of a token endpoint's response (it
// may echo credentials) nor the query of a URL, wherever they are wrapped.
func refreshError(err error) error {
	var lr *LoginRequiredError
	var re *RefreshError
	if errors.As(err, &lr) || errors.As(err, &re) {
		return redactCause(err)
	}
	var oe *oauth2.RetrieveError
	if !errors.As(err, &oe) {
		return &RefreshError{Err: redactCause(err)}
	}
	return retrieveError(oe)
}

// redactCause returns err without what an error of the oauth2 package or
// a *url.Error may carry of credentials: a response body or a query.
func redactCause(err error) error {
	var lr *LoginRequiredError
	var re *RefreshError
	var oe *oauth2.RetrieveError
	var ue *url.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &lr):
		c := *lr
		c.Err = redactCause(lr.Err)
		return &c
	case errors.As(err, &re):
		c := *re
		c.Err = redactCause(re.Err)
		return &c
	case errors.As(err, &oe):
		status := "no response"
		if oe.Response != nil {
			status = oe.Response.Status
		}
		return errors.New("oauth2: cannot fetch token: " + status)
	case errors.As(err, &ue):
		return &url.Error{Op: ue.Op, URL: withoutQuery(ue.URL), Err: redactCause(ue.Err)}
	}
	return err
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
		// A refusal without an error code: retrying the same grant
		// cannot help.
		e.Terminal = true
	}
	return e
}

// withoutQuery returns rawURL without its query and fragment.
func withoutQuery(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(invalid URL)"
	}
	u.RawQuery, u.Fragment, u.User = "", "", nil
	return u.String()
}

// maxRetryAfter bounds how long a server can make the Transport wait.
const maxRetryAfter = 10 * time.Minute

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
