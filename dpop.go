package authtransport

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// ErrDPoPNotConfigured is returned by [Transport.RoundTrip] for a request
// that would carry a token of type DPoP when the Transport has no [DPoP]
// to make proofs with. Such a token is never sent as a bearer token.
var ErrDPoPNotConfigured = errors.New("authtransport: token of type DPoP but no DPoP key configured")

// DPoP makes RFC 9449 proofs of possession with one private key and
// remembers the nonces servers hand out, per origin.
//
// A DPoP is created with [NewDPoP]; its zero value is not usable. It is safe
// for concurrent use, and several [Transport] values may share one. Tokens
// issued through its proofs are bound to its key: a DPoP whose key is lost
// (a new key at each start, say) cannot use the tokens a [Store] kept from
// before, and the Transport has to refresh them (see the package
// documentation). When the key fails to sign, the request fails with an
// error that wraps the key's error.
type DPoP struct {
	key    crypto.Signer
	alg    string // JWS alg: ES256, EdDSA or RS256
	sigLen int    // length of a raw signature in bytes
	prefix string // base64url of the JOSE header, then "."
	thumb  string // RFC 7638 SHA-256 thumbprint, base64url

	mu     sync.RWMutex // guards nonces
	nonces map[origin]string
}

// DPoP algorithms (RFC 7518 §3.1, RFC 8037 §3.1).
const (
	algES256 = "ES256"
	algEdDSA = "EdDSA"
	algRS256 = "RS256"
)

// minRSABits is the smallest RSA modulus NewDPoP accepts.
const minRSABits = 2048

// NewDPoP returns a DPoP that signs proofs with key. The key's public half
// decides the algorithm: an ECDSA P-256 key signs ES256, an Ed25519 key
// EdDSA, and an RSA key of at least 2048 bits RS256. Any [crypto.Signer]
// with such a public key works, including keys held in hardware. NewDPoP
// returns an error for any other key.
//
// Servers bind tokens to the key, so a key meant to outlive the process must
// be stored as safely as the refresh token. ES256 is the algorithm servers
// support most widely; prefer it.
func NewDPoP(key crypto.Signer) (d *DPoP, err error) {
	if key == nil {
		return nil, errors.New("authtransport: nil DPoP key")
	}
	defer func() {
		if v := recover(); v != nil {
			d, err = nil, fmt.Errorf("authtransport: DPoP key: %w", panicError("crypto.Signer.Public", v))
		}
	}()
	enc := base64.RawURLEncoding
	d = &DPoP{key: key}
	// jwk holds the required members of the public JWK in the lexicographic
	// order RFC 7638 §3.2 prescribes, so that it doubles as the input of
	// the thumbprint.
	var jwk string
	switch pub := key.Public().(type) {
	case *ecdsa.PublicKey:
		if pub.Curve != elliptic.P256() {
			return nil, fmt.Errorf("authtransport: unsupported DPoP key: ECDSA curve %s, want P-256", pub.Curve.Params().Name)
		}
		b, err := pub.Bytes() // 0x04 || X || Y
		if err != nil || len(b) != 65 {
			return nil, errors.New("authtransport: invalid ECDSA P-256 public key")
		}
		d.alg, d.sigLen = algES256, 64
		jwk = `{"crv":"P-256","kty":"EC","x":"` + enc.EncodeToString(b[1:33]) + `","y":"` + enc.EncodeToString(b[33:]) + `"}`
	case ed25519.PublicKey:
		if len(pub) != ed25519.PublicKeySize {
			return nil, errors.New("authtransport: invalid Ed25519 public key")
		}
		d.alg, d.sigLen = algEdDSA, ed25519.SignatureSize
		jwk = `{"crv":"Ed25519","kty":"OKP","x":"` + enc.EncodeToString(pub) + `"}`
	case *rsa.PublicKey:
		if pub.N == nil || pub.N.BitLen() < minRSABits {
			return nil, fmt.Errorf("authtransport: unsupported DPoP key: RSA keys need at least %d bits", minRSABits)
		}
		d.alg, d.sigLen = algRS256, pub.Size()
		e := big.NewInt(int64(pub.E)).Bytes()
		jwk = `{"e":"` + enc.EncodeToString(e) + `","kty":"RSA","n":"` + enc.EncodeToString(pub.N.Bytes()) + `"}`
	default:
		return nil, fmt.Errorf("authtransport: unsupported DPoP key type %T", key.Public())
	}
	sum := sha256.Sum256([]byte(jwk))
	d.thumb = enc.EncodeToString(sum[:])
	header := `{"typ":"dpop+jwt","alg":"` + d.alg + `","jwk":` + jwk + `}`
	d.prefix = enc.EncodeToString([]byte(header)) + "."
	return d, nil
}

// Thumbprint returns the RFC 7638 SHA-256 thumbprint of the public key,
// base64url encoded without padding: the value servers bind tokens to, and
// the one to send as dpop_jkt in an authorization request (RFC 9449 §10).
func (d *DPoP) Thumbprint() string { return d.thumb }

// proof returns a DPoP proof JWT (RFC 9449 §4.2) for a request with method
// to u, sent with Host header host when not empty, made at now. It carries
// ath when accessToken is not empty and the nonce last received from u's
// origin, if any.
func (d *DPoP) proof(method string, u *url.URL, host, accessToken string, now time.Time) (string, error) {
	if d == nil || d.key == nil {
		return "", errors.New("authtransport: DPoP not created by NewDPoP")
	}
	enc := base64.RawURLEncoding
	nonce := d.nonce(u)

	// Claims, in one buffer that stays on the stack for usual sizes.
	var jti [16]byte
	_, _ = rand.Read(jti[:]) // never fails (crypto/rand)
	claims := make([]byte, 0, 512)
	claims = append(claims, `{"jti":"`...)
	claims = enc.AppendEncode(claims, jti[:])
	claims = append(claims, `","htm":`...)
	claims = appendJSONString(claims, method)
	claims = append(claims, `,"htu":`...)
	claims = appendHTU(claims, u, host)
	claims = append(claims, `,"iat":`...)
	claims = strconv.AppendInt(claims, now.Unix(), 10)
	if accessToken != "" {
		sum := sha256.Sum256([]byte(accessToken))
		claims = append(claims, `,"ath":"`...)
		claims = enc.AppendEncode(claims, sum[:])
		claims = append(claims, '"')
	}
	if nonce != "" {
		// validNonce admits no character that JSON would escape.
		claims = append(claims, `,"nonce":"`...)
		claims = append(claims, nonce...)
		claims = append(claims, '"')
	}
	claims = append(claims, '}')

	n := len(d.prefix) + enc.EncodedLen(len(claims))
	out := make([]byte, 0, n+1+enc.EncodedLen(d.sigLen))
	out = append(out, d.prefix...)
	out = enc.AppendEncode(out, claims)
	sig, err := d.sign(out)
	if err != nil {
		return "", err
	}
	out = append(out, '.')
	out = enc.AppendEncode(out, sig)
	return string(out), nil
}

// sign returns the raw JWS signature of input (RFC 7515 §5.1, RFC 7518 §3).
// A key that panics gives an error.
func (d *DPoP) sign(input []byte) (sig []byte, err error) {
	defer func() {
		if v := recover(); v != nil {
			sig, err = nil, fmt.Errorf("authtransport: sign DPoP proof: %w", panicError("crypto.Signer.Sign", v))
		}
	}()
	if d.alg == algEdDSA {
		sig, err = d.key.Sign(rand.Reader, input, crypto.Hash(0))
		if err != nil {
			return nil, fmt.Errorf("authtransport: sign DPoP proof: %w", err)
		}
		return sig, nil
	}
	digest := sha256.Sum256(input)
	sig, err = d.key.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("authtransport: sign DPoP proof: %w", err)
	}
	if d.alg == algES256 {
		// crypto.Signer gives ECDSA signatures in ASN.1 DER; JWS wants
		// R || S, each 32 bytes (RFC 7518 §3.4).
		raw, ok := rawECDSASignature(sig, 32)
		if !ok {
			return nil, errors.New("authtransport: sign DPoP proof: malformed ECDSA signature")
		}
		return raw, nil
	}
	if len(sig) != d.sigLen {
		return nil, errors.New("authtransport: sign DPoP proof: RSA signature of unexpected length")
	}
	return sig, nil
}

// rawECDSASignature converts an ASN.1 DER ECDSA signature, SEQUENCE {
// INTEGER r, INTEGER s }, to r || s with each integer left-padded to size
// bytes (RFC 7518 §3.4).
func rawECDSASignature(der []byte, size int) ([]byte, bool) {
	var sig struct{ R, S *big.Int }
	rest, err := asn1.Unmarshal(der, &sig)
	if err != nil || len(rest) != 0 {
		return nil, false
	}
	for _, v := range []*big.Int{sig.R, sig.S} {
		if v.Sign() <= 0 || v.BitLen() > 8*size {
			return nil, false
		}
	}
	out := make([]byte, 2*size)
	sig.R.FillBytes(out[:size])
	sig.S.FillBytes(out[size:])
	return out, true
}

// appendHTU appends the JSON string of the proof's htu: the target URI of
// the request without query and fragment (RFC 9449 §4.2), its authority
// from host when not empty, its path "/" when empty.
func appendHTU(dst []byte, u *url.URL, host string) []byte {
	if host == "" {
		host = u.Host
	}
	path := u.EscapedPath()
	if u.Opaque != "" {
		// "//host/path" or "/path" sent as it is.
		path = u.Opaque
		if rest, ok := strings.CutPrefix(path, "//"); ok {
			path = ""
			if i := strings.IndexByte(rest, '/'); i >= 0 {
				path = rest[i:]
			}
		}
	}
	if path == "" {
		path = "/"
	}
	dst = append(dst, '"')
	dst = appendJSONChars(dst, strings.ToLower(u.Scheme))
	dst = append(dst, "://"...)
	dst = appendJSONChars(dst, host)
	dst = appendJSONChars(dst, path)
	return append(dst, '"')
}

// appendJSONString appends s as a JSON string.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = appendJSONChars(dst, s)
	return append(dst, '"')
}

// appendJSONChars appends s escaped for the inside of a JSON string
// (RFC 8259 §7); invalid UTF-8 becomes U+FFFD.
func appendJSONChars(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
			i++
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			i++
		case c < utf8.RuneSelf:
			dst = append(dst, c)
			i++
		default:
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, `\ufffd`...)
			} else {
				dst = append(dst, s[i:i+size]...)
			}
			i += size
		}
	}
	return dst
}

// Nonces a server hands out (RFC 9449 §8 and §9) are kept per origin, for
// at most maxNonceOrigins origins, and only when they have the syntax of
// RFC 9449 §8.1 and at most maxNonceLen bytes.
const (
	maxNonceOrigins = 256
	maxNonceLen     = 1024
)

// originOf returns u's origin, without allocating when u is already in
// lower case.
func originOf(u *url.URL) origin {
	o := origin{scheme: strings.ToLower(u.Scheme), host: strings.ToLower(u.Hostname()), port: u.Port()}
	if o.port == "" {
		o.port = defaultPort(o.scheme)
	}
	return o
}

// nonce returns the nonce last received from u's origin, or "".
func (d *DPoP) nonce(u *url.URL) string {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if len(d.nonces) == 0 {
		return ""
	}
	return d.nonces[originOf(u)]
}

// observe remembers the DPoP-Nonce of resp, a response from u's origin, if
// it has a valid one. Servers may send a new nonce with any response, a
// successful one too (RFC 9449 §8.2).
func (d *DPoP) observe(u *url.URL, resp *http.Response) {
	if resp == nil {
		return
	}
	values := resp.Header["Dpop-Nonce"] // canonical form of HeaderDPoPNonce
	if len(values) == 0 || !validNonce(values[0]) {
		return
	}
	nonce, o := values[0], originOf(u)
	d.mu.RLock()
	same := d.nonces[o] == nonce
	d.mu.RUnlock()
	if same {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.nonces == nil {
		d.nonces = make(map[origin]string)
	}
	if _, ok := d.nonces[o]; !ok && len(d.nonces) >= maxNonceOrigins {
		for k := range d.nonces {
			delete(d.nonces, k)
			break
		}
	}
	d.nonces[o] = nonce
}

// validNonce reports whether s is a nonce of RFC 9449 §8.1: one or more
// NQCHAR (%x21 / %x23-5B / %x5D-7E).
func validNonce(s string) bool {
	if s == "" || len(s) > maxNonceLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// String describes d by its algorithm and key thumbprint, never the key.
func (d *DPoP) String() string {
	if d == nil {
		return "DPoP(nil)"
	}
	return "DPoP{Alg:" + d.alg + " Thumbprint:" + d.thumb + "}"
}

// Format implements [fmt.Formatter] so that no verb or flag reaches the
// private key: every verb prints String.
func (d *DPoP) Format(f fmt.State, verb rune) {
	s := d.String()
	if verb == 'v' && f.Flag('#') {
		s = "&authtransport." + s
		if d == nil {
			s = "(*authtransport.DPoP)(nil)"
		}
	}
	_, _ = f.Write([]byte(s))
}

// LogValue implements [slog.LogValuer]: the algorithm and the thumbprint.
func (d *DPoP) LogValue() slog.Value {
	if d == nil {
		return slog.StringValue("DPoP(nil)")
	}
	return slog.GroupValue(slog.String("alg", d.alg), slog.String("thumbprint", d.thumb))
}
