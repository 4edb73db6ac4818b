package login

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/d5c4ca72/authtransport"
)

// DefaultTimeout is how long [Browser.Login] waits for the user when
// Browser.Timeout is zero.
const DefaultTimeout = 5 * time.Minute

// Browser logs the user in with the authorization code grant and PKCE
// (RFC 7636, method S256) the way RFC 8252 describes for native apps: it
// listens on an ephemeral port of 127.0.0.1, opens the authorization URL
// in the user's browser, waits for the redirect back to the listener,
// checks its state (and its iss, RFC 9207), shows the user a short page,
// and exchanges the code for a token.
//
// Its fields must not change while a Login runs. A Browser may run
// several logins at once, each with its own listener.
type Browser struct {
	// Config is the client: ClientID, ClientSecret (empty for a public
	// client, which names itself with client_id alone), Endpoint.AuthURL,
	// Endpoint.TokenURL, Endpoint.AuthStyle (client_secret_basic unless
	// oauth2.AuthStyleInParams) and Scopes. RedirectURL is normally left
	// empty, for http://127.0.0.1:<ephemeral port>/callback; a server
	// that only accepts a registered redirect URI may be given one, which
	// must be http on a loopback IP address (port 0 for an ephemeral
	// one).
	Config *oauth2.Config

	// Issuer is the authorization server's issuer identifier, as its
	// metadata names it ([ServerMetadata].Issuer). If set, an
	// authorization response with an iss other than Issuer is refused
	// (RFC 9207). If empty, iss is not checked.
	Issuer string

	// RequireIssuer makes a response without iss be refused too, as RFC
	// 9207 asks when the server's metadata says it sends one
	// ([ServerMetadata].AuthorizationResponseIssParameterSupported). It
	// needs Issuer.
	RequireIssuer bool

	// Resource, if not empty, is sent as the resource parameter (RFC
	// 8707) of the authorization and the token request, so that the
	// token is issued for that protected resource
	// ([ResourceMetadata].Resource).
	Resource string

	// AuthParams are added to the authorization request, for parameters
	// such as prompt, login_hint, acr_values or max_age. They cannot set
	// the parameters Login sets itself.
	AuthParams url.Values

	// Open shows the authorization URL to the user. It is called on a
	// goroutine of its own and must return once ctx ends: Login ends it
	// and waits for it before it returns. If it fails, Login tells the
	// user to open the URL printed on Output and goes on waiting. If nil,
	// [OpenBrowser] is used; headless programs and tests replace it.
	Open func(ctx context.Context, url string) error

	// Output receives the authorization URL, printed before Open is
	// called so that the user can open it by hand, and a note if Open
	// fails. If nil, os.Stderr is used.
	Output io.Writer

	// Timeout bounds the wait for the authorization response. If zero,
	// DefaultTimeout is used. When it passes, Login returns [ErrTimeout].
	Timeout time.Duration

	// AllowInsecureHTTP lets the authorization and token endpoints be
	// plain http:// on hosts other than loopback. By default they must
	// be https (or loopback, for tests).
	AllowInsecureHTTP bool
}

// reservedAuthParams are the authorization request parameters Login sets.
var reservedAuthParams = []string{"response_type", "client_id", "redirect_uri", "scope", "state",
	"code_challenge", "code_challenge_method", "resource"}

// Login runs one login and returns its token, with ObtainedAt set. It
// returns an [*OAuthError] when the authorization server refuses (such as
// access_denied when the user declines), a [*MismatchError] for an
// authorization response with the wrong state or iss, a [*ResponseError]
// or [*RedirectError] for an answer outside the protocol, [ErrTimeout]
// when Timeout passes, and the context's error (wrapped) when ctx ends
// first. Nothing is saved: see [Save].
func (b *Browser) Login(ctx context.Context) (*authtransport.Token, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("login: %w", err)
	}
	cfg, authURL, tokenURL, err := b.check()
	if err != nil {
		return nil, err
	}
	cb, err := listen(cfg.RedirectURL)
	if err != nil {
		return nil, err
	}
	defer cb.close()
	cfg.RedirectURL = cb.redirectURL
	state := randomString(32)
	verifier := oauth2.GenerateVerifier()
	target := b.authorizationURL(cfg, authURL, state, verifier)

	out := b.Output
	if out == nil {
		out = os.Stderr
	}
	fmt.Fprintf(out, "Opening your browser to sign in. If it does not open, open this URL in a browser on this machine:\n\n    %s\n\n", target)
	open := b.Open
	if open == nil {
		open = OpenBrowser
	}
	o := startOpening(ctx, open, target)
	var taken *callbackCall // the authorization response Login took
	defer func() {
		if taken != nil {
			taken.waitSent() // the browser gets its page first
		}
		cb.close()
		o.end(taken != nil)
	}()

	timeout := b.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case err := <-o.result():
			o.returned = true
			if err != nil && ctx.Err() == nil {
				fmt.Fprintf(out, "login: could not open a browser: %s. Open the URL above by hand.\n", strings.TrimPrefix(err.Error(), "login: "))
			}
		case call := <-cb.calls:
			taken = &call
			tok, err := b.finish(ctx, cfg, authURL, tokenURL, call.query, state, verifier)
			call.outcome <- err
			return tok, err
		case <-timer.C:
			return nil, ErrTimeout
		case <-ctx.Done():
			return nil, fmt.Errorf("login: waiting for the browser: %w", ctx.Err())
		}
	}
}

// check returns a copy of b.Config and its checked endpoints.
func (b *Browser) check() (cfg *oauth2.Config, authURL, tokenURL *url.URL, err error) {
	if b.Config == nil || b.Config.ClientID == "" {
		return nil, nil, nil, errors.New("login: Browser.Config needs a ClientID")
	}
	if b.RequireIssuer && b.Issuer == "" {
		return nil, nil, nil, errors.New("login: Browser.RequireIssuer needs Browser.Issuer")
	}
	for k := range b.AuthParams {
		for _, r := range reservedAuthParams {
			if k == r {
				return nil, nil, nil, fmt.Errorf("login: Browser.AuthParams cannot set %s", k)
			}
		}
	}
	if authURL, err = checkURL("authorization endpoint", b.Config.Endpoint.AuthURL, b.AllowInsecureHTTP); err != nil {
		return nil, nil, nil, err
	}
	if tokenURL, err = checkURL("token endpoint", b.Config.Endpoint.TokenURL, b.AllowInsecureHTTP); err != nil {
		return nil, nil, nil, err
	}
	c := *b.Config
	return &c, authURL, tokenURL, nil
}

// authorizationURL returns the authorization request (RFC 6749 §4.1.1,
// RFC 7636 §4.3, RFC 8707 §2.1).
func (b *Browser) authorizationURL(cfg *oauth2.Config, authURL *url.URL, state, verifier string) string {
	u := *authURL
	q := u.Query()
	q.Set("response_type", "code")
	q.Set("client_id", cfg.ClientID)
	q.Set("redirect_uri", cfg.RedirectURL)
	if len(cfg.Scopes) > 0 {
		q.Set("scope", strings.Join(cfg.Scopes, " "))
	}
	q.Set("state", state)
	q.Set("code_challenge", oauth2.S256ChallengeFromVerifier(verifier))
	q.Set("code_challenge_method", "S256")
	if b.Resource != "" {
		q.Set("resource", b.Resource)
	}
	for k, vs := range b.AuthParams {
		for _, v := range vs {
			q.Add(k, v)
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// finish checks the authorization response q (RFC 6749 §4.1.2, RFC 9207
// §2.4) and exchanges its code (RFC 6749 §4.1.3). Its errors carry none of
// the login's secrets, even where the server echoed them.
func (b *Browser) finish(ctx context.Context, cfg *oauth2.Config, authURL, tokenURL *url.URL, q url.Values, state, verifier string) (*authtransport.Token, error) {
	s := append(secrets{q.Get("code"), verifier}, clientSecrets(cfg)...)
	tok, err := b.exchange(ctx, cfg, authURL, tokenURL, q, state, verifier)
	return tok, s.clean(err)
}

// exchange is finish before its errors are cleaned.
func (b *Browser) exchange(ctx context.Context, cfg *oauth2.Config, authURL, tokenURL *url.URL, q url.Values, state, verifier string) (*authtransport.Token, error) {
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(state)) != 1 {
		return nil, &MismatchError{Field: FieldState, URL: redact(authURL)}
	}
	if iss := q.Get("iss"); b.Issuer != "" && (iss != "" || b.RequireIssuer) && iss != b.Issuer {
		return nil, &MismatchError{Field: FieldIss, URL: redact(authURL), Want: b.Issuer, Got: iss}
	}
	code := q.Get("code")
	if e := q.Get("error"); e != "" {
		if !isErrorCode(e) {
			return nil, &ResponseError{URL: redact(authURL), Reason: badErrorCode}
		}
		return nil, &OAuthError{Endpoint: redact(authURL), Code: e,
			Description: q.Get("error_description"), URI: q.Get("error_uri")}
	}
	if code == "" {
		return nil, &ResponseError{URL: redact(authURL), Reason: "the authorization response has neither code nor error"}
	}
	form := url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"redirect_uri":  {cfg.RedirectURL},
		"code_verifier": {verifier},
	}
	if b.Resource != "" {
		form.Set("resource", b.Resource)
	}
	return requestToken(ctx, cfg, tokenURL, form)
}

// randomString returns n random bytes, base64url encoded.
func randomString(n int) string {
	p := make([]byte, n)
	_, _ = rand.Read(p) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(p)
}
