package login

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Discovery finds what a client needs to log in: from an issuer, the
// authorization server's metadata (RFC 8414, then OpenID Connect Discovery
// 1.0); from a protected resource's metadata (RFC 9728), such as the
// resource_metadata URL of a 401's challenge, the authorization servers
// that issue tokens for it.
//
// Every document is checked before it is used: authorization server
// metadata must name the issuer it was fetched for (RFC 8414 §3.3), and
// protected resource metadata must describe the resource the client
// called (RFC 9728 §3.3); a document that does not is a [*MismatchError].
// Metadata requests use the HTTP client of the context (under
// [oauth2.HTTPClient]) or [http.DefaultClient], go over https (plain http
// only to loopback unless AllowInsecureHTTP), follow redirects within the
// same origin only (at most five), are bounded by 30 s each, and read at
// most 1 MiB. A redirect to another origin is a [*RedirectError]: the
// document found there would speak for a server the caller did not name.
//
// The zero value is ready to use. A Discovery is safe for concurrent use;
// it caches nothing.
type Discovery struct {
	// AllowInsecureHTTP lets issuers, metadata documents and resources
	// be plain http:// on hosts other than loopback.
	AllowInsecureHTTP bool
}

// Server fetches the metadata of the authorization server whose issuer
// identifier is issuer: from /.well-known/oauth-authorization-server
// inserted before the issuer's path (RFC 8414 §3.1), and if that answers
// 4xx, from /.well-known/openid-configuration appended to it (OpenID
// Connect Discovery §4) and, for an issuer with a path, inserted before it
// (RFC 8414 §5).
//
// It returns a [*MismatchError] (FieldIssuer) when the document names
// another issuer, a [*ResponseError] when no location has metadata or the
// document is not metadata (not JSON, or no token_endpoint), and a
// [*RedirectError] for a redirect to another origin.
func (d *Discovery) Server(ctx context.Context, issuer string) (*ServerMetadata, error) {
	iu, err := checkURL("issuer", issuer, d.AllowInsecureHTTP)
	if err != nil {
		return nil, err
	}
	if iu.RawQuery != "" || iu.ForceQuery || iu.Fragment != "" || iu.User != nil {
		return nil, fmt.Errorf("login: issuer %s has a query, a fragment or user information (RFC 8414 §2)", redact(iu))
	}
	locations := serverMetadataURLs(iu)
	var first *ResponseError
	for _, loc := range locations {
		var md ServerMetadata
		err := d.getJSON(ctx, loc, &md)
		var re *ResponseError
		if errors.As(err, &re) && re.StatusCode >= 400 && re.StatusCode < 500 {
			if first == nil {
				first = re
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		if md.Issuer != issuer {
			return nil, &MismatchError{Field: FieldIssuer, URL: loc, Want: issuer, Got: md.Issuer}
		}
		if md.TokenEndpoint == "" {
			return nil, &ResponseError{URL: loc, StatusCode: http.StatusOK, Reason: "the metadata has no token_endpoint"}
		}
		return &md, nil
	}
	return nil, &ResponseError{URL: first.URL, StatusCode: first.StatusCode,
		Reason: "no authorization server metadata here, nor at " + strings.Join(locations[1:], " or ")}
}

// serverMetadataURLs returns where the metadata of issuer u may be, in the
// order they are tried.
func serverMetadataURLs(u *url.URL) []string {
	origin := u.Scheme + "://" + u.Host
	path := strings.TrimSuffix(u.EscapedPath(), "/")
	urls := []string{
		origin + "/.well-known/oauth-authorization-server" + path,
		origin + path + "/.well-known/openid-configuration",
	}
	if path != "" {
		urls = append(urls, origin+"/.well-known/openid-configuration"+path)
	}
	return urls
}

// Resource fetches the protected resource metadata at metadataURL, the
// resource_metadata of a challenge (see
// [github.com/d5c4ca72/authtransport/wwwauth.Challenge.ResourceMetadata]),
// and checks that it describes resourceURL, the URL the client called. An
// empty metadataURL means the location RFC 9728 §3.1 derives from
// resourceURL: /.well-known/oauth-protected-resource inserted before its
// path.
//
// The metadata's resource must be resourceURL itself, as RFC 9728 §3.3
// asks, or, as protected resources commonly name the API rather than each
// URL in it, a URL of the same origin whose path is a prefix of
// resourceURL's path at a "/" (the resource https://api.example.com/v1/
// covers https://api.example.com/v1/items). Anything else, another origin
// above all, is a [*MismatchError] (FieldResource). It returns a
// [*ResponseError] for a document that is not metadata or lists no
// authorization server, and a [*RedirectError] for a redirect to another
// origin.
func (d *Discovery) Resource(ctx context.Context, metadataURL, resourceURL string) (*ResourceMetadata, error) {
	ru, err := checkURL("resource", resourceURL, d.AllowInsecureHTTP)
	if err != nil {
		return nil, err
	}
	if metadataURL == "" {
		metadataURL = resourceMetadataURL(ru)
	}
	mu, err := checkURL("resource metadata", metadataURL, d.AllowInsecureHTTP)
	if err != nil {
		return nil, err
	}
	var md ResourceMetadata
	if err := d.getJSON(ctx, mu.String(), &md); err != nil {
		return nil, err
	}
	if !covers(md.Resource, ru) {
		return nil, &MismatchError{Field: FieldResource, URL: redact(mu), Want: redact(ru), Got: md.Resource}
	}
	if len(md.AuthorizationServers) == 0 {
		return nil, &ResponseError{URL: redact(mu), StatusCode: http.StatusOK, Reason: "the resource metadata lists no authorization_servers"}
	}
	return &md, nil
}

// ForResource runs [Discovery.Resource] and then [Discovery.Server] for
// the resource's authorization servers in their order, and returns the
// resource's metadata with that of the first authorization server whose
// metadata passes the checks. When none does, the error joins theirs.
func (d *Discovery) ForResource(ctx context.Context, metadataURL, resourceURL string) (*ResourceMetadata, *ServerMetadata, error) {
	rm, err := d.Resource(ctx, metadataURL, resourceURL)
	if err != nil {
		return nil, nil, err
	}
	var errs []error
	for _, issuer := range rm.AuthorizationServers {
		sm, err := d.Server(ctx, issuer)
		if err == nil {
			return rm, sm, nil
		}
		if ctx.Err() != nil {
			return nil, nil, err
		}
		errs = append(errs, err)
	}
	return nil, nil, errors.Join(errs...)
}

// resourceMetadataURL returns the metadata location RFC 9728 §3.1 derives
// from the resource URL u.
func resourceMetadataURL(u *url.URL) string {
	path := u.EscapedPath()
	if path == "/" {
		path = ""
	}
	return u.Scheme + "://" + u.Host + "/.well-known/oauth-protected-resource" + path
}

// covers reports whether the resource identifier resource describes the
// URL u (see Resource).
func covers(resource string, u *url.URL) bool {
	r, err := url.Parse(resource)
	if err != nil || !r.IsAbs() || r.Fragment != "" || r.User != nil || !sameOrigin(r, u) {
		return false
	}
	rp, up := r.EscapedPath(), u.EscapedPath()
	if rp == "" {
		rp = "/"
	}
	if up == "" {
		up = "/"
	}
	if r.RawQuery != "" {
		return rp == up && r.RawQuery == u.RawQuery
	}
	return rp == up || (strings.HasSuffix(rp, "/") && strings.HasPrefix(up, rp)) || strings.HasPrefix(up, rp+"/")
}

// getJSON fetches the JSON document at loc into v.
func (d *Discovery) getJSON(ctx context.Context, loc string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, loc, nil)
	if err != nil {
		return fmt.Errorf("login: metadata URL %s: %w", redactString(loc), err)
	}
	req.Header.Set("Accept", "application/json")
	status, _, body, err := fetch(ctx, sameOriginRedirects, req, "metadata request")
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return &ResponseError{URL: redact(req.URL), StatusCode: status, Reason: "no metadata document"}
	}
	if err := json.Unmarshal(body, v); err != nil {
		return &ResponseError{URL: redact(req.URL), StatusCode: status, Reason: "the metadata is not a JSON object of the expected form"}
	}
	return nil
}
