package redisstore

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// FuzzDecodeFields feeds stored values to the decoder: it never panics, a
// token it accepts comes with a positive version, and a reason it gives
// never quotes the stored value: a secret put where an input says SECRET
// never shows in it.
func FuzzDecodeFields(f *testing.F) {
	f.Add(`{"access_token":"a","refresh_token":"r","expiry":"2030-01-02T03:04:05Z"}`, "7")        // a token
	f.Add(`{"access_token":"a","expiry":"SECRET"}`, "1")                                          // a bad expiry
	f.Add(`{"access_token":"an unterminated SECRET`, "1")                                         // bad JSON
	f.Add(`{"access_token":12345678901234567890,"scope":"SECRET"}`, "1")                          // a wrong type
	f.Add(`["SECRET"]`, "1")                                                                      // not an object
	f.Add(`null`, "1")                                                                            // null
	f.Add(`{"access_token":"a"}`, "0")                                                            // version zero
	f.Add(`{"access_token":"a"}`, "x-SECRET")                                                     // version not a number
	f.Add(`{"access_token":"a","obtained_at":"2030-01-02T03:04:05.123456789+02:00"}`, "99999999") // obtained at
	f.Fuzz(func(t *testing.T, token, version string) {
		const secret = "s3cr3t-Zq9x"
		token = strings.ReplaceAll(token, "SECRET", secret)
		version = strings.ReplaceAll(version, "SECRET", secret)
		tok, v, reason := decodeFields([]any{token, version})
		if reason == "" {
			require.NotNil(t, tok, "an accepted value gives a token")
			assert.Positive(t, v, "an accepted value has a positive version")
			return
		}
		assert.Nil(t, tok, "a rejected value gives no token")
		assert.NotContains(t, reason, secret, "the reason quotes the stored value")
	})
}

func TestDecodeFieldsMissing(t *testing.T) {
	tests := []struct {
		name   string
		vals   []any
		reason string
	}{
		{name: "no key", vals: []any{nil, nil}, reason: ""},
		{name: "no token", vals: []any{nil, "3"}, reason: "no token field"},
		{name: "no version", vals: []any{`{}`, nil}, reason: "no version field"},
		{name: "a short reply", vals: []any{`{}`}, reason: "1 fields read, 2 expected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, _, reason := decodeFields(tt.vals)
			assert.Nil(t, tok, "no token")
			assert.Equal(t, tt.reason, reason, "the reason")
		})
	}
}
