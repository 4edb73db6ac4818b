package authtest_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/d5c4ca72/authtransport/authtest"
)

// dpopKey makes RFC 9449 proofs with an ES256 key.
type dpopKey struct {
	priv *ecdsa.PrivateKey
}

func newDPoPKey(t *testing.T) *dpopKey {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	return &dpopKey{priv: priv}
}

func (k *dpopKey) thumbprint() string { return authtest.JWKThumbprint(&k.priv.PublicKey) }

// proofOpts changes a proof away from a valid one.
type proofOpts struct {
	header  map[string]any // merged into the JOSE header
	claims  map[string]any // merged into the claims; a nil value deletes
	badSig  bool
	rawSign func(signingInput string) string // replaces the signature
}

// proof returns a DPoP proof for method and target URL, bound to
// accessToken when it is not empty, carrying nonce when not empty.
func (k *dpopKey) proof(t *testing.T, method, target, accessToken, nonce string, o proofOpts) string {
	t.Helper()
	b, err := k.priv.PublicKey.Bytes()
	require.NoError(t, err)
	enc := base64.RawURLEncoding
	hdr := map[string]any{"typ": "dpop+jwt", "alg": "ES256",
		"jwk": map[string]any{"kty": "EC", "crv": "P-256", "x": enc.EncodeToString(b[1:33]), "y": enc.EncodeToString(b[33:])}}
	u, err := url.Parse(target)
	require.NoError(t, err)
	u.RawQuery, u.Fragment = "", ""
	claims := map[string]any{"jti": randomJTI(t), "htm": method, "htu": u.String(), "iat": time.Now().Unix()}
	if accessToken != "" {
		sum := sha256.Sum256([]byte(accessToken))
		claims["ath"] = enc.EncodeToString(sum[:])
	}
	if nonce != "" {
		claims["nonce"] = nonce
	}
	for n, v := range o.header {
		hdr[n] = v
	}
	for n, v := range o.claims {
		if v == nil {
			delete(claims, n)
		} else {
			claims[n] = v
		}
	}
	hj, err := json.Marshal(hdr)
	require.NoError(t, err)
	cj, err := json.Marshal(claims)
	require.NoError(t, err)
	input := enc.EncodeToString(hj) + "." + enc.EncodeToString(cj)
	if o.rawSign != nil {
		return input + "." + o.rawSign(input)
	}
	digest := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, k.priv, digest[:])
	require.NoError(t, err)
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	if o.badSig {
		sig[10] ^= 0xff
	}
	return input + "." + enc.EncodeToString(sig)
}

func randomJTI(t *testing.T) string {
	b := make([]byte, 12)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return base64.RawURLEncoding.EncodeToString(b)
}

// dpopToken asks the token endpoint for a client-credentials token with a proof.
func dpopToken(t *testing.T, srv *authtest.Server, proof string) (int, map[string]any, http.Header) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.TokenURL(), strings.NewReader(clientCredentials().Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(srv.ClientID, srv.ClientSecret)
	if proof != "" {
		req.Header.Set("DPoP", proof)
	}
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var m map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&m))
	return resp.StatusCode, m, resp.Header
}

// dpopGet calls the resource with a DPoP token and proof.
func dpopGet(t *testing.T, srv *authtest.Server, target, scheme, tok, proof string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, target, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", scheme+" "+tok)
	if proof != "" {
		req.Header.Set("DPoP", proof)
	}
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { _ = resp.Body.Close() })
	return resp
}

func TestDPoPTokenEndpoint(t *testing.T) {
	srv := newServer(t)
	key := newDPoPKey(t)
	tokenURL := srv.TokenURL()

	t.Run("optional: a proof binds the token", func(t *testing.T) {
		code, body, _ := dpopToken(t, srv, key.proof(t, "POST", tokenURL, "", "", proofOpts{}))
		require.Equal(t, 200, code, "%v", body)
		assert.Equal(t, "DPoP", body["token_type"])
		code, body, _ = dpopToken(t, srv, "")
		require.Equal(t, 200, code)
		assert.Equal(t, "Bearer", body["token_type"])
	})

	srv.RequireDPoP(true)
	tests := []struct {
		name      string
		proof     func() string
		wantError string
	}{
		{"valid", func() string { return key.proof(t, "POST", tokenURL, "", "", proofOpts{}) }, ""},
		{"htu with a query is compared without it", func() string { return key.proof(t, "POST", tokenURL+"?x=1", "", "", proofOpts{}) }, ""},
		{"missing", func() string { return "" }, "invalid_dpop_proof"},
		{"not a JWS", func() string { return "abc.def" }, "invalid_dpop_proof"},
		{"wrong typ", func() string {
			return key.proof(t, "POST", tokenURL, "", "", proofOpts{header: map[string]any{"typ": "JWT"}})
		}, "invalid_dpop_proof"},
		{"wrong alg", func() string {
			return key.proof(t, "POST", tokenURL, "", "", proofOpts{header: map[string]any{"alg": "RS256"}})
		}, "invalid_dpop_proof"},
		{"private key in jwk", func() string {
			b, _ := key.priv.PublicKey.Bytes()
			enc := base64.RawURLEncoding
			return key.proof(t, "POST", tokenURL, "", "", proofOpts{header: map[string]any{"jwk": map[string]any{
				"kty": "EC", "crv": "P-256", "x": enc.EncodeToString(b[1:33]), "y": enc.EncodeToString(b[33:]), "d": "AAAA"}}})
		}, "invalid_dpop_proof"},
		{"point not on curve", func() string {
			enc := base64.RawURLEncoding
			return key.proof(t, "POST", tokenURL, "", "", proofOpts{header: map[string]any{"jwk": map[string]any{
				"kty": "EC", "crv": "P-256", "x": enc.EncodeToString(make([]byte, 32)), "y": enc.EncodeToString(make([]byte, 32))}}})
		}, "invalid_dpop_proof"},
		{"bad signature", func() string { return key.proof(t, "POST", tokenURL, "", "", proofOpts{badSig: true}) }, "invalid_dpop_proof"},
		{"short signature", func() string {
			return key.proof(t, "POST", tokenURL, "", "", proofOpts{rawSign: func(string) string { return "AAAA" }})
		}, "invalid_dpop_proof"},
		{"wrong htm", func() string { return key.proof(t, "GET", tokenURL, "", "", proofOpts{}) }, "invalid_dpop_proof"},
		{"wrong htu path", func() string { return key.proof(t, "POST", srv.URL+"/other", "", "", proofOpts{}) }, "invalid_dpop_proof"},
		{"wrong htu host", func() string { return key.proof(t, "POST", "http://example.com/token", "", "", proofOpts{}) }, "invalid_dpop_proof"},
		{"iat too old", func() string {
			return key.proof(t, "POST", tokenURL, "", "", proofOpts{claims: map[string]any{"iat": time.Now().Add(-10 * time.Minute).Unix()}})
		}, "invalid_dpop_proof"},
		{"iat in the future", func() string {
			return key.proof(t, "POST", tokenURL, "", "", proofOpts{claims: map[string]any{"iat": time.Now().Add(10 * time.Minute).Unix()}})
		}, "invalid_dpop_proof"},
		{"no jti", func() string {
			return key.proof(t, "POST", tokenURL, "", "", proofOpts{claims: map[string]any{"jti": nil}})
		}, "invalid_dpop_proof"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body, _ := dpopToken(t, srv, tt.proof())
			if tt.wantError == "" {
				assert.Equal(t, 200, code, "%v", body)
				assert.Equal(t, "DPoP", body["token_type"])
				return
			}
			assert.Equal(t, 400, code)
			assert.Equal(t, tt.wantError, body["error"], "%v", body["error_description"])
		})
	}
	t.Run("replayed jti", func(t *testing.T) {
		p := key.proof(t, "POST", tokenURL, "", "", proofOpts{})
		code, _, _ := dpopToken(t, srv, p)
		require.Equal(t, 200, code)
		code, body, _ := dpopToken(t, srv, p)
		assert.Equal(t, 400, code)
		assert.Equal(t, "invalid_dpop_proof", body["error"])
		assert.Contains(t, body["error_description"], "replay")
	})
}

func TestDPoPResource(t *testing.T) {
	srv := newServer(t)
	srv.RequireDPoP(true)
	key, other := newDPoPKey(t), newDPoPKey(t)
	_, body, _ := dpopToken(t, srv, key.proof(t, "POST", srv.TokenURL(), "", "", proofOpts{}))
	tok := body["access_token"].(string)
	target := srv.ResourceURL("items") + "?page=2"
	bearer := srv.NewToken().AccessToken

	tests := []struct {
		name        string
		scheme, tok string
		proof       func() string
		wantStatus  int
		wantOutcome string
		wantError   string
	}{
		{"valid", "DPoP", tok, func() string { return key.proof(t, "GET", target, tok, "", proofOpts{}) }, 200, authtest.OutcomeOK, ""},
		{"no proof", "DPoP", tok, func() string { return "" }, 401, authtest.OutcomeInvalidDPoPProof, "invalid_dpop_proof"},
		{"no ath", "DPoP", tok, func() string { return key.proof(t, "GET", target, "", "", proofOpts{}) }, 401, authtest.OutcomeInvalidDPoPProof, "invalid_dpop_proof"},
		{"ath of another token", "DPoP", tok, func() string { return key.proof(t, "GET", target, "xyz", "", proofOpts{}) }, 401, authtest.OutcomeInvalidDPoPProof, "invalid_dpop_proof"},
		{"another key", "DPoP", tok, func() string { return other.proof(t, "GET", target, tok, "", proofOpts{}) }, 401, authtest.OutcomeInvalidDPoPProof, "invalid_dpop_proof"},
		{"bound token sent as Bearer", "Bearer", tok, func() string { return "" }, 401, authtest.OutcomeWrongScheme, "invalid_token"},
		{"bearer token where DPoP is required", "Bearer", bearer, func() string { return "" }, 401, authtest.OutcomeWrongScheme, "invalid_token"},
		{"wrong htm", "DPoP", tok, func() string { return key.proof(t, "POST", target, tok, "", proofOpts{}) }, 401, authtest.OutcomeInvalidDPoPProof, "invalid_dpop_proof"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := dpopGet(t, srv, target, tt.scheme, tt.tok, tt.proof())
			assert.Equal(t, tt.wantStatus, resp.StatusCode)
			last := srv.ResourceRequests()
			require.NotEmpty(t, last)
			assert.Equal(t, tt.wantOutcome, last[len(last)-1].Outcome)
			if tt.wantError != "" {
				ch := resp.Header.Get("WWW-Authenticate")
				assert.True(t, strings.HasPrefix(ch, `DPoP algs="ES256"`), "challenge %q", ch)
				assert.Contains(t, ch, `error="`+tt.wantError+`"`)
			}
		})
	}

	t.Run("refresh keeps the binding", func(t *testing.T) {
		dtok := srv.IssueToken(authtest.Grant{DPoPKeyThumbprint: key.thumbprint()})
		assert.Equal(t, "DPoP", dtok.TokenType)
		refresh := func(k *dpopKey) (int, map[string]any) {
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.TokenURL(),
				strings.NewReader(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {dtok.RefreshToken}}.Encode()))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(srv.ClientID, srv.ClientSecret)
			req.Header.Set("DPoP", k.proof(t, "POST", srv.TokenURL(), "", "", proofOpts{}))
			resp, err := srv.Client().Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			var m map[string]any
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&m))
			return resp.StatusCode, m
		}
		code, body := refresh(other)
		assert.Equal(t, 400, code)
		assert.Equal(t, "invalid_grant", body["error"])
		code, body = refresh(key)
		require.Equal(t, 200, code, "%v", body)
		at := body["access_token"].(string)
		assert.Equal(t, 200, dpopGet(t, srv, target, "DPoP", at, key.proof(t, "GET", target, at, "", proofOpts{})).StatusCode)
	})
}

func TestDPoPNonce(t *testing.T) {
	srv := newServer(t)
	srv.RequireDPoP(true)
	srv.RequireDPoPNonce(true)
	key := newDPoPKey(t)

	// Token endpoint: 400 use_dpop_nonce with the nonce, then success with it.
	code, body, h := dpopToken(t, srv, key.proof(t, "POST", srv.TokenURL(), "", "", proofOpts{}))
	assert.Equal(t, 400, code)
	assert.Equal(t, "use_dpop_nonce", body["error"])
	nonce := h.Get("DPoP-Nonce")
	require.NotEmpty(t, nonce)
	assert.Equal(t, srv.DPoPNonce(), nonce)
	code, body, _ = dpopToken(t, srv, key.proof(t, "POST", srv.TokenURL(), "", nonce, proofOpts{}))
	require.Equal(t, 200, code, "%v", body)
	tok := body["access_token"].(string)
	assert.Equal(t, 1, srv.Stats().TokenRequests["client_credentials"]["use_dpop_nonce"])

	// Resource: 401 with a DPoP use_dpop_nonce challenge after rotation on demand.
	target := srv.ResourceURL("x")
	assert.Equal(t, 200, dpopGet(t, srv, target, "DPoP", tok, key.proof(t, "GET", target, tok, nonce, proofOpts{})).StatusCode)
	fresh := srv.RotateDPoPNonce()
	assert.NotEqual(t, nonce, fresh)
	resp := dpopGet(t, srv, target, "DPoP", tok, key.proof(t, "GET", target, tok, nonce, proofOpts{}))
	assert.Equal(t, 401, resp.StatusCode)
	assert.Equal(t, fresh, resp.Header.Get("DPoP-Nonce"))
	assert.Contains(t, resp.Header.Get("WWW-Authenticate"), `DPoP algs="ES256", realm="authtest", error="use_dpop_nonce"`)
	assert.Equal(t, 200, dpopGet(t, srv, target, "DPoP", tok, key.proof(t, "GET", target, tok, fresh, proofOpts{})).StatusCode)

	// Rotation on a schedule of the server's clock.
	clock := authtest.NewClock(time.Now())
	srv.SetNow(clock.Now)
	srv.SetDPoPNonceInterval(time.Minute)
	assert.Equal(t, fresh, srv.DPoPNonce())
	clock.Advance(59 * time.Second)
	assert.Equal(t, 200, dpopGet(t, srv, target, "DPoP", tok, key.proof(t, "GET", target, tok, fresh, proofOpts{})).StatusCode)
	clock.Advance(time.Second)
	resp = dpopGet(t, srv, target, "DPoP", tok, key.proof(t, "GET", target, tok, fresh, proofOpts{}))
	assert.Equal(t, 401, resp.StatusCode)
	scheduled := resp.Header.Get("DPoP-Nonce")
	assert.NotEqual(t, fresh, scheduled)
	assert.Equal(t, scheduled, srv.DPoPNonce())
	assert.Equal(t, 2, srv.Stats().ResourceRequests[authtest.OutcomeUseDPoPNonce])

	srv.RequireDPoPNonce(false)
	assert.Equal(t, 200, dpopGet(t, srv, target, "DPoP", tok, key.proof(t, "GET", target, tok, "", proofOpts{})).StatusCode)
}

func TestDPoPAuthorizationCode(t *testing.T) {
	srv := newServer(t)
	key, other := newDPoPKey(t), newDPoPKey(t)
	cfg := srv.Config()
	cfg.RedirectURL = "http://127.0.0.1:1/cb"
	verifier := oauth2.GenerateVerifier()
	exchange := func(k *dpopKey) (int, map[string]any) {
		_, q := authorize(t, srv, cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier),
			oauth2.SetAuthURLParam("dpop_jkt", key.thumbprint())))
		form := url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")},
			"redirect_uri": {cfg.RedirectURL}, "code_verifier": {verifier}}
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.TokenURL(), strings.NewReader(form.Encode()))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(srv.ClientID, srv.ClientSecret)
		if k != nil {
			req.Header.Set("DPoP", k.proof(t, "POST", srv.TokenURL(), "", "", proofOpts{}))
		}
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var m map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&m))
		return resp.StatusCode, m
	}
	for _, k := range []*dpopKey{nil, other} {
		code, body := exchange(k)
		assert.Equal(t, 400, code)
		assert.Equal(t, "invalid_grant", body["error"])
	}
	code, body := exchange(key)
	require.Equal(t, 200, code, "%v", body)
	assert.Equal(t, "DPoP", body["token_type"])
}
