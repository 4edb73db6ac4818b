package keyringstore

import (
	"encoding/base64"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d5c4ca72/authtransport"
)

// goKeyringMacLine is the length of the line go-keyring v0.2.8 sends to the
// macOS security tool for an entry, computed the way go-keyring does, as an
// oracle for macKeychainEntryLimit.
func goKeyringMacLine(service, user, value string) int {
	unsafe := regexp.MustCompile(`[^\w@%+=:,./-]`)
	quote := func(s string) string {
		if s == "" {
			return "''"
		}
		if unsafe.MatchString(s) {
			return "'" + strings.ReplaceAll(s, "'", `'"'"'`) + "'"
		}
		return s
	}
	pw := "go-keyring-base64:" + base64.StdEncoding.EncodeToString([]byte(value))
	return len("add-generic-password -U -s " + quote(service) + " -a " + quote(user) + " -w " + quote(pw) + "\n")
}

func TestSplitFitsEachPlatform(t *testing.T) {
	names := []struct{ service, account string }{
		{service: "mycli", account: "alice@example.com"},
		{service: "com.example.a-rather-long-service-name", account: "o'brien@" + strings.Repeat("x", 200) + ".example.com"},
	}
	for _, p := range platformLimits {
		for _, n := range names {
			headLimit := p.limit(n.service, n.account)
			for _, size := range []int{300, headLimit - 40, headLimit + 1, 16 << 10, 100 << 10} {
				t.Run(p.name, func(t *testing.T) {
					tok := sizedToken(7, size)
					payload, err := encodeToken(tok)
					require.NoError(t, err)
					lay, err := split(n.service, n.account, payload, newGeneration(), p.limit)
					require.NoError(t, err, "split of %d bytes", len(payload))

					for _, e := range append(lay.parts, lay.head) {
						assert.LessOrEqual(t, len(e.value), p.limit(n.service, e.user), "entry %q is within the limit", e.user)
						assert.NotEmpty(t, e.label, "entry %q has a label", e.user)
						if p.name == "macOS keychain" {
							assert.LessOrEqual(t, goKeyringMacLine(n.service, e.user, e.value), macKeychainLine, "go-keyring accepts entry %q", e.user)
						}
					}
					h, reason := parseHead(lay.head.value)
					require.Empty(t, reason, "the head decodes")
					if h.inline() {
						assert.Empty(t, lay.parts, "a token in its head has no parts")
						got, reason := decodeToken(h.Token)
						require.Empty(t, reason)
						assert.Equal(t, tok, got, "token from the head")
						return
					}
					require.Equal(t, len(lay.parts), h.Parts, "the head counts the parts")
					values := make([]string, len(lay.parts))
					for i, e := range lay.parts {
						assert.Equal(t, partUser(n.account, h.Generation, i), e.user, "part %d's entry", i)
						values[i] = e.value
					}
					joined, reason := join(h, values)
					require.Empty(t, reason, "the parts match the head")
					got, reason := decodeToken(joined)
					require.Empty(t, reason)
					assert.Equal(t, tok, got, "token from %d parts", h.Parts)
				})
			}
		}
	}
}

func TestSplitEndsPartsOnCharacterBoundaries(t *testing.T) {
	tok := &authtransport.Token{AccessToken: "at", Scope: strings.Repeat("é€😀", 40)}
	payload, err := encodeToken(tok)
	require.NoError(t, err)
	tiny := func(service, user string) int {
		if user == "a" {
			return 300 // room for the head only
		}
		return 5
	}
	lay, err := split("s", "a", payload, newGeneration(), tiny)
	require.NoError(t, err)
	require.Greater(t, len(lay.parts), 10, "the token is split")
	var joined string
	for _, e := range lay.parts {
		assert.True(t, utf8.ValidString(e.value), "part %q is valid UTF-8", e.user)
		joined += e.value
	}
	assert.Equal(t, string(payload), joined, "the parts concatenate to the token")
}

func TestSplitFailsWithoutRoom(t *testing.T) {
	payload, err := encodeToken(sizedToken(1, 5000))
	require.NoError(t, err)
	tests := []struct {
		name  string
		limit limitFunc
	}{
		{name: "no room for a part", limit: func(service, user string) int {
			if user == "a" {
				return 1000
			}
			return 0
		}},
		{name: "no room for the head", limit: func(service, user string) int {
			if user == "a" {
				return 20
			}
			return 1000
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := split("s", "a", payload, newGeneration(), tt.limit)
			assert.ErrorContains(t, err, "leave no room", "split fails")
		})
	}
}

func TestEncodeTokenRefusesHugeTokens(t *testing.T) {
	_, err := encodeToken(&authtransport.Token{AccessToken: strings.Repeat("a", maxTokenSize)})
	assert.ErrorContains(t, err, "more than the", "a token over 1 MiB is refused")
}

func TestParseHead(t *testing.T) {
	chunked := func(mod func(*head)) string {
		v := formatVersion
		h := head{Version: &v, Generation: "0123456789abcdef", Parts: 2, Size: 10, SHA256: strings.Repeat("0", 64)}
		if mod != nil {
			mod(&h)
		}
		b, err := json.Marshal(h)
		require.NoError(t, err)
		return string(b)
	}
	tests := []struct {
		name   string
		value  string
		reason string // "" when the head is valid
	}{
		{name: "inline", value: `{"version":1,"token":{"access_token":"s3cret"}}`},
		{name: "parts", value: chunked(nil)},
		{name: "not JSON", value: "s3cret", reason: "invalid JSON at byte 1"},
		{name: "truncated", value: `{"version":1,"token":{"access_token":"s3c`, reason: "invalid JSON"},
		{name: "raw token of another program", value: `{"access_token":"s3cret"}`, reason: "no version field"},
		{name: "newer format", value: `{"version":2,"token":{"access_token":"s3cret"}}`, reason: "format version 2, this program reads version 1"},
		{name: "version of the wrong type", value: `{"version":"1"}`, reason: `field "version" is not a JSON int`},
		{name: "array", value: `["s3cret"]`, reason: "JSON array where an object was expected"},
		{name: "null token", value: `{"version":1,"token":null}`, reason: "no token"},
		{name: "bad generation", value: chunked(func(h *head) { h.Generation = "../../x" }), reason: "invalid generation name"},
		{name: "negative parts", value: chunked(func(h *head) { h.Parts = -1 }), reason: "invalid layout"},
		{name: "more parts than bytes", value: chunked(func(h *head) { h.Parts = 11 }), reason: "invalid layout"},
		{name: "too large", value: chunked(func(h *head) { h.Size = maxTokenSize + 1 }), reason: "invalid layout"},
		{name: "bad checksum", value: chunked(func(h *head) { h.SHA256 = "abc" }), reason: "invalid checksum"},
		{name: "huge entry", value: strings.Repeat(" ", maxTokenSize+2000), reason: "more than a token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, reason := parseHead(tt.value)
			if tt.reason == "" {
				assert.Empty(t, reason, "a valid head")
				return
			}
			assert.Contains(t, reason, tt.reason, "the reason")
			assert.NotContains(t, reason, "s3cret", "the reason quotes nothing of the entry")
		})
	}
}

func TestJoin(t *testing.T) {
	payload := []byte(`{"access_token":"s3cret` + strings.Repeat("-", 300) + `"}`)
	lay, err := split("s", "a", payload, "0123456789abcdef", func(service, user string) int {
		if user == "a" {
			return 200 // room for the head, not the token
		}
		return 8
	})
	require.NoError(t, err)
	h, reason := parseHead(lay.head.value)
	require.Empty(t, reason)
	require.False(t, h.inline(), "the token is in parts")
	values := func() []string {
		v := make([]string, len(lay.parts))
		for i, p := range lay.parts {
			v[i] = p.value
		}
		return v
	}
	tests := []struct {
		name   string
		mod    func([]string)
		reason string
	}{
		{name: "intact", mod: func([]string) {}},
		{name: "part of another size", mod: func(v []string) { v[1] += "x" }, reason: "the head says"},
		{name: "part of another token", mod: func(v []string) { v[1] = strings.ToUpper(v[1]) }, reason: "do not match their checksum"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := values()
			tt.mod(v)
			got, reason := join(h, v)
			if tt.reason == "" {
				assert.Empty(t, reason)
				assert.Equal(t, payload, got, "the joined token")
				return
			}
			assert.Contains(t, reason, tt.reason, "the reason")
			assert.NotContains(t, reason, "s3cret", "the reason quotes nothing of the entry")
		})
	}
}

func TestMacKeychainEntryLimit(t *testing.T) {
	short := macKeychainEntryLimit("mycli", "alice")
	assert.Greater(t, short, 2900, "about 3 KB for short names")
	assert.Less(t, short, 3100, "about 3 KB for short names")
	assert.Less(t, macKeychainEntryLimit("mycli", strings.Repeat("a", 1000)), short-700, "long names leave less room")
	assert.Less(t, macKeychainEntryLimit("mycli", "o'brien"), macKeychainEntryLimit("mycli", "o-brien"), "quotes cost room")
	assert.Zero(t, macKeychainEntryLimit("mycli", strings.Repeat("a", 5000)), "names longer than a line leave none")
}
