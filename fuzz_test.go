package authtransport

import (
	"net/http"
	"testing"
	"time"

	"github.com/d5c4ca72/authtransport/wwwauth"
)

// Fuzz targets for every parser in the package besides the challenge parser
// (package wwwauth) and the token file (package filestore). Seeds live in the f.Add calls and under
// testdata/fuzz/<target>.

// FuzzRetryAfter: any Retry-After value gives a wait between 0 and the cap.
func FuzzRetryAfter(f *testing.F) {
	for _, s := range []string{"", "0", "120", "-1", "1e3", "99999999999999999999", "Wed, 21 Oct 2015 07:28:00 GMT", "Sun Nov  6 08:49:37 1994", "soon"} {
		f.Add(s)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		if d := retryAfter(v, now); d < 0 || d > maxRetryAfter {
			t.Fatalf("retryAfter(%q) = %v, outside [0, %v]", v, d, maxRetryAfter)
		}
	})
}

// FuzzParseOrigin: an accepted origin is http or https with a host, and a
// request to it matches it.
func FuzzParseOrigin(f *testing.F) {
	for _, s := range []string{"https://api.example.com", "http://127.0.0.1:8080/", "https://[::1]:8443", "HTTPS://API.EXAMPLE.COM:443", "api.example.com", "https://u:p@h", "https://h/p", "https://h?q", "https://%zz", "https://h:99999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		o, err := parseOrigin(s)
		if err != nil {
			return
		}
		if o.scheme != "http" && o.scheme != "https" || o.host == "" || o.port == "" {
			t.Fatalf("parseOrigin(%q) = %+v", s, o)
		}
		req, err := http.NewRequest(http.MethodGet, s, nil)
		if err == nil && !o.matches(req.URL) {
			t.Fatalf("origin %+v does not match its own URL %q", o, s)
		}
	})
}

// FuzzReadVerdict: any 401 or 403 with any challenges gives a defined
// action, never panics, and only a 401 leads to a refresh or a nonce.
func FuzzReadVerdict(f *testing.F) {
	f.Add(401, `Bearer realm="api", error="invalid_token"`, "")
	f.Add(403, `Bearer error="insufficient_scope", scope="a b"`, "")
	f.Add(401, `Bearer error="insufficient_user_authentication", acr_values="mfa", max_age=5`, "")
	f.Add(401, `DPoP error="use_dpop_nonce", algs="ES256"`, "n-1")
	f.Add(401, `Basic realm="proxy"`, "")
	f.Add(401, `,,, Bearer ="x", DPoP error=`, "\x00")
	f.Fuzz(func(t *testing.T, status int, challenge, nonce string) {
		if status != 401 && status != 403 {
			status = 401 + status&2
		}
		h := http.Header{}
		h.Set("WWW-Authenticate", challenge)
		h.Set(wwwauth.HeaderDPoPNonce, nonce)
		v := readVerdict(&http.Response{StatusCode: status, Header: h})
		switch v.action {
		case actionReturn, actionLogin:
		case actionRefresh, actionNonce:
			if status != http.StatusUnauthorized {
				t.Fatalf("status %d led to action %d", status, v.action)
			}
		default:
			t.Fatalf("undefined action %d", v.action)
		}
		if v.action == actionLogin {
			_ = v.loginError(v.reason, nil).Error()
		}
	})
}

// FuzzRawECDSASignature: any DER input converts to exactly 2*size bytes or
// is refused.
func FuzzRawECDSASignature(f *testing.F) {
	f.Add([]byte{0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x02})
	f.Add([]byte{0x30, 0x07, 0x02, 0x02, 0x00, 0x80, 0x02, 0x01, 0x01})
	f.Add([]byte{0x30, 0x81, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x02})
	f.Add([]byte{0x30})
	f.Fuzz(func(t *testing.T, der []byte) {
		out, ok := rawECDSASignature(der, 32)
		if ok != (out != nil) || (ok && len(out) != 64) {
			t.Fatalf("rawECDSASignature = %x, %v", out, ok)
		}
	})
}
