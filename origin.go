package authtransport

import (
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// origin is a scheme, host and port (RFC 6454), lower case, with the
// scheme's default port filled in.
type origin struct {
	scheme, host, port string
}

// parseOrigin parses "scheme://host[:port]" with an http or https scheme
// and nothing else but an optional trailing "/".
func parseOrigin(s string) (origin, error) {
	u, err := url.Parse(s)
	if err != nil || !validHost(u.Hostname()) || !validPort(u.Port()) || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" ||
		(!strings.EqualFold(u.Scheme, "https") && !strings.EqualFold(u.Scheme, "http")) {
		return origin{}, fmt.Errorf("authtransport: Transport.Origins: %q is not an origin like https://api.example.com", s)
	}
	o := origin{scheme: strings.ToLower(u.Scheme), host: strings.ToLower(u.Hostname()), port: u.Port()}
	if o.port == "" {
		o.port = defaultPort(o.scheme)
	}
	return o, nil
}

// validHost reports whether h is a non-empty host name or IP address; a
// colon is allowed only in an IPv6 address.
func validHost(h string) bool {
	if !strings.Contains(h, ":") {
		return h != ""
	}
	_, err := netip.ParseAddr(h)
	return err == nil
}

// validPort reports whether p is empty or a port number.
func validPort(p string) bool {
	n, err := strconv.ParseUint(p, 10, 16)
	return p == "" || (err == nil && n > 0)
}

func defaultPort(scheme string) string {
	switch {
	case strings.EqualFold(scheme, "https"):
		return "443"
	case strings.EqualFold(scheme, "http"):
		return "80"
	}
	return ""
}

// matches reports whether u is of origin o, without allocating.
func (o origin) matches(u *url.URL) bool {
	port := u.Port()
	if port == "" {
		port = defaultPort(u.Scheme)
	}
	return strings.EqualFold(o.scheme, u.Scheme) && sameHost(o.host, u.Hostname()) && o.port == port
}

// sameHost compares host names case-insensitively and IP addresses by
// value, so that "::1" and "0:0:0:0:0:0:0:1" match.
func sameHost(a, b string) bool {
	if strings.EqualFold(a, b) {
		return true
	}
	ia, err := netip.ParseAddr(a)
	if err != nil {
		return false
	}
	ib, err := netip.ParseAddr(b)
	return err == nil && ia == ib
}

// sameOrigin reports whether a and b have the same origin.
func sameOrigin(a, b *url.URL) bool {
	pa, pb := a.Port(), b.Port()
	if pa == "" {
		pa = defaultPort(a.Scheme)
	}
	if pb == "" {
		pb = defaultPort(b.Scheme)
	}
	return strings.EqualFold(a.Scheme, b.Scheme) && sameHost(a.Hostname(), b.Hostname()) && pa == pb
}

// isLoopback reports whether host (without port or brackets) is a loopback
// address or "localhost".
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		// Not "localhost.": proxies from the environment are skipped for
		// "localhost" and loopback addresses only, so a request to it may
		// cross the network in the clear.
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// maxRedirectChain bounds the redirects walked back to a request's first
// one (http.Client stops after 10).
const maxRedirectChain = 64

// Why a request goes without credentials (Event.Detail of
// EventNoCredentials).
const (
	skipPlainHTTP        = "plain-http"
	skipOtherOrigin      = "other-origin"
	skipOwnAuthorization = "own-authorization"
)

// skips returns why req must not carry the token, or "" when it may: it is
// for one of the token's origins, goes over https (or http to loopback,
// unless AllowInsecureHTTP), and the caller did not set Authorization
// itself (in any case of the name).
func (t *Transport) skips(req *http.Request, origins []origin) string {
	u := req.URL
	switch {
	case u == nil:
		return skipOtherOrigin
	case hasAuthorization(req.Header):
		return skipOwnAuthorization
	case strings.EqualFold(u.Scheme, "https"):
	case strings.EqualFold(u.Scheme, "http"):
		if !t.AllowInsecureHTTP && !isLoopback(u.Hostname()) {
			return skipPlainHTTP
		}
	default:
		return skipOtherOrigin
	}
	if len(t.Origins) > 0 {
		for _, o := range origins {
			if o.matches(u) {
				return ""
			}
		}
		return skipOtherOrigin
	}
	// A redirect keeps the token only within the first request's origin.
	// A redirected request whose first request is unknown (a Base that
	// returns responses without Request) gets nothing.
	first := req
	for hops := 0; first.Response != nil; hops++ {
		if first.Response.Request == nil || first.Response.Request.URL == nil || hops > maxRedirectChain {
			return skipOtherOrigin // unknown, or a cycle a hand-made request may hold
		}
		first = first.Response.Request
	}
	if first != req && !sameOrigin(first.URL, u) {
		return skipOtherOrigin
	}
	return ""
}

// hasAuthorization reports whether h has an Authorization field, under its
// canonical key or any other spelling of it (a key set directly in the
// map).
func hasAuthorization(h http.Header) bool {
	if _, ok := h["Authorization"]; ok {
		return true
	}
	for k := range h {
		if len(k) == len("Authorization") && strings.EqualFold(k, "Authorization") {
			return true
		}
	}
	return false
}
