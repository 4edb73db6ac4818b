package otelauth

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestChallengeValue(t *testing.T) {
	tests := []struct {
		name, detail, want string
	}{
		{"bearer with a code", "Bearer invalid_token", "Bearer invalid_token"},
		{"bearer without a code", "Bearer", "Bearer"},
		{"dpop nonce", "DPoP use_dpop_nonce", "DPoP use_dpop_nonce"},
		{"dpop proof", "DPoP invalid_dpop_proof", "DPoP invalid_dpop_proof"},
		{"step-up", "Bearer insufficient_user_authentication", "Bearer insufficient_user_authentication"},
		{"scheme in another case", "dpop INVALID", "DPoP _OTHER"},
		{"code in another case", "Bearer INVALID_TOKEN", "Bearer _OTHER"},
		{"made-up code", "Bearer 4f9a1c-unique", "Bearer _OTHER"},
		{"code with spaces", "Bearer invalid token", "Bearer _OTHER"},
		{"no challenge", "no challenge", "no challenge"},
		{"other scheme", "Negotiate", "_OTHER"},
		{"other scheme with a code", "Basic invalid_token", "_OTHER"},
		{"empty", "", "_OTHER"},
		{"redacted", "[redacted]", "_OTHER"},
	}
	values := challengeValues()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := challengeValue(tt.detail)
			assert.Equal(t, tt.want, got, "value for detail %q", tt.detail)
			assert.Contains(t, values, got, "value %q is one of the prebuilt ones", got)
		})
	}
}

func TestChallengeValuesAreFixedPoints(t *testing.T) {
	for _, v := range challengeValues() {
		assert.Equal(t, v, challengeValue(v), "a prebuilt value is its own value")
	}
}
