package authtransport_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/d5c4ca72/authtransport"
)

const (
	secretAccess  = "at-SECRET-0123456789"
	secretRefresh = "rt-SECRET-9876543210"
)

func secretToken() authtransport.Token {
	return authtransport.Token{
		AccessToken:  secretAccess,
		TokenType:    "bearer",
		RefreshToken: secretRefresh,
		Expiry:       time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC),
		Scope:        "read write",
	}
}

func TestTokenNeverPrintsSecrets(t *testing.T) {
	tok := secretToken()
	type wrapper struct {
		Name string
		Tok  authtransport.Token
	}
	outputs := map[string]string{}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d", "%20v"} {
		outputs[verb+" value"] = fmt.Sprintf(verb, tok)
		outputs[verb+" pointer"] = fmt.Sprintf(verb, &tok)
	}
	outputs["nested %+v"] = fmt.Sprintf("%+v", wrapper{"w", tok})
	outputs["nested %#v"] = fmt.Sprintf("%#v", wrapper{"w", tok})
	outputs["slice"] = fmt.Sprint([]authtransport.Token{tok})

	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("tok", "value", tok, "pointer", &tok)
	outputs["slog json"] = buf.String()
	buf.Reset()
	slog.New(slog.NewTextHandler(&buf, nil)).Info("tok", "value", tok)
	outputs["slog text"] = buf.String()

	for name, out := range outputs {
		assert.NotContains(t, out, "SECRET", name)
	}
	assert.Contains(t, outputs["%v value"], "Scope:read write")
	assert.Contains(t, outputs["slog json"], `"access_token":"REDACTED"`)
}

func TestTokenJSONKeepsSecretsForStores(t *testing.T) {
	tok := secretToken()
	b, err := json.Marshal(tok)
	require.NoError(t, err)
	var back authtransport.Token
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, tok, back)

	b, err = json.Marshal(authtransport.Token{AccessToken: "a"})
	require.NoError(t, err)
	assert.JSONEq(t, `{"access_token":"a"}`, string(b), "empty fields and a zero expiry are left out")
}

func TestTokenOAuth2RoundTrip(t *testing.T) {
	tok := secretToken()
	o := tok.OAuth2()
	assert.Equal(t, secretAccess, o.AccessToken)
	assert.Equal(t, "read write", o.Extra("scope"))
	assert.Equal(t, &tok, authtransport.TokenFromOAuth2(o))

	assert.Nil(t, authtransport.TokenFromOAuth2(nil))
	assert.Nil(t, (*authtransport.Token)(nil).OAuth2())
	assert.Equal(t, "", authtransport.TokenFromOAuth2(&oauth2.Token{AccessToken: "x"}).Scope)
}

func TestTokenType(t *testing.T) {
	for in, want := range map[string]string{"": "Bearer", "bearer": "Bearer", "BEARER": "Bearer", "dpop": "DPoP", "DPoP": "DPoP", "MAC": "MAC"} {
		tok := authtransport.Token{TokenType: in}
		assert.Equal(t, want, tok.Type(), "TokenType %q", in)
	}
}

// String names the type, says which secrets are present without showing
// them, and gives the expiry and scope when they are set.
func TestTokenString(t *testing.T) {
	exp := time.Date(2026, 12, 2, 10, 30, 0, 0, time.UTC)
	tests := []struct {
		tok  authtransport.Token
		want string
	}{
		{authtransport.Token{}, "Token{Type:Bearer AccessToken: RefreshToken:}"},
		{authtransport.Token{AccessToken: "at-SECRET", TokenType: "DPoP"}, "Token{Type:DPoP AccessToken:REDACTED RefreshToken:}"},
		{authtransport.Token{AccessToken: "at-SECRET", RefreshToken: "rt-SECRET", Expiry: exp, Scope: "read write"},
			"Token{Type:Bearer AccessToken:REDACTED RefreshToken:REDACTED Expiry:2026-12-02T10:30:00Z Scope:read write}"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, tt.tok.String())
	}
}

// A Token logged through slog shows its type, which secrets it has (never
// them), and its expiry and scope when set.
func TestTokenLogValue(t *testing.T) {
	exp := time.Date(2026, 12, 2, 10, 30, 0, 0, time.UTC)
	tests := []struct {
		tok  authtransport.Token
		want string
	}{
		{authtransport.Token{}, `{"tok":{"type":"Bearer","access_token":"","refresh_token":""}}`},
		{authtransport.Token{AccessToken: "at-SECRET", RefreshToken: "rt-SECRET", Expiry: exp, Scope: "read"},
			`{"tok":{"type":"Bearer","access_token":"REDACTED","refresh_token":"REDACTED","expiry":"2026-12-02T10:30:00Z","scope":"read"}}`},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == slog.LevelKey || a.Key == slog.MessageKey {
				return slog.Attr{}
			}
			return a
		}})).Info("", "tok", tt.tok)
		assert.JSONEq(t, tt.want, buf.String())
	}
}
