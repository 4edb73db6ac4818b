package filestore

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzDecodeTokenFile: a token file of any content decodes to a token or a
// problem description, never panics, and the description never quotes the
// file (which holds secrets).
func FuzzDecodeTokenFile(f *testing.F) {
	f.Add([]byte(`{"version":1,"token":{"access_token":"SECRETa","refresh_token":"SECRETr","expiry":"2030-01-01T00:00:00Z"}}`))
	f.Add([]byte(`{"version":1,"token":{"access_token":"SECRETa","expiry":"SECRET-not-a-time"}}`))
	f.Add([]byte(`{"version":2,"token":{}}`))
	f.Add([]byte(`{"version":1,"token":null}`))
	f.Add([]byte(`{"version":1,"token":{"access_token":7}}`))
	f.Add([]byte(`{"version":1,"token":{"access_token":"SECRETa"}} trailing SECRET`))
	f.Add([]byte(`   `))
	f.Add([]byte(`{"version":"1"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tok, bad := decodeTokenFile(data)
		if (tok == nil) == (bad == nil) {
			t.Fatalf("want exactly one of token and problem, got %v and %v", tok, bad)
		}
		if bad != nil && bytes.Contains(data, []byte("SECRET")) && strings.Contains(bad.Error(), "SECRET") {
			t.Fatalf("problem %q quotes the file", bad.Error())
		}
	})
}
