package authtransport

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/d5c4ca72/authtransport/wwwauth"
)

// The HTTP client of the token endpoint. A Refresher takes it from its
// context (oauth2.HTTPClient), as the oauth2 package and the Refreshers of
// this package do; the Transport wraps the one the context had, or
// http.DefaultClient, so that token requests:
//   - follow no redirect: a refresh token or a client secret goes only to
//     the token endpoint's own origin, also when it is in the form body;
//   - go over https, or plain http only to loopback, unless
//     AllowInsecureHTTP;
//   - carry a DPoP proof when the Transport has a DPoP key, and are resent
//     once with the nonce the authorization server asks for (RFC 9449 §8);
//   - once sent, are awaited past the refresh deadline, so that a refresh
//     token the server has already rotated is not lost.

// tokenContext returns ctx with the wrapped client under oauth2.HTTPClient.
func (t *Transport) tokenContext(ctx context.Context) context.Context {
	var c http.Client
	if hc, ok := ctx.Value(oauth2.HTTPClient).(*http.Client); ok && hc != nil {
		c = *hc
	}
	base := c.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	base = tokenEndpointGuard{base: base, allowInsecure: t.AllowInsecureHTTP}
	base = sentNotAbandoned{base: base, limit: max(10*t.refreshTimeout(), 2*time.Minute)}
	if t.DPoP != nil {
		base = &tokenRequestProver{base: base, dpop: t.DPoP}
	}
	c.Transport = base
	c.CheckRedirect = refuseRedirect
	return context.WithValue(ctx, oauth2.HTTPClient, &c)
}

// tokenEndpointError is a token request the Transport refused to send or
// to follow.
type tokenEndpointError struct {
	msg      string
	terminal bool // a configuration error: retrying cannot help
}

func (e *tokenEndpointError) Error() string { return e.msg }

// refuseRedirect is the token client's CheckRedirect: token requests never
// follow redirects.
func refuseRedirect(req *http.Request, via []*http.Request) error {
	from := "(unknown)"
	status := 0
	if len(via) > 0 {
		from = withoutQuery(via[0].URL.String())
	}
	if req.Response != nil {
		status = req.Response.StatusCode
	}
	return &tokenEndpointError{msg: fmt.Sprintf("authtransport: token endpoint %s answered %d, a redirect to %s; token requests do not follow redirects", from, status, endpointName(req.URL))}
}

// endpointName returns u's origin and path, without query, user or fragment.
func endpointName(u *url.URL) string {
	if u == nil {
		return "(none)"
	}
	return withoutQuery(u.String())
}

// tokenEndpointGuard refuses token requests over plain http to a host that
// is not loopback, unless allowInsecure.
type tokenEndpointGuard struct {
	base          http.RoundTripper
	allowInsecure bool
}

func (g tokenEndpointGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	u := req.URL
	if u == nil || !(strings.EqualFold(u.Scheme, "https") ||
		(strings.EqualFold(u.Scheme, "http") && (g.allowInsecure || isLoopback(u.Hostname())))) {
		closeBody(req.Body)
		return nil, &tokenEndpointError{msg: "authtransport: token endpoint " + endpointName(u) + " is not https: credentials go over plain http only to loopback (see Transport.AllowInsecureHTTP)", terminal: true}
	}
	return g.base.RoundTrip(req)
}

// sentNotAbandoned sends a token request that the refresh deadline has not
// yet cut, and then waits for the answer up to limit even past that
// deadline: a server that rotates refresh tokens may have committed the
// new one already, and dropping its answer would lose it (the next refresh
// would present the spent one, and servers that detect reuse revoke the
// grant). Callers still stop waiting on their own deadlines; the flight
// saves the token when it comes.
type sentNotAbandoned struct {
	base  http.RoundTripper
	limit time.Duration
}

func (s sentNotAbandoned) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := req.Context().Err(); err != nil {
		closeBody(req.Body)
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(req.Context()), s.limit)
	resp, err := s.base.RoundTrip(req.WithContext(ctx))
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// cancelOnClose releases a request's context when its body is closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

// maxTokenRequestBody bounds a token request body buffered for a resend.
const maxTokenRequestBody = 1 << 20

// maxErrorBody bounds how much of a token endpoint's error answer is read to
// find its error code.
const maxErrorBody = 64 << 10

// tokenRequestProver adds DPoP proofs to token requests (POSTs) and resends
// one once when the authorization server asks for a nonce with a 400
// use_dpop_nonce answer (RFC 9449 §8).
type tokenRequestProver struct {
	base http.RoundTripper
	dpop *DPoP
}

func (p *tokenRequestProver) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodPost || req.URL == nil || len(req.Header["Dpop"]) > 0 {
		return p.base.RoundTrip(req)
	}
	body, getBody := req.Body, req.GetBody
	if getBody == nil && body != nil && body != http.NoBody {
		buf, err := io.ReadAll(io.LimitReader(body, maxTokenRequestBody+1))
		_ = body.Close()
		if err != nil {
			return nil, fmt.Errorf("authtransport: read token request body: %w", err)
		}
		if len(buf) > maxTokenRequestBody {
			return nil, errors.New("authtransport: token request body too large to replay")
		}
		getBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf)), nil }
		body, _ = getBody()
	}
	for attempt := 0; ; attempt++ {
		proof, err := p.dpop.proof(req.Method, req.URL, req.Host, "", time.Now())
		if err != nil {
			closeBody(body)
			return nil, err
		}
		r2 := new(http.Request)
		*r2 = *req
		r2.Body = body
		r2.Header = headerWith(req.Header, "Dpop", proof)
		resp, err := p.base.RoundTrip(r2)
		if err != nil {
			return nil, err
		}
		p.dpop.observe(req.URL, resp)
		if attempt > 0 || !askedForNonce(resp) {
			return resp, nil
		}
		switch {
		case body == nil || body == http.NoBody:
		case getBody == nil:
			return resp, nil
		default:
			if body, err = getBody(); err != nil || body == nil {
				return resp, nil
			}
		}
		drainAndClose(resp)
	}
}

// askedForNonce reports whether resp is an authorization server's request
// for a DPoP nonce: a 400 (or 401) JSON error use_dpop_nonce with a
// DPoP-Nonce header (RFC 9449 §8). It reads the start of the body of such a
// candidate and puts it back.
func askedForNonce(resp *http.Response) bool {
	if resp.StatusCode != http.StatusBadRequest && resp.StatusCode != http.StatusUnauthorized {
		return false
	}
	if v := resp.Header["Dpop-Nonce"]; len(v) == 0 || !validNonce(v[0]) || resp.Body == nil {
		return false
	}
	head, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	orig := resp.Body
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(head), orig), orig}
	if err != nil {
		return false
	}
	var answer struct {
		Error string `json:"error"`
	}
	return json.Unmarshal(head, &answer) == nil && answer.Error == wwwauth.CodeUseDPoPNonce
}
