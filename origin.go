package authtransport

import (
	"net/http"
	"net/netip"
	"net/url"
	"strings"
)

// origin is a scheme, host and port (RFC 6454), lower case, with the
// scheme's default port filled in.
type origin struct {
	scheme, host, port string
}

// parseOrigin parses "scheme://host[:port]"; a path, if any, is ignored.
func parseOrigin(s string) (origin, bool) {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return origin{}, false
	}
	o := origin{scheme: strings.ToLower(u.Scheme), host: strings.ToLower(u.Hostname()), port: u.Port()}
	if o.port == "" {
		o.port = defaultPort(o.scheme)
	}
	return o, o.scheme == "https" || o.scheme == "http"
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
	return strings.EqualFold(o.scheme, u.Scheme) && strings.EqualFold(o.host, u.Hostname()) && o.port == port
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
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Hostname(), b.Hostname()) && pa == pb
}

// isLoopback reports whether host (without port or brackets) is a loopback
// address or "localhost".
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") || strings.EqualFold(host, "localhost.") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// authorizes reports whether req should carry the token: it is for one of
// the token's origins, it goes over https (or http to loopback, unless
// AllowInsecureHTTP), and the caller did not set Authorization itself.
func (t *Transport) authorizes(req *http.Request) bool {
	u := req.URL
	if u == nil {
		return false
	}
	if _, ok := req.Header["Authorization"]; ok {
		return false
	}
	switch {
	case strings.EqualFold(u.Scheme, "https"):
	case strings.EqualFold(u.Scheme, "http"):
		if !t.AllowInsecureHTTP && !isLoopback(u.Hostname()) {
			return false
		}
	default:
		return false
	}
	if len(t.Origins) > 0 {
		for _, o := range t.origins {
			if o.matches(u) {
				return true
			}
		}
		return false
	}
	// A redirect keeps the token only within the first request's origin.
	first := req
	for first.Response != nil && first.Response.Request != nil {
		first = first.Response.Request
	}
	return first == req || sameOrigin(first.URL, u)
}
