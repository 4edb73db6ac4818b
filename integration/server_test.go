package integration

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/compose"
	"github.com/ory/fosite/storage"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// The client registered at every test server. The secret is test data, not a
// credential of anything.
const (
	clientID     = "integration-client"
	clientSecret = "integration-secret"
	redirectURL  = "http://127.0.0.1/callback"
	subject      = "alice"
)

// Scopes: fosite issues a refresh token only when "offline" was granted.
const (
	scopeOffline = "offline"
	scopeAPI     = "api.read"
)

// fositeServer is a fosite authorization server and a protected resource
// that checks its tokens, both on loopback. fosite is configured strictly:
// refresh tokens rotate, a rotated refresh token presented again revokes
// the grant (fosite's reuse detection), and PKCE is required.
type fositeServer struct {
	// AS is the authorization server: /oauth2/auth, /oauth2/token,
	// /oauth2/revoke.
	AS *httptest.Server
	// API is the protected resource: /resource answers 200 to a valid
	// access token and 401 with an RFC 6750 challenge otherwise.
	API *httptest.Server

	provider fosite.OAuth2Provider
	store    *storage.MemoryStore

	// mu serializes fosite's writes (token, authorize and revocation
	// endpoints, storage calls from tests) against everything else.
	// fosite's example MemoryStore is not safe for concurrent refreshes:
	// RevokeRefreshToken writes the refresh token map under another mutex
	// than GetRefreshTokenSession reads it (the race detector reports it
	// when ten refreshes of one token run at once), and having no
	// transactions, its check that a refresh token is still active and its
	// rotation are not one atomic step. Serialized, the store behaves like
	// a transactional one: a second use of a refresh token is always seen
	// as reuse. Requests still arrive concurrently; only fosite's work is
	// serialized.
	mu sync.RWMutex

	// fault, if set, is how the token endpoint answers instead of
	// passing the request to fosite.
	fault atomic.Pointer[tokenFault]

	// statsMu guards the counters below.
	statsMu     sync.Mutex
	grants      map[string]int // grant_type -> requests that reached fosite
	tokenErrors map[string]int // error code -> token endpoint refusals
	faulted     int            // token requests answered by fault
	resource    map[int]int    // status -> answers of /resource
}

// tokenFault is an answer the token endpoint gives without asking fosite.
type tokenFault struct {
	status     int
	retryAfter string
}

// newFositeServer starts a server whose access tokens live for
// accessTokenLifespan. Both listeners are closed when the test ends.
func newFositeServer(t *testing.T, accessTokenLifespan time.Duration) *fositeServer {
	t.Helper()
	secret := make([]byte, 32)
	_, err := rand.Read(secret)
	require.NoError(t, err, "global secret")
	// The lowest bcrypt cost keeps client authentication fast under the
	// race detector; the cost is taken from the hash.
	hash, err := bcrypt.GenerateFromPassword([]byte(clientSecret), bcrypt.MinCost)
	require.NoError(t, err, "hash client secret")

	config := &fosite.Config{
		AccessTokenLifespan:            accessTokenLifespan,
		RefreshTokenLifespan:           time.Hour,
		AuthorizeCodeLifespan:          time.Minute,
		GlobalSecret:                   secret,
		EnforcePKCE:                    true,
		EnablePKCEPlainChallengeMethod: false,
		ScopeStrategy:                  fosite.ExactScopeStrategy,
		RefreshTokenScopes:             []string{scopeOffline},
	}
	store := storage.NewExampleStore()
	store.Clients[clientID] = &fosite.DefaultClient{
		ID:            clientID,
		Secret:        hash,
		RedirectURIs:  []string{redirectURL},
		ResponseTypes: []string{"code"},
		GrantTypes:    []string{"authorization_code", "refresh_token", "client_credentials"},
		Scopes:        []string{scopeOffline, scopeAPI},
	}
	provider := compose.Compose(config, store, compose.NewOAuth2HMACStrategy(config),
		compose.OAuth2AuthorizeExplicitFactory,
		compose.OAuth2PKCEFactory,
		compose.OAuth2RefreshTokenGrantFactory,
		compose.OAuth2ClientCredentialsGrantFactory,
		compose.OAuth2TokenIntrospectionFactory,
		compose.OAuth2TokenRevocationFactory,
	)

	s := &fositeServer{
		provider:    provider,
		store:       store,
		grants:      map[string]int{},
		tokenErrors: map[string]int{},
		resource:    map[int]int{},
	}
	as := http.NewServeMux()
	as.HandleFunc("GET /oauth2/auth", s.authorize)
	as.HandleFunc("POST /oauth2/token", s.token)
	as.HandleFunc("POST /oauth2/revoke", s.revoke)
	s.AS = httptest.NewServer(as)
	t.Cleanup(s.AS.Close)
	api := http.NewServeMux()
	api.HandleFunc("/resource", s.protected)
	s.API = httptest.NewServer(api)
	t.Cleanup(s.API.Close)
	return s
}

// authorize approves every authorization request as the user subject and
// grants the scopes it asks for: the tests are about tokens, not login pages.
func (s *fositeServer) authorize(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ctx := r.Context()
	ar, err := s.provider.NewAuthorizeRequest(ctx, r)
	if err != nil {
		s.provider.WriteAuthorizeError(ctx, w, ar, err)
		return
	}
	for _, scope := range ar.GetRequestedScopes() {
		ar.GrantScope(scope)
	}
	resp, err := s.provider.NewAuthorizeResponse(ctx, ar, &fosite.DefaultSession{Subject: subject, Username: subject})
	if err != nil {
		s.provider.WriteAuthorizeError(ctx, w, ar, err)
		return
	}
	s.provider.WriteAuthorizeResponse(ctx, w, ar, resp)
}

// token is fosite's token endpoint, counted, with an optional fault in
// front of it.
func (s *fositeServer) token(w http.ResponseWriter, r *http.Request) {
	if f := s.fault.Load(); f != nil {
		s.statsMu.Lock()
		s.faulted++
		s.statsMu.Unlock()
		if f.retryAfter != "" {
			w.Header().Set("Retry-After", f.retryAfter)
		}
		http.Error(w, http.StatusText(f.status), f.status)
		return
	}
	// Parsing the form first is harmless: fosite parses it again.
	if err := r.ParseForm(); err == nil {
		s.statsMu.Lock()
		s.grants[r.PostForm.Get("grant_type")]++
		s.statsMu.Unlock()
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	ctx := r.Context()
	ar, err := s.provider.NewAccessRequest(ctx, r, &fosite.DefaultSession{})
	if err != nil {
		s.refused(ctx, w, ar, err)
		return
	}
	if ar.GetGrantTypes().ExactOne("client_credentials") {
		for _, scope := range ar.GetRequestedScopes() {
			ar.GrantScope(scope)
		}
	}
	resp, err := s.provider.NewAccessResponse(ctx, ar)
	if err != nil {
		s.refused(ctx, w, ar, err)
		return
	}
	s.provider.WriteAccessResponse(ctx, w, ar, resp)
}

// refused writes fosite's error answer and counts its code.
func (s *fositeServer) refused(ctx context.Context, w http.ResponseWriter, ar fosite.AccessRequester, err error) {
	s.statsMu.Lock()
	s.tokenErrors[fosite.ErrorToRFC6749Error(err).ErrorField]++
	s.statsMu.Unlock()
	s.provider.WriteAccessError(ctx, w, ar, err)
}

// revoke is fosite's RFC 7009 revocation endpoint.
func (s *fositeServer) revoke(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ctx := r.Context()
	s.provider.WriteRevocationResponse(ctx, w, s.provider.NewRevocationRequest(ctx, r))
}

// protected answers 200 to a request with an access token that fosite
// accepts, and 401 with an RFC 6750 challenge otherwise. fosite validates
// tokens but does not write the challenge, so this handler does.
func (s *fositeServer) protected(w http.ResponseWriter, r *http.Request) {
	scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") || tok == "" {
		// RFC 6750 §3.1: no error code when the request had no token.
		s.answer(w, http.StatusUnauthorized, `Bearer realm="integration"`, "no token\n")
		return
	}
	if _, ok := s.accessToken(r.Context(), tok); !ok {
		s.answer(w, http.StatusUnauthorized,
			`Bearer realm="integration", error="invalid_token", error_description="The access token is invalid, expired or revoked"`,
			"invalid token\n")
		return
	}
	s.answer(w, http.StatusOK, "", "hello "+subject+"\n")
}

func (s *fositeServer) answer(w http.ResponseWriter, status int, challenge, body string) {
	s.statsMu.Lock()
	s.resource[status]++
	s.statsMu.Unlock()
	if challenge != "" {
		w.Header().Set("WWW-Authenticate", challenge)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

// accessToken introspects tok at fosite and returns its request if it is an
// active access token (not a refresh token, not expired, not revoked).
func (s *fositeServer) accessToken(ctx context.Context, tok string) (fosite.AccessRequester, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	use, ar, err := s.provider.IntrospectToken(ctx, tok, fosite.AccessToken, &fosite.DefaultSession{})
	if err != nil || use != fosite.AccessToken {
		return nil, false
	}
	return ar, true
}

// active reports whether fosite accepts tok as an access token.
func (s *fositeServer) active(tok string) bool {
	_, ok := s.accessToken(context.Background(), tok)
	return ok
}

// revokeAccessTokenInStorage revokes the access token tok through fosite's
// storage, as an administrator would, leaving its refresh token alone.
func (s *fositeServer) revokeAccessTokenInStorage(t *testing.T, tok string) {
	t.Helper()
	ar, ok := s.accessToken(context.Background(), tok)
	require.True(t, ok, "the access token to revoke is active")
	s.mu.Lock()
	defer s.mu.Unlock()
	require.NoError(t, s.store.RevokeAccessToken(context.Background(), ar.GetID()), "revoke in storage")
}

// revokeAtEndpoint revokes tok through the RFC 7009 revocation endpoint.
func (s *fositeServer) revokeAtEndpoint(t *testing.T, tok, hint string) {
	t.Helper()
	form := url.Values{"token": {tok}, "token_type_hint": {hint}}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.AS.URL+"/oauth2/revoke", strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(clientSecret))
	resp, err := s.AS.Client().Do(req)
	require.NoError(t, err, "revocation request")
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "revocation endpoint status")
}

// failTokenEndpoint makes the token endpoint answer status (with a
// Retry-After of retryAfter seconds, if positive) until clearFault.
func (s *fositeServer) failTokenEndpoint(status, retryAfter int) {
	f := &tokenFault{status: status}
	if retryAfter > 0 {
		f.retryAfter = strconv.Itoa(retryAfter)
	}
	s.fault.Store(f)
}

func (s *fositeServer) clearFault() { s.fault.Store(nil) }

// grantCount returns how many token requests of grantType reached fosite.
func (s *fositeServer) grantCount(grantType string) int {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	return s.grants[grantType]
}

// tokenErrorCounts returns a copy of the token endpoint's refusals by code.
func (s *fositeServer) tokenErrorCounts() map[string]int {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	m := make(map[string]int, len(s.tokenErrors))
	for k, v := range s.tokenErrors {
		m[k] = v
	}
	return m
}

// faultCount returns how many token requests the fault answered.
func (s *fositeServer) faultCount() int {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	return s.faulted
}

// resourceCount returns how many times /resource answered status.
func (s *fositeServer) resourceCount(status int) int {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	return s.resource[status]
}

// oauth2Config is the client's configuration for the authorization code and
// refresh token grants.
func (s *fositeServer) oauth2Config() *oauth2.Config {
	return &oauth2.Config{
		ClientID:     clientID,
		ClientSecret: clientSecret,
		Endpoint: oauth2.Endpoint{
			AuthURL:   s.AS.URL + "/oauth2/auth",
			TokenURL:  s.AS.URL + "/oauth2/token",
			AuthStyle: oauth2.AuthStyleInHeader,
		},
		RedirectURL: redirectURL,
		Scopes:      []string{scopeOffline, scopeAPI},
	}
}

// clientCredentialsConfig is the client's configuration for the client
// credentials grant.
func (s *fositeServer) clientCredentialsConfig() *clientcredentials.Config {
	return &clientcredentials.Config{
		ClientID:     clientID,
		ClientSecret: clientSecret,
		TokenURL:     s.AS.URL + "/oauth2/token",
		Scopes:       []string{scopeAPI},
		AuthStyle:    oauth2.AuthStyleInHeader,
	}
}

// clientContext returns the test's context carrying the HTTP client for the
// token endpoint, as the oauth2 package (and so the Refresher) expects it.
func (s *fositeServer) clientContext(t *testing.T) context.Context {
	return context.WithValue(t.Context(), oauth2.HTTPClient, s.AS.Client())
}

// login obtains a first token the way an application does: the
// authorization code grant with PKCE (S256), the browser's part played by
// an HTTP client that does not follow the redirect.
func (s *fositeServer) login(t *testing.T) *oauth2.Token {
	t.Helper()
	cfg := s.oauth2Config()
	verifier := oauth2.GenerateVerifier()
	state := randomString(t)
	browser := &http.Client{
		Transport: s.AS.Client().Transport,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier)), nil)
	require.NoError(t, err)
	resp, err := browser.Do(req)
	require.NoError(t, err, "authorization request")
	resp.Body.Close()
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, "authorization endpoint redirects back")
	back, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err, "redirect location")
	require.Empty(t, back.Query().Get("error"), "authorization error: %s", back.Query().Get("error_description"))
	require.Equal(t, state, back.Query().Get("state"), "state comes back unchanged")
	code := back.Query().Get("code")
	require.NotEmpty(t, code, "authorization code")

	tok, err := cfg.Exchange(s.clientContext(t), code, oauth2.VerifierOption(verifier))
	require.NoError(t, err, "code exchange")
	require.NotEmpty(t, tok.AccessToken, "access token from the code exchange")
	require.NotEmpty(t, tok.RefreshToken, "refresh token from the code exchange (offline scope)")
	require.False(t, tok.Expiry.IsZero(), "the token has an expiry")
	return tok
}

// waitExpired waits until tok has expired for both the client (its Expiry)
// and fosite (introspection refuses it).
func (s *fositeServer) waitExpired(t *testing.T, accessToken string, expiry time.Time) {
	t.Helper()
	time.Sleep(time.Until(expiry))
	deadline := time.Now().Add(5 * time.Second)
	for s.active(accessToken) {
		require.True(t, time.Now().Before(deadline), "fosite still accepts the access token 5s after its expiry")
		time.Sleep(50 * time.Millisecond)
	}
}

func randomString(t *testing.T) string {
	b := make([]byte, 16)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return hex.EncodeToString(b)
}

// get sends a GET for the resource through client and returns the status
// and body, or the error.
func get(ctx context.Context, client *http.Client, resource string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, resource, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if err != nil {
		return resp.StatusCode, "", err
	}
	return resp.StatusCode, string(b), nil
}
