package wwwauth

import (
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestChallengeVocabularyRFCExamples(t *testing.T) {
	tests := []struct {
		name  string
		field string
		check func(t *testing.T, c Challenge)
	}{
		{
			name:  "RFC 6750 3 invalid_token",
			field: `Bearer realm="example", error="invalid_token", error_description="The access token expired", error_uri="https://example.com/err"`,
			check: func(t *testing.T, c Challenge) {
				assert.True(t, c.IsScheme(SchemeBearer))
				assert.Equal(t, "example", c.Realm())
				assert.Equal(t, CodeInvalidToken, c.ErrorCode())
				assert.Equal(t, "The access token expired", c.ErrorDescription())
				assert.Equal(t, "https://example.com/err", c.ErrorURI())
			},
		},
		{
			name:  "RFC 6750 3.1 insufficient_scope",
			field: `Bearer error="insufficient_scope", scope="read  write"`,
			check: func(t *testing.T, c Challenge) {
				assert.Equal(t, CodeInsufficientScope, c.ErrorCode())
				assert.Equal(t, []string{"read", "write"}, c.Scopes())
			},
		},
		{
			name:  "RFC 6750 3.1 invalid_request",
			field: `Bearer error="invalid_request"`,
			check: func(t *testing.T, c Challenge) {
				assert.Equal(t, CodeInvalidRequest, c.ErrorCode())
				assert.Nil(t, c.Scopes())
			},
		},
		{
			name:  "RFC 9449 7.1 algs",
			field: `DPoP algs="ES256 PS256"`,
			check: func(t *testing.T, c Challenge) {
				assert.True(t, c.IsScheme(SchemeDPoP))
				assert.Equal(t, []string{"ES256", "PS256"}, c.Algs())
			},
		},
		{
			name:  "RFC 9449 9 use_dpop_nonce",
			field: `DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof"`,
			check: func(t *testing.T, c Challenge) {
				assert.Equal(t, CodeUseDPoPNonce, c.ErrorCode())
			},
		},
		{
			name:  "RFC 9449 7.1 invalid_dpop_proof",
			field: `DPoP error="invalid_dpop_proof", algs="ES256"`,
			check: func(t *testing.T, c Challenge) {
				assert.Equal(t, CodeInvalidDPoPProof, c.ErrorCode())
			},
		},
		{
			name:  "RFC 9470 3 acr_values",
			field: `Bearer error="insufficient_user_authentication", error_description="A different authentication level is required", acr_values="myACR"`,
			check: func(t *testing.T, c Challenge) {
				assert.Equal(t, CodeInsufficientUserAuthentication, c.ErrorCode())
				assert.Equal(t, []string{"myACR"}, c.ACRValues())
				_, ok := c.MaxAge()
				assert.False(t, ok, "no max_age")
			},
		},
		{
			name:  "RFC 9470 3 max_age",
			field: `Bearer error="insufficient_user_authentication", error_description="More recent authentication is required", max_age="5"`,
			check: func(t *testing.T, c Challenge) {
				d, ok := c.MaxAge()
				assert.True(t, ok)
				assert.Equal(t, 5*time.Second, d)
			},
		},
		{
			name:  "RFC 9728 5.1 resource_metadata",
			field: `Bearer resource_metadata="https://resource.example.com/.well-known/oauth-protected-resource"`,
			check: func(t *testing.T, c Challenge) {
				assert.Equal(t, "https://resource.example.com/.well-known/oauth-protected-resource", c.ResourceMetadata())
			},
		},
		{
			name:  "RFC 7617 2.1 charset",
			field: `Basic realm="foo", charset="UTF-8"`,
			check: func(t *testing.T, c Challenge) {
				assert.True(t, c.IsScheme(SchemeBasic))
				assert.Equal(t, "foo", c.Realm())
				assert.Equal(t, "UTF-8", c.Charset())
			},
		},
		{
			name:  "absent params are empty",
			field: `Bearer`,
			check: func(t *testing.T, c Challenge) {
				assert.Empty(t, c.Realm())
				assert.Empty(t, c.ErrorCode())
				assert.Empty(t, c.ErrorDescription())
				assert.Empty(t, c.ErrorURI())
				assert.Empty(t, c.ResourceMetadata())
				assert.Empty(t, c.Charset())
				assert.Nil(t, c.Scopes())
				assert.Nil(t, c.Algs())
				assert.Nil(t, c.ACRValues())
			},
		},
		{
			name:  "param names are case-insensitive",
			field: `Bearer REALM="r", Error=invalid_token, SCOPE="a b"`,
			check: func(t *testing.T, c Challenge) {
				assert.Equal(t, "r", c.Realm())
				assert.Equal(t, CodeInvalidToken, c.ErrorCode())
				assert.Equal(t, []string{"a", "b"}, c.Scopes())
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs, err := Parse(tt.field)
			require.NoError(t, err)
			require.Len(t, cs, 1)
			tt.check(t, cs[0])
		})
	}
}

func TestChallengeMaxAge(t *testing.T) {
	maxSeconds := strconv.FormatInt(math.MaxInt64/int64(time.Second), 10)
	tests := []struct {
		name   string
		params []string
		want   time.Duration
		wantOK bool
	}{
		{name: "absent", params: nil},
		{name: "zero", params: []string{"max_age", "0"}, want: 0, wantOK: true},
		{name: "seconds", params: []string{"max_age", "300"}, want: 5 * time.Minute, wantOK: true},
		{name: "leading zeros", params: []string{"max_age", "007"}, want: 7 * time.Second, wantOK: true},
		{name: "largest", params: []string{"max_age", maxSeconds}, want: time.Duration(math.MaxInt64/int64(time.Second)) * time.Second, wantOK: true},
		{name: "too large", params: []string{"max_age", maxSeconds + "0"}},
		{name: "empty", params: []string{"max_age", ""}},
		{name: "negative", params: []string{"max_age", "-1"}},
		{name: "plus sign", params: []string{"max_age", "+5"}},
		{name: "fraction", params: []string{"max_age", "1.5"}},
		{name: "space", params: []string{"max_age", " 5"}},
		{name: "unit", params: []string{"max_age", "5s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ch("Bearer", tt.params...).MaxAge()
			assert.Equal(t, tt.wantOK, ok)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestChallengeSpaceSeparatedLists(t *testing.T) {
	tests := []struct {
		name  string
		value string
		want  []string
	}{
		{name: "empty", value: "", want: nil},
		{name: "only spaces", value: "   ", want: nil},
		{name: "one", value: "openid", want: []string{"openid"}},
		{name: "runs of spaces", value: " a  b c ", want: []string{"a", "b", "c"}},
		{name: "tabs are not separators", value: "a\tb c", want: []string{"a\tb", "c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ch("Bearer", "scope", tt.value, "algs", tt.value, "acr_values", tt.value)
			assert.Equal(t, tt.want, c.Scopes(), "scope")
			assert.Equal(t, tt.want, c.Algs(), "algs")
			assert.Equal(t, tt.want, c.ACRValues(), "acr_values")
		})
	}
}

func TestFirstChallenge(t *testing.T) {
	cs, err := Parse(`Basic realm="b", bearer realm="first", Bearer realm="second"`)
	require.NoError(t, err)
	tests := []struct {
		name      string
		scheme    string
		wantRealm string
		wantOK    bool
	}{
		{name: "first of two, any case", scheme: SchemeBearer, wantRealm: "first", wantOK: true},
		{name: "only one", scheme: "BASIC", wantRealm: "b", wantOK: true},
		{name: "absent", scheme: SchemeDPoP, wantOK: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, ok := First(cs, tt.scheme)
			assert.Equal(t, tt.wantOK, ok)
			assert.Equal(t, tt.wantRealm, c.Realm())
		})
	}
	_, ok := First(nil, SchemeBearer)
	assert.False(t, ok, "no challenges")
}

func TestChallengeIsNotAnError(t *testing.T) {
	var v any = Challenge{}
	_, isErr := v.(error)
	assert.False(t, isErr, "Challenge must not implement error")
}
