package authtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DPoP proof freshness: a proof's iat may lie this far in the past or the
// future of the real time.
const (
	dpopMaxAge  = 5 * time.Minute
	dpopMaxSkew = time.Minute
)

// dpopState is the server's DPoP configuration, guarded by Server.mu.
type dpopState struct {
	required      bool
	nonceRequired bool
	nonce         string
	nonceIssued   time.Time // on the server's clock
	nonceInterval time.Duration
	jtis          map[string]time.Time // jti -> real time it was seen
}

func (d *dpopState) init() {
	d.nonce = randomString(16)
	d.jtis = make(map[string]time.Time)
}

// RequireDPoP sets whether the server requires DPoP (RFC 9449): when on,
// the token endpoint refuses requests without a valid DPoP proof, and the
// resource accepts only DPoP-bound tokens sent as "Authorization: DPoP"
// with a proof carrying ath. Either way the token endpoint binds the tokens
// it issues to the key of a valid proof that comes with the request, and
// answers with token_type DPoP.
//
// The server verifies ES256 proofs: typ dpop+jwt, the public key in jwk,
// the signature, htm, htu (scheme, host and path), iat within five minutes
// of the real time, jti not seen before, and the nonce when required.
func (s *Server) RequireDPoP(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dpop.required = on
}

// RequireDPoPNonce sets whether DPoP proofs must carry the server's current
// nonce. A proof without it is answered with use_dpop_nonce and a DPoP-Nonce
// header: by the token endpoint with a 400 JSON error, by the resource with
// a 401 and a DPoP challenge. The token endpoint and the resource share one
// nonce.
func (s *Server) RequireDPoPNonce(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dpop.nonceRequired = on
	s.dpop.nonceIssued = s.now()
}

// RotateDPoPNonce replaces the DPoP nonce at once and returns the new one;
// the old one stops being accepted.
func (s *Server) RotateDPoPNonce() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rotateNonceLocked()
	return s.dpop.nonce
}

// SetDPoPNonceInterval makes the DPoP nonce rotate every d on the server's
// clock ([Server.SetNow]). Zero stops the schedule.
func (s *Server) SetDPoPNonceInterval(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dpop.nonceInterval = d
	s.dpop.nonceIssued = s.now()
}

// DPoPNonce returns the current DPoP nonce, rotating it first if its
// scheduled time has come.
func (s *Server) DPoPNonce() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.currentNonceLocked()
}

func (s *Server) rotateNonceLocked() {
	s.dpop.nonce = randomString(16)
	s.dpop.nonceIssued = s.now()
}

func (s *Server) currentNonceLocked() string {
	d := &s.dpop
	if d.nonceInterval > 0 && s.now().Sub(d.nonceIssued) >= d.nonceInterval {
		s.rotateNonceLocked()
	}
	return d.nonce
}

func (s *Server) dpopRequired() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dpop.required
}

// jwk is the public key in a DPoP proof header.
type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
	D   string `json:"d,omitempty"`
}

type dpopHeader struct {
	Typ string `json:"typ"`
	Alg string `json:"alg"`
	JWK *jwk   `json:"jwk"`
}

type dpopClaims struct {
	JTI   string   `json:"jti"`
	HTM   string   `json:"htm"`
	HTU   string   `json:"htu"`
	IAT   *float64 `json:"iat"`
	ATH   string   `json:"ath"`
	Nonce string   `json:"nonce"`
}

func proofError(desc string) *oauthError {
	return &oauthError{code: "invalid_dpop_proof", description: desc}
}

// checkDPoP verifies the request's DPoP proof, if it has one, and returns
// the RFC 7638 thumbprint of its key. accessToken, when not empty, must be
// matched by the proof's ath. No DPoP header returns "", nil.
func (s *Server) checkDPoP(r *http.Request, accessToken string) (string, *oauthError) {
	values := r.Header.Values("DPoP")
	if len(values) == 0 {
		return "", nil
	}
	if len(values) > 1 {
		return "", proofError("more than one DPoP header")
	}
	parts := strings.Split(values[0], ".")
	if len(parts) != 3 {
		return "", proofError("the proof is not a compact JWS")
	}
	var hdr dpopHeader
	if err := decodeSegment(parts[0], &hdr); err != nil {
		return "", proofError("the proof header is not valid JSON")
	}
	if hdr.Typ != "dpop+jwt" {
		return "", proofError("typ must be dpop+jwt")
	}
	if hdr.Alg != "ES256" {
		return "", proofError("only ES256 proofs are supported")
	}
	if hdr.JWK == nil || hdr.JWK.Kty != "EC" || hdr.JWK.Crv != "P-256" || hdr.JWK.D != "" {
		return "", proofError("jwk must be a public P-256 key")
	}
	pub, ok := ecPublicKey(hdr.JWK)
	if !ok {
		return "", proofError("jwk is not a valid P-256 public key")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(sig) != 64 {
		return "", proofError("the signature is malformed")
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	rr, ss := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	if !ecdsa.Verify(pub, digest[:], rr, ss) {
		return "", proofError("the signature does not verify")
	}
	var cl dpopClaims
	if err := decodeSegment(parts[1], &cl); err != nil {
		return "", proofError("the proof claims are not valid JSON")
	}
	if cl.JTI == "" || cl.IAT == nil {
		return "", proofError("jti and iat are required")
	}
	if cl.HTM != r.Method {
		return "", proofError("htm does not match the request method")
	}
	if !sameHTU(cl.HTU, r) {
		return "", proofError("htu does not match the request URL")
	}
	realNow := time.Now()
	iat := time.Unix(0, int64(*cl.IAT*float64(time.Second)))
	if iat.Before(realNow.Add(-dpopMaxAge)) || iat.After(realNow.Add(dpopMaxSkew)) {
		return "", proofError("iat is outside the accepted window")
	}
	if accessToken != "" {
		sum := sha256.Sum256([]byte(accessToken))
		if cl.ATH != base64.RawURLEncoding.EncodeToString(sum[:]) {
			return "", proofError("ath does not match the access token")
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dpop.nonceRequired {
		if nonce := s.currentNonceLocked(); cl.Nonce != nonce {
			return "", &oauthError{code: "use_dpop_nonce", description: "the proof must carry the server's current nonce",
				header: http.Header{"Dpop-Nonce": {nonce}}}
		}
	}
	for j, seen := range s.dpop.jtis {
		if realNow.Sub(seen) > dpopMaxAge+dpopMaxSkew {
			delete(s.dpop.jtis, j)
		}
	}
	if _, seen := s.dpop.jtis[cl.JTI]; seen {
		return "", proofError("the proof was already used (jti replay)")
	}
	s.dpop.jtis[cl.JTI] = realNow
	return JWKThumbprint(pub), nil
}

// decodeSegment decodes one base64url JWS segment as JSON into v.
func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// ecPublicKey builds a P-256 public key from k, checking that the point is
// on the curve.
func ecPublicKey(k *jwk) (*ecdsa.PublicKey, bool) {
	x, errX := base64.RawURLEncoding.DecodeString(k.X)
	y, errY := base64.RawURLEncoding.DecodeString(k.Y)
	if errX != nil || errY != nil || len(x) != 32 || len(y) != 32 {
		return nil, false
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
	if err != nil {
		return nil, false
	}
	return pub, true
}

// JWKThumbprint returns the RFC 7638 SHA-256 thumbprint of a P-256 public
// key, base64url encoded without padding: the value DPoP-bound tokens are
// bound to ([Grant.DPoPKeyThumbprint]) and the one to send as dpop_jkt.
func JWKThumbprint(pub *ecdsa.PublicKey) string {
	b, err := pub.Bytes() // 0x04 || X || Y
	if err != nil || len(b) != 65 {
		return ""
	}
	enc := base64.RawURLEncoding
	canonical := `{"crv":"P-256","kty":"EC","x":"` + enc.EncodeToString(b[1:33]) + `","y":"` + enc.EncodeToString(b[33:]) + `"}`
	sum := sha256.Sum256([]byte(canonical))
	return enc.EncodeToString(sum[:])
}

// sameHTU reports whether htu names the request's URL: the same scheme,
// host and path, ignoring query and fragment (RFC 9449 §4.3).
func sameHTU(htu string, r *http.Request) bool {
	u, err := url.Parse(htu)
	if err != nil {
		return false
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	return strings.EqualFold(u.Scheme, scheme) && strings.EqualFold(u.Host, r.Host) && path == r.URL.EscapedPath()
}
