package authtransport_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/d5c4ca72/authtransport"
	"github.com/d5c4ca72/authtransport/authtest"
	"github.com/d5c4ca72/authtransport/wwwauth"
)

var b64 = base64.RawURLEncoding

// Keys are generated once: RSA generation is slow under -race.
var (
	dpopKeysOnce sync.Once
	dpopES256    *ecdsa.PrivateKey
	dpopEd25519  ed25519.PrivateKey
	dpopRSA      *rsa.PrivateKey
)

func dpopKeys(t testing.TB) (*ecdsa.PrivateKey, ed25519.PrivateKey, *rsa.PrivateKey) {
	t.Helper()
	dpopKeysOnce.Do(func() {
		var err error
		dpopES256, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		_, dpopEd25519, err = ed25519.GenerateKey(rand.Reader)
		if err != nil {
			panic(err)
		}
		dpopRSA, err = rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
	})
	return dpopES256, dpopEd25519, dpopRSA
}

func newTestDPoP(t testing.TB, key crypto.Signer) *authtransport.DPoP {
	t.Helper()
	d, err := authtransport.NewDPoP(key)
	require.NoError(t, err)
	return d
}

// foreignSigner is a crypto.Signer with a public key of the caller's choice,
// as a hardware key would be.
type foreignSigner struct{ pub crypto.PublicKey }

func (s foreignSigner) Public() crypto.PublicKey { return s.pub }
func (s foreignSigner) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, errors.New("foreign signer cannot sign")
}

func TestNewDPoP(t *testing.T) {
	es, ed, rs := dpopKeys(t)
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	tests := []struct {
		name    string
		key     crypto.Signer
		wantJWK map[string]string // required members, for an independent thumbprint
		wantErr string
	}{
		{"ECDSA P-256", es, func() map[string]string {
			b, _ := es.PublicKey.Bytes()
			return map[string]string{"kty": "EC", "crv": "P-256", "x": b64.EncodeToString(b[1:33]), "y": b64.EncodeToString(b[33:])}
		}(), ""},
		{"Ed25519", ed, map[string]string{"kty": "OKP", "crv": "Ed25519", "x": b64.EncodeToString(ed.Public().(ed25519.PublicKey))}, ""},
		{"Ed25519 pointer", &ed, map[string]string{"kty": "OKP", "crv": "Ed25519", "x": b64.EncodeToString(ed.Public().(ed25519.PublicKey))}, ""},
		{"RSA 2048", rs, map[string]string{"kty": "RSA", "e": "AQAB", "n": b64.EncodeToString(rs.N.Bytes())}, ""},
		{"signer with a P-256 public key", foreignSigner{&es.PublicKey}, func() map[string]string {
			b, _ := es.PublicKey.Bytes()
			return map[string]string{"kty": "EC", "crv": "P-256", "x": b64.EncodeToString(b[1:33]), "y": b64.EncodeToString(b[33:])}
		}(), ""},
		{"nil", nil, nil, "nil DPoP key"},
		{"ECDSA P-384", p384, nil, "curve P-384"},
		{"RSA 1024", small, nil, "at least 2048 bits"},
		{"unknown key type", foreignSigner{"not a key"}, nil, "unsupported DPoP key type string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := authtransport.NewDPoP(tt.key)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Nil(t, d)
				assert.True(t, strings.HasPrefix(err.Error(), "authtransport: "), "error %q has the package prefix", err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			canonical, err := json.Marshal(tt.wantJWK) // sorted keys, no spaces: RFC 7638 §3.3
			require.NoError(t, err)
			sum := sha256.Sum256(canonical)
			assert.Equal(t, b64.EncodeToString(sum[:]), d.Thumbprint())
		})
	}
	t.Run("P-256 thumbprint matches authtest's", func(t *testing.T) {
		assert.Equal(t, authtest.JWKThumbprint(&es.PublicKey), newTestDPoP(t, es).Thumbprint())
	})
	t.Run("RFC 8037 Appendix A.3 thumbprint", func(t *testing.T) {
		seed, err := b64.DecodeString("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A")
		require.NoError(t, err)
		key := ed25519.NewKeyFromSeed(seed)
		assert.Equal(t, "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", b64.EncodeToString(key.Public().(ed25519.PublicKey)))
		assert.Equal(t, "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k", newTestDPoP(t, key).Thumbprint())
	})
}

// dpopCall is one request a dpopBase saw.
type dpopCall struct {
	method, url, auth, proof string
	body                     string
}

// dpopBase is a scripted Base: the n-th request gets answer(n, req), and
// every request is recorded.
type dpopBase struct {
	mu     sync.Mutex
	calls  []dpopCall
	answer func(n int, req *http.Request) *http.Response
}

func (b *dpopBase) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		body, _ = io.ReadAll(req.Body)
		_ = req.Body.Close()
	}
	b.mu.Lock()
	n := len(b.calls)
	b.calls = append(b.calls, dpopCall{req.Method, req.URL.String(), req.Header.Get("Authorization"), req.Header.Get("DPoP"), string(body)})
	b.mu.Unlock()
	return b.answer(n, req), nil
}

func (b *dpopBase) seen() []dpopCall {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]dpopCall(nil), b.calls...)
}

// dpopAnswer builds a response with status and header pairs.
func dpopAnswer(req *http.Request, status int, header ...string) *http.Response {
	h := http.Header{}
	for i := 0; i+1 < len(header); i += 2 {
		h.Add(header[i], header[i+1])
	}
	return &http.Response{StatusCode: status, Header: h, Request: req,
		Body: io.NopCloser(strings.NewReader(http.StatusText(status)))}
}

// useNonce is a resource server's request for a DPoP nonce (RFC 9449 §9).
func useNonce(req *http.Request, nonce string) *http.Response {
	return dpopAnswer(req, http.StatusUnauthorized,
		"WWW-Authenticate", `DPoP algs="ES256", error="use_dpop_nonce", error_description="nonce required"`,
		"DPoP-Nonce", nonce)
}

func dpopToken(access string) *authtransport.Token {
	return &authtransport.Token{AccessToken: access, TokenType: "DPoP", RefreshToken: "rt", Expiry: time.Now().Add(time.Hour)}
}

// parsedProof is a DPoP proof whose signature verified.
type parsedProof struct {
	header map[string]any
	claims map[string]any
	jwk    map[string]any
}

// verifyProof parses a compact JWS and verifies its signature with the JWK
// in its header, independently of the package.
func verifyProof(t *testing.T, proof string) parsedProof {
	t.Helper()
	parts := strings.Split(proof, ".")
	require.Len(t, parts, 3, "compact JWS")
	var p parsedProof
	for i, dst := range []*map[string]any{&p.header, &p.claims} {
		raw, err := b64.DecodeString(parts[i])
		require.NoError(t, err, "segment %d is base64url without padding", i)
		require.NoError(t, json.Unmarshal(raw, dst), "segment %d is JSON", i)
	}
	sig, err := b64.DecodeString(parts[2])
	require.NoError(t, err)
	jwk, ok := p.header["jwk"].(map[string]any)
	require.True(t, ok, "header has a jwk object")
	p.jwk = jwk
	for _, private := range []string{"d", "p", "q", "dp", "dq", "qi"} {
		assert.NotContains(t, jwk, private, "jwk carries no private member")
	}
	coord := func(name string) []byte {
		s, _ := jwk[name].(string)
		b, err := b64.DecodeString(s)
		require.NoError(t, err, "jwk %s", name)
		return b
	}
	input := []byte(parts[0] + "." + parts[1])
	digest := sha256.Sum256(input)
	switch p.header["alg"] {
	case "ES256":
		require.Equal(t, "EC", jwk["kty"])
		require.Equal(t, "P-256", jwk["crv"])
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, coord("x")...), coord("y")...))
		require.NoError(t, err)
		require.Len(t, sig, 64, "R || S")
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		assert.True(t, ecdsa.Verify(pub, digest[:], r, s), "ES256 signature verifies")
	case "EdDSA":
		require.Equal(t, "OKP", jwk["kty"])
		require.Equal(t, "Ed25519", jwk["crv"])
		assert.True(t, ed25519.Verify(coord("x"), input, sig), "EdDSA signature verifies")
	case "RS256":
		require.Equal(t, "RSA", jwk["kty"])
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(coord("n")), E: int(new(big.Int).SetBytes(coord("e")).Int64())}
		assert.NoError(t, rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig), "RS256 signature verifies")
	default:
		t.Fatalf("unexpected alg %v", p.header["alg"])
	}
	return p
}

func TestDPoPProofContents(t *testing.T) {
	es, ed, rs := dpopKeys(t)
	for _, k := range []struct {
		name string
		key  crypto.Signer
		alg  string
	}{{"ES256", es, "ES256"}, {"EdDSA", ed, "EdDSA"}, {"RS256", rs, "RS256"}} {
		t.Run(k.name, func(t *testing.T) {
			d := newTestDPoP(t, k.key)
			base := &dpopBase{answer: func(n int, req *http.Request) *http.Response {
				if n == 0 {
					// A nonce may come with a success (RFC 9449 §8.2).
					return dpopAnswer(req, http.StatusOK, "DPoP-Nonce", "nonce-1")
				}
				if n == 2 {
					return dpopAnswer(req, http.StatusOK, "DPoP-Nonce", `bad "nonce"`)
				}
				return dpopAnswer(req, http.StatusOK)
			}}
			tr := &authtransport.Transport{
				Base:    base,
				Store:   authtransport.NewMemoryStore(dpopToken("access-1")),
				Origins: []string{"https://api.example:8443", "https://other.example"},
				DPoP:    d,
			}
			c := &http.Client{Transport: tr}
			targets := []struct {
				method, url, htu, nonce string
			}{
				{"GET", "https://api.example:8443/a%2Fb/c?token=secret#frag", "https://api.example:8443/a%2Fb/c", ""},
				{"POST", "https://api.example:8443/items", "https://api.example:8443/items", "nonce-1"},
				{"DELETE", "https://other.example?x=1", "https://other.example/", ""},
				{"GET", "https://other.example/x", "https://other.example/x", ""},
				{"PUT", "https://api.example:8443/", "https://api.example:8443/", "nonce-1"},
			}
			jtis := map[string]bool{}
			for i, tc := range targets {
				before := time.Now().Unix()
				req, err := http.NewRequest(tc.method, tc.url, strings.NewReader("body"))
				require.NoError(t, err)
				resp, err := c.Do(req)
				require.NoError(t, err)
				_ = resp.Body.Close()
				after := time.Now().Unix()

				call := base.seen()[i]
				assert.Equal(t, "DPoP access-1", call.auth, "Authorization uses the DPoP scheme")
				p := verifyProof(t, call.proof)
				assert.Equal(t, "dpop+jwt", p.header["typ"])
				assert.Equal(t, k.alg, p.header["alg"])
				canonical := map[string]any{}
				for name, v := range p.jwk {
					canonical[name] = v
				}
				thumbInput, err := json.Marshal(canonical)
				require.NoError(t, err)
				sum := sha256.Sum256(thumbInput)
				assert.Equal(t, d.Thumbprint(), b64.EncodeToString(sum[:]), "jwk has exactly the required members")

				jti, _ := p.claims["jti"].(string)
				raw, err := b64.DecodeString(jti)
				require.NoError(t, err)
				assert.GreaterOrEqual(t, len(raw), 16, "jti has 128 bits")
				assert.False(t, jtis[jti], "jti is unique")
				jtis[jti] = true
				assert.Equal(t, tc.method, p.claims["htm"])
				assert.Equal(t, tc.htu, p.claims["htu"], "htu has no query or fragment")
				iat, ok := p.claims["iat"].(float64)
				require.True(t, ok, "iat is a number")
				assert.True(t, int64(iat) >= before && int64(iat) <= after, "iat %v within [%d, %d]", iat, before, after)
				ath := sha256.Sum256([]byte("access-1"))
				assert.Equal(t, b64.EncodeToString(ath[:]), p.claims["ath"])
				if tc.nonce == "" {
					assert.NotContains(t, p.claims, "nonce", "no nonce known for %s", tc.url)
				} else {
					assert.Equal(t, tc.nonce, p.claims["nonce"])
				}
				wantClaims := 5 // jti, htm, htu, iat, ath
				if tc.nonce != "" {
					wantClaims++
				}
				assert.Len(t, p.claims, wantClaims, "no other claims")
			}
		})
	}
}

func TestDPoPBearerTokenGetsNoProof(t *testing.T) {
	es, _, _ := dpopKeys(t)
	base := &dpopBase{answer: func(_ int, req *http.Request) *http.Response { return dpopAnswer(req, http.StatusOK) }}
	tr := &authtransport.Transport{
		Base:  base,
		Store: authtransport.NewMemoryStore(&authtransport.Token{AccessToken: "b", Expiry: time.Now().Add(time.Hour)}),
		DPoP:  newTestDPoP(t, es),
	}
	req, err := http.NewRequest(http.MethodGet, "https://api.example/x", nil)
	require.NoError(t, err)
	resp, err := tr.RoundTrip(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	calls := base.seen()
	require.Len(t, calls, 1)
	assert.Equal(t, "Bearer b", calls[0].auth)
	assert.Empty(t, calls[0].proof)
}

// trackedBody records how often it is closed.
type trackedBody struct {
	io.Reader
	closed atomic.Int32
}

func (b *trackedBody) Close() error { b.closed.Add(1); return nil }

func TestDPoPTokenWithoutDPoPConfigured(t *testing.T) {
	base := &dpopBase{answer: func(_ int, req *http.Request) *http.Response { return dpopAnswer(req, http.StatusOK) }}
	for _, tc := range []struct {
		name string
		typ  string
	}{{"DPoP", "DPoP"}, {"lower case dpop", "dpop"}} {
		t.Run(tc.name, func(t *testing.T) {
			tok := dpopToken("secret-access")
			tok.TokenType = tc.typ
			c := &http.Client{Transport: &authtransport.Transport{Base: base, Store: authtransport.NewMemoryStore(tok)}}
			body := &trackedBody{Reader: strings.NewReader("payload")}
			req, err := http.NewRequest(http.MethodPost, "https://api.example/x", body)
			require.NoError(t, err)
			resp, err := c.Do(req)
			require.Error(t, err)
			assert.Nil(t, resp)
			assert.ErrorIs(t, err, authtransport.ErrDPoPNotConfigured, "errors.Is through *url.Error")
			assert.NotContains(t, err.Error(), "secret-access")
			assert.Equal(t, int32(1), body.closed.Load(), "body closed once")
		})
	}
	assert.Empty(t, base.seen(), "a DPoP token is never sent as a bearer token")
}

// dpopCounter is a Refresher that issues "fresh-1", "fresh-2", ... of type
// DPoP.
type dpopCounter struct{ calls atomic.Int32 }

func (r *dpopCounter) Refresh(context.Context, *authtransport.Token) (*authtransport.Token, error) {
	n := r.calls.Add(1)
	return dpopToken("fresh-" + string(rune('0'+n))), nil
}

// newNonceEachTime answers each request with use_dpop_nonce and a new
// nonce: "n1", "n2", ...
func newNonceEachTime() func(*http.Request) *http.Response {
	var n atomic.Int32
	return func(r *http.Request) *http.Response {
		return useNonce(r, "n"+string(rune('0'+n.Add(1))))
	}
}

// TestDPoPResendsAreBounded drives scripted resource servers through every
// mix of nonce requests and token rejections: each RoundTrip resends at
// most once for a nonce and once after a refresh.
func TestDPoPResendsAreBounded(t *testing.T) {
	invalidToken := func(req *http.Request) *http.Response {
		return dpopAnswer(req, http.StatusUnauthorized, "WWW-Authenticate", `DPoP algs="ES256", error="invalid_token"`)
	}
	badProof := func(req *http.Request) *http.Response {
		return dpopAnswer(req, http.StatusUnauthorized, "WWW-Authenticate", `DPoP algs="ES256", error="invalid_dpop_proof"`)
	}
	ok := func(req *http.Request) *http.Response { return dpopAnswer(req, http.StatusOK) }
	tests := []struct {
		name          string
		script        []func(*http.Request) *http.Response // last one repeats
		replayable    bool
		wantCalls     int
		wantRefreshes int32
		wantStatus    int    // when the caller gets a response
		wantReason    string // when the caller gets a *LoginRequiredError
		wantNonces    []string
	}{
		{
			name:       "nonce then success",
			script:     []func(*http.Request) *http.Response{func(r *http.Request) *http.Response { return useNonce(r, "n1") }, ok},
			replayable: true, wantCalls: 2, wantStatus: 200, wantNonces: []string{"", "n1"},
		},
		{
			name:       "server keeps asking for a new nonce",
			script:     []func(*http.Request) *http.Response{newNonceEachTime()},
			replayable: true, wantCalls: 2, wantStatus: 401, wantNonces: []string{"", "n1"},
		},
		{
			name: "nonce, then expired token, then success",
			script: []func(*http.Request) *http.Response{
				func(r *http.Request) *http.Response { return useNonce(r, "n1") }, invalidToken, ok},
			replayable: true, wantCalls: 3, wantRefreshes: 1, wantStatus: 200, wantNonces: []string{"", "n1", "n1"},
		},
		{
			name: "expired token, then nonce, then success",
			script: []func(*http.Request) *http.Response{
				invalidToken, func(r *http.Request) *http.Response { return useNonce(r, "n1") }, ok},
			replayable: true, wantCalls: 3, wantRefreshes: 1, wantStatus: 200, wantNonces: []string{"", "", "n1"},
		},
		{
			name: "nonce, expired token, nonce again: gives up",
			script: []func(*http.Request) *http.Response{
				func(r *http.Request) *http.Response { return useNonce(r, "n1") }, invalidToken,
				func(r *http.Request) *http.Response { return useNonce(r, "n2") }},
			replayable: true, wantCalls: 3, wantRefreshes: 1, wantStatus: 401, wantNonces: []string{"", "n1", "n1"},
		},
		{
			name: "expired token, nonce, rejected again: login required",
			script: []func(*http.Request) *http.Response{
				invalidToken, func(r *http.Request) *http.Response { return useNonce(r, "n1") }, invalidToken},
			replayable: true, wantCalls: 3, wantRefreshes: 1, wantReason: authtransport.ReasonRejectedAfterRefresh.String(),
			wantNonces: []string{"", "", "n1"},
		},
		{
			name:       "nonce with a body that cannot be replayed: the caller gets the 401",
			script:     []func(*http.Request) *http.Response{func(r *http.Request) *http.Response { return useNonce(r, "n1") }},
			replayable: false, wantCalls: 1, wantStatus: 401, wantNonces: []string{""},
		},
		{
			name:       "use_dpop_nonce without a DPoP-Nonce header is a plain rejection",
			script:     []func(*http.Request) *http.Response{func(r *http.Request) *http.Response { return useNonce(r, "") }, ok},
			replayable: true, wantCalls: 2, wantRefreshes: 1, wantStatus: 200, wantNonces: []string{"", ""},
		},
		{
			name:       "invalid_dpop_proof: one refresh, then the caller gets the 401",
			script:     []func(*http.Request) *http.Response{badProof},
			replayable: true, wantCalls: 2, wantRefreshes: 1, wantStatus: 401, wantNonces: []string{"", ""},
		},
		{
			name:       "invalid_dpop_proof fixed by a refresh (token bound to another key)",
			script:     []func(*http.Request) *http.Response{badProof, ok},
			replayable: true, wantCalls: 2, wantRefreshes: 1, wantStatus: 200, wantNonces: []string{"", ""},
		},
	}
	es, _, _ := dpopKeys(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := &dpopBase{answer: func(n int, req *http.Request) *http.Response {
				return tt.script[min(n, len(tt.script)-1)](req)
			}}
			ref := &dpopCounter{}
			tr := &authtransport.Transport{Base: base, Store: authtransport.NewMemoryStore(dpopToken("first")),
				Refresher: ref, DPoP: newTestDPoP(t, es)}
			var body io.Reader = strings.NewReader("payload")
			if !tt.replayable {
				body = io.NopCloser(body) // no GetBody
			}
			req, err := http.NewRequest(http.MethodPost, "https://api.example/x", body)
			require.NoError(t, err)
			resp, err := (&http.Client{Transport: tr}).Do(req)
			if tt.wantReason != "" {
				var lr *authtransport.LoginRequiredError
				require.ErrorAs(t, err, &lr)
				assert.Equal(t, tt.wantReason, lr.Reason.String())
			} else {
				require.NoError(t, err)
				assert.Equal(t, tt.wantStatus, resp.StatusCode)
				_ = resp.Body.Close()
			}
			calls := base.seen()
			assert.Len(t, calls, tt.wantCalls, "requests sent")
			assert.Equal(t, tt.wantRefreshes, ref.calls.Load(), "refreshes")
			var nonces []string
			for _, c := range calls {
				p := verifyProof(t, c.proof)
				n, _ := p.claims["nonce"].(string)
				nonces = append(nonces, n)
				if tt.replayable {
					assert.Equal(t, "payload", c.body, "the body is replayed")
				}
			}
			assert.Equal(t, tt.wantNonces, nonces, "nonce claim of each request")
		})
	}
}

// TestDPoPRefusedProofIsNotRefreshedAgain checks that a token whose fresh
// proofs are refused right after its refresh does not make every later
// request refresh.
func TestDPoPRefusedProofIsNotRefreshedAgain(t *testing.T) {
	es, _, _ := dpopKeys(t)
	base := &dpopBase{answer: func(_ int, req *http.Request) *http.Response {
		return dpopAnswer(req, http.StatusUnauthorized, "WWW-Authenticate", `DPoP error="invalid_dpop_proof"`)
	}}
	ref := &dpopCounter{}
	c := &http.Client{Transport: &authtransport.Transport{Base: base, Store: authtransport.NewMemoryStore(dpopToken("first")),
		Refresher: ref, DPoP: newTestDPoP(t, es)}}
	for range 3 {
		resp, err := c.Get("https://api.example/x")
		require.NoError(t, err)
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		_ = resp.Body.Close()
	}
	assert.Equal(t, int32(1), ref.calls.Load(), "one refresh for three requests")
	assert.Len(t, base.seen(), 4, "2 for the first request, 1 for each of the others")
}

// nonceRotator rotates the server's DPoP nonce just before the first
// resource request it forwards, so that the resource has to ask for the new
// one.
type nonceRotator struct {
	srv  *authtest.Server
	base http.RoundTripper
	once sync.Once
}

func (r *nonceRotator) RoundTrip(req *http.Request) (*http.Response, error) {
	if strings.HasPrefix(req.URL.Path, "/api/") {
		r.once.Do(func() { r.srv.RotateDPoPNonce() })
	}
	return r.base.RoundTrip(req)
}

func newDPoPServer(t *testing.T) *authtest.Server {
	t.Helper()
	srv := authtest.NewServer()
	t.Cleanup(srv.Close)
	srv.RequireDPoP(true)
	srv.RequireDPoPNonce(true)
	return srv
}

func resourceOutcomes(srv *authtest.Server) []string {
	var out []string
	for _, r := range srv.ResourceRequests() {
		out = append(out, r.Outcome)
	}
	return out
}

func TestDPoPFullFlowAgainstAuthtest(t *testing.T) {
	srv := newDPoPServer(t)
	es, _, _ := dpopKeys(t)
	d := newTestDPoP(t, es)
	store := authtransport.NewMemoryStore(srv.IssueToken(authtest.Grant{Expired: true, DPoPKeyThumbprint: d.Thumbprint()}))
	tr := &authtransport.Transport{
		Base:      &nonceRotator{srv: srv, base: srv.Client().Transport},
		Store:     store,
		Refresher: authtransport.NewOAuth2Refresher(srv.Config()),
		DPoP:      d,
	}
	c := &http.Client{Transport: tr}

	// Expired token: refresh through the token endpoint's nonce dance, then
	// the resource's (the nonce rotated in between).
	status, err := getURL(t, c, srv.ResourceURL("items"))
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, status)
	st := srv.Stats()
	assert.Equal(t, 1, st.TokenRequests["refresh_token"][authtest.OutcomeUseDPoPNonce], "token endpoint asked for a nonce once")
	assert.Equal(t, 1, st.Refreshes())
	assert.Equal(t, 2, st.TokenRequestsTotal())
	assert.Equal(t, []string{authtest.OutcomeUseDPoPNonce, authtest.OutcomeOK}, resourceOutcomes(srv))
	for _, r := range srv.ResourceRequests() {
		assert.Equal(t, "DPoP", r.Scheme)
		assert.True(t, r.DPoPProof)
	}
	tok, err := store.Load(t.Context())
	require.NoError(t, err)
	assert.Equal(t, wwwauth.SchemeDPoP, tok.Type(), "the refreshed token is DPoP-bound")

	// The nonce is known now: no dance.
	status, err = getURL(t, c, srv.ResourceURL("items"))
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, status)
	assert.Len(t, srv.ResourceRequests(), 3)

	// Rotation mid-run: one extra resend, no refresh.
	srv.RotateDPoPNonce()
	status, err = getURL(t, c, srv.ResourceURL("items"))
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, []string{authtest.OutcomeUseDPoPNonce, authtest.OutcomeOK, authtest.OutcomeOK,
		authtest.OutcomeUseDPoPNonce, authtest.OutcomeOK}, resourceOutcomes(srv))
	assert.Equal(t, 2, srv.Stats().TokenRequestsTotal(), "no more token requests")

	// A scheduled rotation on the server's clock, with a POST body.
	clock := authtest.NewClock(time.Now())
	srv.SetNow(clock.Now)
	srv.SetDPoPNonceInterval(time.Minute)
	clock.Advance(time.Minute)
	req, err := http.NewRequest(http.MethodPost, srv.ResourceURL("items")+"?page=2", strings.NewReader(`{"a":1}`))
	require.NoError(t, err)
	resp, err := c.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	reqs := srv.ResourceRequests()
	require.Len(t, reqs, 7)
	assert.Equal(t, authtest.OutcomeUseDPoPNonce, reqs[5].Outcome)
	assert.Equal(t, authtest.OutcomeOK, reqs[6].Outcome)
	assert.JSONEq(t, `{"a":1}`, string(reqs[6].Body))
	assert.Equal(t, 1, srv.Stats().Refreshes())
}

func TestDPoPClientCredentialsFromEmptyStore(t *testing.T) {
	srv := newDPoPServer(t)
	es, _, _ := dpopKeys(t)
	c := &http.Client{Transport: &authtransport.Transport{
		Base:      srv.Client().Transport,
		Refresher: authtransport.NewClientCredentialsRefresher(srv.ClientCredentialsConfig()),
		DPoP:      newTestDPoP(t, es),
	}}
	status, err := getURL(t, c, srv.ResourceURL("x"))
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, status)
	st := srv.Stats()
	assert.Equal(t, 1, st.TokenRequests["client_credentials"][authtest.OutcomeUseDPoPNonce])
	assert.Equal(t, 1, st.TokenRequests["client_credentials"][authtest.OutcomeOK])
	assert.Equal(t, []string{authtest.OutcomeOK}, resourceOutcomes(srv), "the token endpoint's nonce serves the same origin")
}

func TestDPoPTokenBoundToAnotherKey(t *testing.T) {
	srv := authtest.NewServer()
	defer srv.Close()
	srv.RequireDPoP(true)
	es, _, _ := dpopKeys(t)
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	// The stored token and its refresh token were bound to a key that is
	// gone, as with a new key at each start: refreshing cannot help, the
	// user must log in.
	tok := srv.IssueToken(authtest.Grant{DPoPKeyThumbprint: authtest.JWKThumbprint(&other.PublicKey)})
	c := &http.Client{Transport: &authtransport.Transport{
		Base:      srv.Client().Transport,
		Store:     authtransport.NewMemoryStore(tok),
		Refresher: authtransport.NewOAuth2Refresher(srv.Config()),
		DPoP:      newTestDPoP(t, es),
	}}
	_, err = getURL(t, c, srv.ResourceURL("x"))
	var lr *authtransport.LoginRequiredError
	require.ErrorAs(t, err, &lr)
	assert.Equal(t, authtransport.ReasonRefreshRejected, lr.Reason)
	assert.Equal(t, []string{authtest.OutcomeInvalidDPoPProof}, resourceOutcomes(srv))
	assert.Equal(t, 1, srv.Stats().TokenRequests["refresh_token"]["invalid_grant"])
}

func TestDPoPConcurrentUse(t *testing.T) {
	srv := newDPoPServer(t)
	es, _, _ := dpopKeys(t)
	d := newTestDPoP(t, es)
	srv.SetTokenDelay(10 * time.Millisecond) // callers surely overlap
	// Two Transports share the key and its nonces.
	newC := func() *http.Client {
		return &http.Client{Transport: &authtransport.Transport{
			Base:      srv.Client().Transport,
			Store:     authtransport.NewMemoryStore(srv.IssueToken(authtest.Grant{Expired: true, DPoPKeyThumbprint: d.Thumbprint()})),
			Refresher: authtransport.NewOAuth2Refresher(srv.Config()),
			DPoP:      d,
		}}
	}
	clients := []*http.Client{newC(), newC()}
	const goroutines, each = 16, 10
	var wg sync.WaitGroup
	var failures atomic.Int32
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				if g == 0 && i == each/2 {
					srv.RotateDPoPNonce()
				}
				status, err := getURL(t, clients[g%2], srv.ResourceURL("items"))
				if err != nil || status != http.StatusOK {
					failures.Add(1)
					t.Errorf("request: status %d, error %v", status, err)
				}
			}
		})
	}
	wg.Wait()
	assert.Zero(t, failures.Load())
	st := srv.Stats()
	assert.Equal(t, 2, st.Refreshes(), "one refresh per Transport")
	assert.Equal(t, goroutines*each, st.ResourceRequests[authtest.OutcomeOK])
	assert.Zero(t, st.ResourceRequests[authtest.OutcomeInvalidDPoPProof], "no proof refused (jti replay, signature)")
}

// TestDPoPTokenRequests checks the proofs on the Refresher's token requests
// against a scripted token endpoint, and that only POSTs get one.
func TestDPoPTokenRequests(t *testing.T) {
	tests := []struct {
		name       string
		answers    []int // status of each answer; 400 is use_dpop_nonce
		wantCalls  int
		wantStatus int
	}{
		{"no nonce needed", []int{200}, 1, 200},
		{"nonce dance", []int{400, 200}, 2, 200},
		{"server keeps asking for a nonce", []int{400, 400, 400}, 2, 400},
	}
	es, _, _ := dpopKeys(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var proofs []string
			var bodies []string
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				mu.Lock()
				n := len(proofs)
				proofs = append(proofs, r.Header.Get("DPoP"))
				bodies = append(bodies, string(b))
				mu.Unlock()
				w.Header().Set("DPoP-Nonce", "as-nonce-"+string(rune('0'+n)))
				if tt.answers[min(n, len(tt.answers)-1)] == 400 {
					w.WriteHeader(http.StatusBadRequest)
					_, _ = io.WriteString(w, `{"error":"use_dpop_nonce","error_description":"nonce"}`)
					return
				}
				_, _ = io.WriteString(w, `{"ok":true}`)
			}))
			defer ts.Close()
			d := newTestDPoP(t, es)
			var status int
			// The refresher runs on the flight's goroutine: it reports
			// with errors, not require.
			ref := authtransport.RefresherFunc(func(ctx context.Context, _ *authtransport.Token) (*authtransport.Token, error) {
				hc, ok := ctx.Value(oauth2.HTTPClient).(*http.Client)
				if !ok {
					return nil, errors.New("the refresh context has no HTTP client")
				}
				// A body without GetBody is buffered for the resend.
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, ts.URL+"/token?x=1", io.NopCloser(strings.NewReader("grant_type=refresh_token")))
				if err != nil {
					return nil, err
				}
				resp, err := hc.Do(req)
				if err != nil {
					return nil, err
				}
				body, _ := io.ReadAll(resp.Body)
				_ = resp.Body.Close()
				status = resp.StatusCode
				if status == 400 {
					assert.JSONEq(t, `{"error":"use_dpop_nonce","error_description":"nonce"}`, string(body), "the error answer reaches the refresher whole")
				}
				// Other requests, such as a metadata GET, go untouched.
				resp, err = hc.Get(ts.URL + "/meta")
				if err != nil {
					return nil, err
				}
				_ = resp.Body.Close()
				return dpopToken("t"), nil
			})
			tr := &authtransport.Transport{Base: &dpopBase{answer: func(_ int, r *http.Request) *http.Response { return dpopAnswer(r, 200) }},
				Refresher: ref, DPoP: d}
			_, err := tr.Token(t.Context())
			require.NoError(t, err)
			assert.Equal(t, tt.wantStatus, status)
			mu.Lock()
			defer mu.Unlock()
			require.Len(t, proofs, tt.wantCalls+1)
			assert.Empty(t, proofs[tt.wantCalls], "GET carries no proof")
			for i, pr := range proofs[:tt.wantCalls] {
				assert.Equal(t, "grant_type=refresh_token", bodies[i], "body of token request %d", i)
				p := verifyProof(t, pr)
				assert.Equal(t, "POST", p.claims["htm"])
				assert.Equal(t, ts.URL+"/token", p.claims["htu"])
				assert.NotContains(t, p.claims, "ath", "no ath at the token endpoint")
				if i == 0 {
					assert.NotContains(t, p.claims, "nonce")
				} else {
					assert.Equal(t, "as-nonce-"+string(rune('0'+i-1)), p.claims["nonce"])
				}
			}
		})
	}
}

func TestDPoPTokenEndpointKeepsAskingForNonce(t *testing.T) {
	srv := newDPoPServer(t)
	es, _, _ := dpopKeys(t)
	d := newTestDPoP(t, es)
	// The token endpoint rotates its nonce before every request, so each
	// proof carries a stale one.
	rotating := roundTripperFunc(func(req *http.Request) (*http.Response, error) {
		if req.URL.Path == "/token" {
			srv.RotateDPoPNonce()
		}
		return srv.Client().Transport.RoundTrip(req)
	})
	tr := &authtransport.Transport{
		Base:      srv.Client().Transport,
		Store:     authtransport.NewMemoryStore(srv.IssueToken(authtest.Grant{Expired: true, DPoPKeyThumbprint: d.Thumbprint()})),
		Refresher: authtransport.NewOAuth2Refresher(srv.Config()),
		DPoP:      d,
	}
	ctx := context.WithValue(t.Context(), oauth2.HTTPClient, &http.Client{Transport: rotating})
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.ResourceURL("x"), nil)
	require.NoError(t, err)
	resp, err := tr.RoundTrip(req)
	require.Error(t, err)
	assert.Nil(t, resp)
	var re *authtransport.RefreshError
	require.ErrorAs(t, err, &re, "a transient refresh failure")
	assert.Equal(t, wwwauth.CodeUseDPoPNonce, re.Code)
	assert.Equal(t, 2, srv.Stats().TokenRequests["refresh_token"][authtest.OutcomeUseDPoPNonce], "one resend, no loop")
	assert.Equal(t, 2, srv.Stats().TokenRequestsTotal())
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// dpopStub answers 200 with an empty body and allocates nothing itself.
type dpopStub struct{ resp http.Response }

func (s *dpopStub) RoundTrip(*http.Request) (*http.Response, error) { return &s.resp, nil }

// BenchmarkRoundTripDPoP compares a RoundTrip with a DPoP token and a fresh
// proof per request, for each algorithm, with the same RoundTrip with a
// bearer token, over a stub Base.
func BenchmarkRoundTripDPoP(b *testing.B) {
	es, ed, rs := dpopKeys(b)
	exp := time.Now().Add(time.Hour)
	rows := []struct {
		name string
		key  crypto.Signer // nil: bearer
	}{{"bearer", nil}, {"ES256", es}, {"EdDSA", ed}, {"RS256", rs}}
	for _, row := range rows {
		tok := &authtransport.Token{AccessToken: "access-token-value", Expiry: exp}
		tr := &authtransport.Transport{
			Base:  &dpopStub{resp: http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Header: http.Header{}}},
			Store: authtransport.NewMemoryStore(tok),
		}
		if row.key != nil {
			tok.TokenType = wwwauth.SchemeDPoP
			tr.DPoP = newTestDPoP(b, row.key)
		}
		newReq := func() *http.Request {
			req, err := http.NewRequest(http.MethodGet, "https://api.example/v1/things?page=2", nil)
			if err != nil {
				b.Fatal(err)
			}
			req.Header.Set("Accept", "application/json")
			return req
		}
		b.Run("token="+row.name+"/mode=serial", func(b *testing.B) {
			req := newReq()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := tr.RoundTrip(req); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("token="+row.name+"/mode=parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				req := newReq()
				for pb.Next() {
					if _, err := tr.RoundTrip(req); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// scriptedSigner signs with an ECDSA P-256 key through sign, which may
// change what the key returns.
type scriptedSigner struct {
	key  *ecdsa.PrivateKey
	sign func(key *ecdsa.PrivateKey, digest []byte) ([]byte, error)
}

func (s scriptedSigner) Public() crypto.PublicKey { return &s.key.PublicKey }
func (s scriptedSigner) Sign(_ io.Reader, digest []byte, _ crypto.SignerOpts) ([]byte, error) {
	return s.sign(s.key, digest)
}

var errSignerBroken = errors.New("signer broken")

func TestDPoPSigners(t *testing.T) {
	es, _, _ := dpopKeys(t)
	tests := []struct {
		name    string
		sign    func(key *ecdsa.PrivateKey, digest []byte) ([]byte, error)
		wantErr string
		wantIs  error
	}{
		{"short R or S is left-padded to 32 bytes", func(key *ecdsa.PrivateKey, digest []byte) ([]byte, error) {
			// Sign until R or S has a leading zero byte (1 in 128).
			for {
				sig, err := ecdsa.SignASN1(rand.Reader, key, digest)
				if err != nil {
					return nil, err
				}
				var rs struct{ R, S *big.Int }
				if _, err := asn1.Unmarshal(sig, &rs); err != nil {
					return nil, err
				}
				if rs.R.BitLen() <= 248 || rs.S.BitLen() <= 248 {
					return sig, nil
				}
			}
		}, "", nil},
		{"malformed DER", func(*ecdsa.PrivateKey, []byte) ([]byte, error) { return []byte{0x30, 0x03, 0x02, 0x01}, nil },
			"malformed ECDSA signature", nil},
		{"integer longer than the curve", func(*ecdsa.PrivateKey, []byte) ([]byte, error) {
			return append([]byte{0x30, 0x26, 0x02, 0x21, 0x01}, make([]byte, 32+3)...), nil
		}, "malformed ECDSA signature", nil},
		{"signer fails", func(*ecdsa.PrivateKey, []byte) ([]byte, error) { return nil, errSignerBroken },
			"sign DPoP proof", errSignerBroken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := &dpopBase{answer: func(_ int, req *http.Request) *http.Response { return dpopAnswer(req, http.StatusOK) }}
			tr := &authtransport.Transport{Base: base, Store: authtransport.NewMemoryStore(dpopToken("a")),
				DPoP: newTestDPoP(t, scriptedSigner{key: es, sign: tt.sign})}
			body := &trackedBody{Reader: strings.NewReader("x")}
			req, err := http.NewRequest(http.MethodPost, "https://api.example/x", body)
			require.NoError(t, err)
			resp, err := tr.RoundTrip(req)
			if tt.wantErr == "" {
				require.NoError(t, err)
				_ = resp.Body.Close()
				calls := base.seen()
				require.Len(t, calls, 1)
				verifyProof(t, calls[0].proof)
				return
			}
			require.Error(t, err)
			assert.Nil(t, resp)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.True(t, strings.HasPrefix(err.Error(), "authtransport: "), "error %q has the package prefix", err)
			if tt.wantIs != nil {
				assert.ErrorIs(t, err, tt.wantIs)
			}
			assert.Empty(t, base.seen(), "nothing sent")
			assert.Equal(t, int32(1), body.closed.Load(), "body closed once")
		})
	}
	t.Run("zero DPoP", func(t *testing.T) {
		tr := &authtransport.Transport{Base: http.NewFileTransport(http.Dir(t.TempDir())),
			Store: authtransport.NewMemoryStore(dpopToken("a")), DPoP: &authtransport.DPoP{}}
		req, err := http.NewRequest(http.MethodGet, "https://api.example/x", nil)
		require.NoError(t, err)
		resp, err := tr.RoundTrip(req)
		assert.Nil(t, resp)
		assert.ErrorContains(t, err, "authtransport: DPoP not created by NewDPoP")
	})
}

// A request with an empty Method (GET, as net/http reads it) with a DPoP
// token gets a proof whose htm is GET, which the server accepts.
func TestDPoPProofForEmptyMethod(t *testing.T) {
	srv := authtest.NewServer()
	t.Cleanup(srv.Close)
	srv.RequireDPoP(true)
	es, _, _ := dpopKeys(t)
	d := newTestDPoP(t, es)
	tok := srv.IssueToken(authtest.Grant{DPoPKeyThumbprint: d.Thumbprint()})
	tr := &authtransport.Transport{Base: srv.Client().Transport, Store: authtransport.NewMemoryStore(tok),
		Refresher: authtransport.NewOAuth2Refresher(srv.Config()), DPoP: d}
	u, _ := url.Parse(srv.ResourceURL("x"))
	req := (&http.Request{Method: "", URL: u, Header: http.Header{}}).WithContext(context.Background())
	resp, err := tr.RoundTrip(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, []string{authtest.OutcomeOK}, resourceOutcomes(srv), "resource outcomes")
	assert.Equal(t, 0, srv.Stats().Refreshes(), "refreshes spent")
}
