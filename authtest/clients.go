package authtest

import (
	"crypto/subtle"
	"net/http"
	"net/url"

	"golang.org/x/oauth2"
)

// client is the client a request authenticated as.
type client struct {
	id     string
	public bool
}

// RegisterPublicClient makes the server know a public client (RFC 6749
// §2.1), such as a command-line tool, that has no secret. It authenticates
// with its client_id alone, in the form body (or as the user name of a
// Basic authorization with an empty password), and may use the
// authorization code grant (with PKCE, as every client must here), the
// device authorization grant and the refresh token grant, not client
// credentials. Codes, device codes and refresh tokens are bound to the
// client they were issued to.
//
// It returns an [oauth2.Config] for the client, with the authorization,
// device authorization and token endpoints and [oauth2.AuthStyleInParams];
// each call returns a new one. Registering an id twice is harmless. It
// panics if id is empty or is the server's ClientID.
func (s *Server) RegisterPublicClient(id string) *oauth2.Config {
	if id == "" || id == s.ClientID {
		panic("authtest: RegisterPublicClient: the id must be non-empty and differ from Server.ClientID")
	}
	s.mu.Lock()
	s.publicClients[id] = true
	s.mu.Unlock()
	return &oauth2.Config{ClientID: id, Endpoint: s.endpoint(oauth2.AuthStyleInParams)}
}

// knownClient reports whether id is the server's client or a registered
// public one.
func (s *Server) knownClient(id string) bool {
	if id == s.ClientID {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.publicClients[id]
}

// authenticateClient checks client_secret_basic or client_secret_post for
// the server's client, and the client_id alone for a public one.
func (s *Server) authenticateClient(r *http.Request) (client, *oauthError) {
	formID, formSecret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	id, secret, basic := r.BasicAuth()
	switch {
	case basic && formSecret != "":
		return client{}, errorf("invalid_request", "the client used more than one authentication method")
	case basic:
		if v, err := url.QueryUnescape(id); err == nil {
			id = v
		}
		if v, err := url.QueryUnescape(secret); err == nil {
			secret = v
		}
		if formID != "" && formID != id {
			return client{}, errorf("invalid_request", "client_id does not match the authenticated client")
		}
	case formID == "":
		return client{}, &oauthError{status: http.StatusUnauthorized, code: "invalid_client", description: "client authentication is required",
			header: http.Header{"Www-Authenticate": {`Basic realm="` + Realm + `"`}}}
	default:
		id, secret = formID, formSecret
	}
	if id != s.ClientID && s.knownClient(id) {
		if secret != "" {
			return client{}, &oauthError{status: http.StatusUnauthorized, code: "invalid_client", description: "a public client has no secret"}
		}
		return client{id: id, public: true}, nil
	}
	okID := subtle.ConstantTimeCompare([]byte(id), []byte(s.ClientID)) == 1
	okSecret := subtle.ConstantTimeCompare([]byte(secret), []byte(s.ClientSecret)) == 1
	if !okID || !okSecret {
		oerr := &oauthError{status: http.StatusUnauthorized, code: "invalid_client", description: "client authentication failed"}
		if basic {
			oerr.header = http.Header{"Www-Authenticate": {`Basic realm="` + Realm + `"`}}
		}
		return client{}, oerr
	}
	return client{id: id}, nil
}

// issuedTo reports whether a grant, code or device code bound to owner
// may be used by c. An empty owner (a grant made by IssueToken) is bound
// to no client.
func issuedTo(owner string, c client) bool {
	return owner == "" || owner == c.id
}
