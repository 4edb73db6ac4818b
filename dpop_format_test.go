package authtransport_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d5c4ca72/authtransport"
)

// TestDPoPNeverPrintsItsKey: an Ed25519 private key is a byte slice, so
// without a Format method fmt would print every byte of it.
func TestDPoPNeverPrintsItsKey(t *testing.T) {
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	for name, key := range map[string]crypto.Signer{"Ed25519": edKey, "P-256": ecKey, "RSA": rsaKey} {
		t.Run(name, func(t *testing.T) {
			d, err := authtransport.NewDPoP(key)
			require.NoError(t, err)
			secrets := []string{
				strings.Trim(fmt.Sprint([]byte(edKey[:8])), "[]"),
				base64.RawURLEncoding.EncodeToString(edKey[:8]),
				ecKey.D.String(),
				rsaKey.D.String()[:20],
			}
			var out []string
			for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x"} {
				out = append(out, fmt.Sprintf(verb, d))
			}
			var buf bytes.Buffer
			slog.New(slog.NewTextHandler(&buf, nil)).Info("configured", "dpop", d)
			out = append(out, buf.String(), fmt.Sprintf("%+v", struct{ D *authtransport.DPoP }{d}))
			for _, o := range out {
				for _, s := range secrets {
					assert.NotContains(t, o, s)
				}
			}
			assert.Contains(t, out[0], d.Thumbprint())
		})
	}
}
