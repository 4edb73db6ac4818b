package authtransport

import (
	"context"
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
// resource server rejects it with 401, resends the request once (and once
// more for a DPoP nonce), and returns
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
	// "http://127.0.0.1:8080") that receive the token. If empty, every
	// request the Transport sends receives it, as with oauth2.Transport,
	// except a request that an [http.Client] follows to another origin
	// through a redirect: so leave it empty only in a client made for
	// one API. An entry that is not an origin (no scheme, a path,
	// userinfo) makes every request fail with an error naming it.
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

	// RefreshTimeout bounds each step of a shared refresh: waiting for a
	// LockingStore's lock, then loading, refreshing and saving. A token
	// request already sent when it passes is still awaited (up to ten
	// times as long, at least 2 min) so that a rotated refresh token is
	// not lost, while callers stop waiting. If zero,
	// DefaultRefreshTimeout is used.
	RefreshTimeout time.Duration

	// Logger, if not nil, receives a record of each refresh, retry and
	// failure. Records never contain credentials.
	Logger *slog.Logger

	initOnce sync.Once
	origins  []origin    // parsed Origins
	initErr  error       // an invalid Origins entry
	memStore MemoryStore // Store when Store is nil

	cur     atomic.Pointer[current] // the token attached to requests
	flights singleflight.Group

	mu          sync.Mutex // guards the fields below
	failure     *failure   // the last failed refresh
	rejectedTok [4]*Token  // the last tokens resource servers rejected (ring)
	rejectedN   int
	storeFail   *failure // the last failure to lock or load the store
	unsaved     *unsaved // a refreshed token the store failed to save

	// consecutive rejections of a token right after its own refresh
	rejectedAfterRefreshN  int
	rejectedAfterRefreshAt time.Time
}

var _ http.RoundTripper = (*Transport)(nil)

// current is a token ready to attach.
type current struct {
	tok       *Token
	auth      string    // the Authorization field value
	refreshAt time.Time // when to refresh; zero: never ahead of a rejection
}

func (t *Transport) init() error {
	t.initOnce.Do(func() {
		for _, s := range t.Origins {
			o, err := parseOrigin(s)
			if err != nil {
				t.initErr = err
				return
			}
			t.origins = append(t.origins, o)
		}
	})
	return t.initErr
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
// authorized without the user; a [*RefreshError] when no token could be
// obtained for now (the token endpoint or the [Store] failed); the context's
// error when the request's context ends first; an error for an invalid
// Origins entry, a failed DPoP signature or a failed GetBody; and Base's
// errors as they are. As the RoundTripper contract requires, the request
// body is closed on every path, and a response is never returned together
// with an error.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := t.init(); err != nil {
		closeBody(req.Body)
		return nil, err
	}
	if !t.authorizes(req) {
		return t.base().RoundTrip(req)
	}
	ctx := req.Context()
	cur, err := t.usable(ctx)
	if err != nil {
		closeBody(req.Body)
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
				t.rejectedAfterRefresh(cur.tok)
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
			if refreshed {
				t.refreshedTokenAccepted()
			}
			return resp, nil
		}
	}
}

// Token returns a token that is valid now, refreshing the stored one if it
// is missing, expired or about to expire. It is for code that needs the
// token itself, such as a gRPC or WebSocket client.
//
// The token is a copy: changing it changes nothing in t.
func (t *Transport) Token(ctx context.Context) (*Token, error) {
	cur, err := t.usable(ctx)
	if err != nil {
		return nil, err
	}
	tok := *cur.tok
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

// CloseIdleConnections calls CloseIdleConnections on Base if it has one.
func (t *Transport) CloseIdleConnections() {
	type closeIdler interface{ CloseIdleConnections() }
	if c, ok := t.base().(closeIdler); ok {
		c.CloseIdleConnections()
	}
}

func (t *Transport) log(ctx context.Context, level slog.Level, msg string, attrs ...slog.Attr) {
	if t.Logger != nil {
		t.Logger.LogAttrs(ctx, level, msg, attrs...)
	}
}
