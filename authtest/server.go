package authtest

import (
	"crypto/rand"
	"encoding/base64"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/d5c4ca72/authtransport"
	"github.com/d5c4ca72/authtransport/wwwauth"
)

// Defaults of a new [Server].
const (
	// DefaultClientID is the client identifier a new Server knows.
	DefaultClientID = "authtest-client"
	// DefaultAccessTokenLifetime is how long an access token lives unless
	// [Server.SetAccessTokenLifetime] says otherwise.
	DefaultAccessTokenLifetime = time.Hour
	// Realm is the realm parameter of every challenge the resource sends.
	Realm = "authtest"
)

// Server is a fake authorization server and protected resource listening on
// a loopback address. Create one with [NewServer] and stop it with
// [Server.Close].
//
// The zero value is not usable. All methods are safe for concurrent use,
// also while requests are being served: a knob turned during a request
// applies to the requests that reach the affected step afterwards. The
// exported fields are set by NewServer and must not be changed.
type Server struct {
	// URL is the server's base URL, "http://127.0.0.1:port", without a
	// trailing slash.
	URL string
	// ClientID is the identifier of the one client the server knows.
	ClientID string
	// ClientSecret is that client's secret, random for each Server unless
	// set between [NewUnstartedServer] and [Server.Start].
	ClientSecret string
	// Listener is where the server listens. NewServer sets it to a new
	// listener on 127.0.0.1 and a free port; with [NewUnstartedServer] the
	// caller may set it before [Server.Start] (to serve a fixed address).
	Listener net.Listener

	ts        *httptest.Server
	handler   http.Handler   // every endpoint, also served by InMemoryTransport
	api       *http.ServeMux // handlers mounted with Handle
	done      chan struct{}  // closed by Close; ends delays
	closeOnce sync.Once
	started   bool // Start was called; used by Start and Close only

	mu             sync.Mutex // guards the fields below
	now            func() time.Time
	lifetime       time.Duration
	rotate         bool
	reuseDetection bool
	tokenDelay     time.Duration
	grants         []*grant
	access         map[string]*accessToken
	refresh        map[string]*refreshToken
	codes          map[string]*authCode
	publicClients  map[string]bool
	issParam       string // the iss of authorization responses, if not URL
	device         deviceState
	mounted        bool // Handle was called
	faults         faultState
	scopeRules     map[string][]string
	stepUpRules    map[string]StepUp
	rejections     map[string]*rejection
	staticRules    map[string]staticRule
	loginACR       string
	stats          Stats
	requests       []ResourceRequest
	dpop           dpopState
}

// grant is one authorization: everything issued from one login or one
// client-credentials request. Revoking it invalidates all its tokens.
type grant struct {
	grantType string
	clientID  string // the client it was issued to; empty for IssueToken's grants, which any client may refresh
	scope     string
	resources []string // RFC 8707 resource indicators the tokens are meant for; empty for any
	acr       string
	authTime  time.Time
	jkt       string // DPoP key thumbprint the grant is bound to, if any
	revoked   bool
}

type accessToken struct {
	grant   *grant
	expiry  time.Time // on the server's clock
	scope   string
	jkt     string
	revoked bool
}

type refreshToken struct {
	grant *grant
	used  bool
}

// NewServer starts a Server on 127.0.0.1 and returns it. The caller must
// call [Server.Close] when done.
//
// A new Server issues access tokens that live [DefaultAccessTokenLifetime],
// rotates refresh tokens, and revokes a grant whose used refresh token is
// presented again.
func NewServer() *Server {
	s := NewUnstartedServer()
	s.Start()
	return s
}

// NewUnstartedServer returns a Server that is not listening yet, so that the
// caller can set ClientSecret or Listener first. Call [Server.Start], then
// [Server.Close] when done.
func NewUnstartedServer() *Server {
	s := &Server{
		ClientID:       DefaultClientID,
		ClientSecret:   randomString(24),
		done:           make(chan struct{}),
		now:            time.Now,
		lifetime:       DefaultAccessTokenLifetime,
		rotate:         true,
		reuseDetection: true,
		access:         make(map[string]*accessToken),
		refresh:        make(map[string]*refreshToken),
		codes:          make(map[string]*authCode),
		publicClients:  make(map[string]bool),
		api:            http.NewServeMux(),
		scopeRules:     make(map[string][]string),
		stepUpRules:    make(map[string]StepUp),
		rejections:     make(map[string]*rejection),
		staticRules:    make(map[string]staticRule),
		stats:          newStats(),
	}
	s.dpop.init()
	s.device.init()
	mux := http.NewServeMux()
	mux.HandleFunc("/token", s.serveToken)
	mux.HandleFunc("/authorize", s.serveAuthorize)
	mux.HandleFunc("/device_authorization", s.serveDeviceAuthorization)
	mux.HandleFunc("/device", s.serveDevicePage)
	mux.HandleFunc("/api/", s.serveResource)
	mux.HandleFunc("/.well-known/oauth-protected-resource", s.serveResourceMetadata)
	mux.HandleFunc("/.well-known/oauth-protected-resource/api/", s.serveResourceMetadata)
	mux.HandleFunc("/.well-known/oauth-authorization-server", s.serveServerMetadata)
	s.handler = mux
	s.ts = httptest.NewUnstartedServer(mux)
	s.Listener = s.ts.Listener
	return s
}

// Start starts a server created by [NewUnstartedServer] and sets URL. It
// panics if the server was started already. When the caller replaced
// Listener, the listener NewUnstartedServer made is closed.
func (s *Server) Start() {
	if s.started {
		panic("authtest: Server already started")
	}
	s.started = true
	s.useListener()
	s.ts.Start()
	s.URL = s.ts.URL
}

// useListener makes Listener the one the server serves, closing the one
// NewUnstartedServer made if the caller replaced it.
func (s *Server) useListener() {
	if s.Listener != s.ts.Listener {
		_ = s.ts.Listener.Close()
		s.ts.Listener = s.Listener
	}
}

// Close stops the server, ends pending injected delays, and blocks until
// all outstanding requests have completed. It closes Listener, also when
// the server was never started (and the listener NewUnstartedServer made,
// if the caller replaced it).
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.done)
		if !s.started {
			s.useListener()
		}
		s.ts.Close()
	})
}

// Client returns an HTTP client configured for the server, as
// [httptest.Server.Client] does. Its idle connections are closed by Close.
func (s *Server) Client() *http.Client {
	return s.ts.Client()
}

// TokenURL returns the URL of the token endpoint.
func (s *Server) TokenURL() string { return s.URL + "/token" }

// AuthURL returns the URL of the authorization endpoint.
func (s *Server) AuthURL() string { return s.URL + "/authorize" }

// DeviceAuthURL returns the URL of the device authorization endpoint
// (RFC 8628).
func (s *Server) DeviceAuthURL() string { return s.URL + "/device_authorization" }

// ResourceURL returns the URL of path on the protected resource, which
// serves every path under /api/. A path not starting with /api/ gets that
// prefix: ResourceURL("items") is URL+"/api/items".
func (s *Server) ResourceURL(path string) string {
	path = strings.TrimPrefix(path, "/")
	if !strings.HasPrefix(path, "api/") {
		path = "api/" + path
	}
	return s.URL + "/" + path
}

// MetadataURL returns the URL of the Protected Resource Metadata document
// (RFC 9728), the value of resource_metadata in the resource's challenges.
func (s *Server) MetadataURL() string {
	return s.URL + "/.well-known/oauth-protected-resource"
}

// Config returns an [oauth2.Config] for the server's client: its ID and
// secret, the token, authorization and device authorization endpoints,
// client_secret_basic authentication. The caller may modify the returned
// value; each call returns a new one.
func (s *Server) Config() *oauth2.Config {
	return &oauth2.Config{
		ClientID:     s.ClientID,
		ClientSecret: s.ClientSecret,
		Endpoint:     s.endpoint(oauth2.AuthStyleInHeader),
	}
}

func (s *Server) endpoint(style oauth2.AuthStyle) oauth2.Endpoint {
	return oauth2.Endpoint{
		AuthURL:       s.AuthURL(),
		DeviceAuthURL: s.DeviceAuthURL(),
		TokenURL:      s.TokenURL(),
		AuthStyle:     style,
	}
}

// ClientCredentialsConfig returns a [clientcredentials.Config] for the
// server's client. Each call returns a new one.
func (s *Server) ClientCredentialsConfig() *clientcredentials.Config {
	return &clientcredentials.Config{
		ClientID:     s.ClientID,
		ClientSecret: s.ClientSecret,
		TokenURL:     s.TokenURL(),
		AuthStyle:    oauth2.AuthStyleInHeader,
	}
}

// Grant describes a grant issued by [Server.IssueToken], as if the user had
// logged in. The zero value is a grant with no scope, no acr, and an
// authentication time of now.
type Grant struct {
	// Scope is the space-separated scope granted.
	Scope string
	// ACR is the authentication context class the login satisfied, checked
	// against [StepUp.ACRValues].
	ACR string
	// AuthTime is when the user authenticated, checked against
	// [StepUp.MaxAge]. The zero value means the server's now.
	AuthTime time.Time
	// Expired makes the first access token already expired (a minute ago),
	// so a client must refresh before its first request succeeds.
	Expired bool
	// NoRefreshToken leaves the grant without a refresh token.
	NoRefreshToken bool
	// DPoPKeyThumbprint, if not empty, binds the grant's tokens to the DPoP
	// key with this RFC 7638 SHA-256 thumbprint (base64url), and the token
	// type is DPoP.
	DPoPKeyThumbprint string
}

// IssueToken creates a new grant as described by g and returns its first
// token, ready for a client to use. Expiry is in the caller's frame:
// time.Now() plus the time the access token has left on the server's clock.
func (s *Server) IssueToken(g Grant) *authtransport.Token {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if g.AuthTime.IsZero() {
		g.AuthTime = now
	}
	gr := &grant{grantType: "test", scope: g.Scope, acr: g.ACR, authTime: g.AuthTime, jkt: g.DPoPKeyThumbprint}
	s.grants = append(s.grants, gr)
	lifetime := s.lifetime
	if g.Expired {
		lifetime = -time.Minute
	}
	return s.issueLocked(gr, g.Scope, gr.jkt, lifetime, !g.NoRefreshToken)
}

// NewToken issues a fresh grant with default settings and returns its
// token: a valid access token, a refresh token and the expiry.
func (s *Server) NewToken() *authtransport.Token {
	return s.IssueToken(Grant{})
}

// NewExpiredToken issues a fresh grant whose access token has already
// expired, with a valid refresh token, so a client must refresh first.
func (s *Server) NewExpiredToken() *authtransport.Token {
	return s.IssueToken(Grant{Expired: true})
}

// issueLocked issues an access token (and a refresh token when withRefresh)
// for gr. s.mu must be held.
func (s *Server) issueLocked(gr *grant, scope, jkt string, lifetime time.Duration, withRefresh bool) *authtransport.Token {
	at := randomString(32)
	s.access[at] = &accessToken{grant: gr, expiry: s.now().Add(lifetime), scope: scope, jkt: jkt}
	tok := &authtransport.Token{
		AccessToken: at,
		TokenType:   wwwauth.SchemeBearer,
		Expiry:      time.Now().Add(lifetime).Round(0),
		Scope:       scope,
	}
	if jkt != "" {
		tok.TokenType = wwwauth.SchemeDPoP
	}
	if withRefresh {
		rt := randomString(32)
		s.refresh[rt] = &refreshToken{grant: gr}
		tok.RefreshToken = rt
	}
	return tok
}

// SetNow makes the server read time from now, for example a [Clock]'s Now
// method. Token expiry, step-up max_age and the DPoP nonce schedule follow
// it; DPoP proof iat checks use the real time. A nil now restores
// time.Now.
func (s *Server) SetNow(now func() time.Time) {
	if now == nil {
		now = time.Now
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}

// SetAccessTokenLifetime sets how long access tokens issued from now on
// live. A zero or negative d issues tokens that are already expired.
func (s *Server) SetAccessTokenLifetime(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lifetime = d
}

// SetRotateRefreshTokens sets whether a refresh issues a new refresh token
// and retires the one presented (on by default). When off, a refresh returns
// the same refresh token and it can be used again.
func (s *Server) SetRotateRefreshTokens(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rotate = on
}

// SetReuseDetection sets whether presenting a retired refresh token revokes
// the whole grant, its access and refresh tokens (on by default). Either
// way the request fails with invalid_grant and counts in
// [Stats.RefreshTokenReuse].
func (s *Server) SetReuseDetection(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reuseDetection = on
}

// SetTokenDelay makes the token endpoint wait d before answering each
// request. Zero turns the delay off.
func (s *Server) SetTokenDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokenDelay = d
}

// RevokeAccessTokens revokes every access token issued so far. Refresh
// tokens stay valid, so a client recovers by refreshing.
func (s *Server) RevokeAccessTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, at := range s.access {
		at.revoked = true
	}
}

// RevokeGrant revokes every grant issued so far, with all their access and
// refresh tokens, so the client must log in again. Grants issued afterwards
// are not affected.
func (s *Server) RevokeGrant() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, g := range s.grants {
		g.revoked = true
	}
}

// RevokeGrantOf revokes the grant that issued tok (matched by its access or
// refresh token), with all its tokens. It reports whether it found one.
func (s *Server) RevokeGrantOf(tok *authtransport.Token) bool {
	if tok == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if at, ok := s.access[tok.AccessToken]; ok {
		at.grant.revoked = true
		return true
	}
	if rt, ok := s.refresh[tok.RefreshToken]; ok {
		rt.grant.revoked = true
		return true
	}
	return false
}

// wait blocks for d, or until the request ends or the server closes. It
// reports whether the full delay elapsed.
func (s *Server) wait(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
	case <-s.done:
	}
	return false
}

// randomString returns n random bytes, base64url encoded without padding.
func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b)
}
