package authtransport

import (
	"context"
	"io"
	"net/http"
	"time"

	"golang.org/x/oauth2"
)

// refreshContext returns the context for a Refresher call. Its
// [oauth2.HTTPClient], the one ctx had or [http.DefaultClient], is wrapped
// so that a token request, once sent, is not abandoned at the refresh
// deadline (see sentNotAbandoned); with DPoP set it also adds a DPoP proof
// to each POST and handles the authorization server's nonce (RFC 9449 §8).
// Refreshers that take their client from the context, as the oauth2
// package and the built-in ones do, get both.
func (t *Transport) refreshContext(ctx context.Context) context.Context {
	var c http.Client
	if hc, ok := ctx.Value(oauth2.HTTPClient).(*http.Client); ok && hc != nil {
		c = *hc
	}
	base := c.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	base = sentNotAbandoned{base: base, limit: max(10*t.refreshTimeout(), 2*time.Minute)}
	if t.DPoP != nil {
		base = &tokenRequestProver{base: base, dpop: t.DPoP}
	}
	c.Transport = base
	return context.WithValue(ctx, oauth2.HTTPClient, &c)
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
