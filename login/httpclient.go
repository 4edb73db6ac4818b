package login

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// Requests to the authorization server. The HTTP client comes from the
// context under oauth2.HTTPClient, as in the oauth2 package and the
// Refreshers of authtransport, or is http.DefaultClient; every request
// made with it here
//   - goes over https, or plain http only to loopback unless
//     AllowInsecureHTTP (checked on every URL before it is used);
//   - follows no redirect when it carries credentials (token and device
//     authorization requests), and only redirects within the same origin
//     when it fetches metadata: anything else is a *RedirectError;
//   - is bounded by requestTimeout, and reads at most maxBody of the
//     answer.

const (
	// requestTimeout bounds each request to the authorization server.
	requestTimeout = 30 * time.Second
	// maxBody bounds the answers read.
	maxBody = 1 << 20
	// maxSameOriginRedirects bounds the redirects a metadata request
	// follows.
	maxSameOriginRedirects = 5
)

// redirects says which redirects a request follows.
type redirects int

const (
	noRedirects redirects = iota
	sameOriginRedirects
)

// client returns the HTTP client for requests made with ctx.
func client(ctx context.Context, policy redirects) *http.Client {
	var c http.Client
	if hc, ok := ctx.Value(oauth2.HTTPClient).(*http.Client); ok && hc != nil {
		c = *hc
	}
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		from := via[len(via)-1]
		status := 0
		if req.Response != nil {
			status = req.Response.StatusCode
		}
		if policy == sameOriginRedirects && len(via) <= maxSameOriginRedirects && sameOrigin(from.URL, req.URL) {
			return nil
		}
		return &RedirectError{From: redact(from.URL), To: redact(req.URL), StatusCode: status}
	}
	return &c
}

// fetch sends req and returns the answer's status, header and body, at
// most maxBody of it. A failure to send is returned as an error naming
// what (such as "token request"), req's URL and the cause.
func fetch(ctx context.Context, policy redirects, req *http.Request, what string) (int, http.Header, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	resp, err := client(ctx, policy).Do(req.WithContext(ctx))
	if err != nil {
		var re *RedirectError
		if errors.As(err, &re) {
			return 0, nil, nil, re
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, nil, nil, fmt.Errorf("login: %s to %s: %w", what, redact(req.URL), err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("login: %s to %s: reading the answer: %w", what, redact(req.URL), err)
	}
	if len(body) > maxBody {
		return 0, nil, nil, &ResponseError{URL: redact(req.URL), StatusCode: resp.StatusCode, Reason: "the answer is larger than 1 MiB"}
	}
	return resp.StatusCode, resp.Header, body, nil
}

// checkURL parses raw, the URL of an endpoint named by what, and checks
// that it is absolute and https, or http to a loopback host, or http to any
// host when allowInsecure.
func checkURL(what, raw string, allowInsecure bool) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return nil, fmt.Errorf("login: %s %q is not an absolute URL", what, redactString(raw))
	}
	switch {
	case strings.EqualFold(u.Scheme, "https"):
	case strings.EqualFold(u.Scheme, "http") && (allowInsecure || isLoopback(u.Hostname())):
	case strings.EqualFold(u.Scheme, "http"):
		return nil, fmt.Errorf("login: %s %s is not https: plain http goes only to loopback addresses (see AllowInsecureHTTP)", what, redact(u))
	default:
		return nil, fmt.Errorf("login: %s %s is neither https nor http", what, redact(u))
	}
	return u, nil
}

// isLoopback reports whether host is localhost or a loopback IP address.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") || strings.EqualFold(host, "localhost.") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// sameOrigin reports whether a and b have the same scheme, host and port.
func sameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Hostname(), b.Hostname()) &&
		portOf(a) == portOf(b)
}

func portOf(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if strings.EqualFold(u.Scheme, "https") {
		return "443"
	}
	return "80"
}

// redact returns u without its user information, query and fragment, for
// messages.
func redact(u *url.URL) string {
	if u == nil {
		return "(none)"
	}
	c := *u
	c.User, c.RawQuery, c.ForceQuery, c.Fragment, c.RawFragment = nil, "", false, "", ""
	return c.String()
}

// redactString is redact for a URL that may not parse.
func redactString(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		if i := strings.IndexAny(raw, "?#"); i >= 0 {
			return raw[:i]
		}
		return raw
	}
	return redact(u)
}
