package authtest

import (
	"net/url"
	"slices"
)

// Resource indicators (RFC 8707). A client may name, with resource
// parameters, the resources a token is meant for; the authorization
// server remembers them on the grant, and the protected resource, whose
// identifier is URL+"/api/" (the resource of its metadata), refuses a
// token meant only for others.

// resourceID returns the protected resource's identifier.
func (s *Server) resourceID() string { return s.URL + "/api/" }

// validResources reports whether every value is an absolute URI without a
// fragment (RFC 8707 §2).
func validResources(values []string) bool {
	for _, v := range values {
		u, err := url.Parse(v)
		if err != nil || !u.IsAbs() || u.Fragment != "" || u.RawFragment != "" {
			return false
		}
	}
	return true
}

// narrowResources returns the resources of a token request: the requested
// ones if they are among those of the authorization request, all of those
// if none is requested (RFC 8707 §2.2).
func narrowResources(authorized, requested []string) ([]string, *oauthError) {
	if len(requested) == 0 {
		return authorized, nil
	}
	for _, r := range requested {
		if !validResources([]string{r}) || (len(authorized) > 0 && !slices.Contains(authorized, r)) {
			return nil, errorf("invalid_target", "the resource was not part of the authorization")
		}
	}
	return requested, nil
}

// meantFor reports whether a token of a grant with resources may be used
// at the resource id: a grant without resources serves any.
func meantFor(resources []string, id string) bool {
	return len(resources) == 0 || slices.Contains(resources, id)
}
