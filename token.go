package authtransport

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// Token types understood by [Transport].
const (
	// TokenTypeBearer is the RFC 6750 bearer token type, the default when
	// [Token.TokenType] is empty.
	TokenTypeBearer = "Bearer"
	// TokenTypeDPoP is the RFC 9449 sender-constrained token type.
	TokenTypeDPoP = "DPoP"
)

// Token is an OAuth 2.0 access token with the refresh token and expiry that
// come with it.
//
// Printing a Token with any fmt verb (%v, %+v, %#v, %s, %q) or logging it
// with log/slog never shows the access or the refresh token: secrets are
// replaced by a fixed marker. Encoding it with encoding/json does include
// them, since that is how a [Store] persists a token.
//
// A Token handed to a [Store] or returned by a [Refresher] must not be
// modified afterwards; the [Transport] shares it between goroutines.
type Token struct {
	// AccessToken is the credential sent to the resource server.
	AccessToken string `json:"access_token"`
	// TokenType is "Bearer" (also when empty) or "DPoP", compared
	// case-insensitively.
	TokenType string `json:"token_type,omitempty"`
	// RefreshToken, if not empty, lets a [Refresher] obtain a new token.
	RefreshToken string `json:"refresh_token,omitempty"`
	// Expiry is when AccessToken stops being valid. The zero value means
	// that the token carries no expiry and is used until a server rejects it.
	Expiry time.Time `json:"expiry,omitzero"`
	// Scope is the space-separated scope the token was granted, if known.
	Scope string `json:"scope,omitempty"`
}

// Type returns the token type in its canonical spelling: "Bearer" when
// TokenType is empty or any case of "bearer", "DPoP" for any case of "dpop",
// and TokenType unchanged otherwise.
func (t *Token) Type() string {
	switch {
	case t.TokenType == "" || strings.EqualFold(t.TokenType, TokenTypeBearer):
		return TokenTypeBearer
	case strings.EqualFold(t.TokenType, TokenTypeDPoP):
		return TokenTypeDPoP
	}
	return t.TokenType
}

// expiresWithin reports whether the token is missing, has no access token,
// or expires before now+d. A token without an expiry never expires.
func (t *Token) expiresWithin(now time.Time, d time.Duration) bool {
	if t == nil || t.AccessToken == "" {
		return true
	}
	return !t.Expiry.IsZero() && !now.Add(d).Before(t.Expiry)
}

// sameToken reports whether a and b are the same generation of credentials.
func sameToken(a, b *Token) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a == b || (a.AccessToken == b.AccessToken && a.RefreshToken == b.RefreshToken)
}

// TokenFromOAuth2 converts an [oauth2.Token]. It returns nil for nil. The
// "scope" extra field, when the token endpoint sent one, becomes Scope.
func TokenFromOAuth2(t *oauth2.Token) *Token {
	if t == nil {
		return nil
	}
	tok := &Token{
		AccessToken:  t.AccessToken,
		TokenType:    t.TokenType,
		RefreshToken: t.RefreshToken,
		Expiry:       t.Expiry,
	}
	if s, ok := t.Extra("scope").(string); ok {
		tok.Scope = s
	}
	return tok
}

// OAuth2 converts t to an [oauth2.Token]. It returns nil for nil.
func (t *Token) OAuth2() *oauth2.Token {
	if t == nil {
		return nil
	}
	o := &oauth2.Token{
		AccessToken:  t.AccessToken,
		TokenType:    t.TokenType,
		RefreshToken: t.RefreshToken,
		Expiry:       t.Expiry,
	}
	if t.Scope != "" {
		o = o.WithExtra(map[string]any{"scope": t.Scope})
	}
	return o
}

const redacted = "REDACTED"

func redact(s string) string {
	if s == "" {
		return ""
	}
	return redacted
}

// String returns a description of t without its secrets.
func (t Token) String() string {
	var b strings.Builder
	b.WriteString("Token{Type:")
	b.WriteString(t.Type())
	b.WriteString(" AccessToken:")
	b.WriteString(redact(t.AccessToken))
	b.WriteString(" RefreshToken:")
	b.WriteString(redact(t.RefreshToken))
	if !t.Expiry.IsZero() {
		b.WriteString(" Expiry:")
		b.WriteString(t.Expiry.Format(time.RFC3339))
	}
	if t.Scope != "" {
		b.WriteString(" Scope:")
		b.WriteString(t.Scope)
	}
	b.WriteString("}")
	return b.String()
}

// GoString is like String; it makes %#v safe.
func (t Token) GoString() string { return "authtransport." + t.String() }

// Format implements [fmt.Formatter] so that every verb, flag and width
// prints the redacted form returned by String.
func (t Token) Format(f fmt.State, verb rune) {
	s := t.String()
	if verb == 'v' && f.Flag('#') {
		s = t.GoString()
	}
	if verb == 'q' {
		s = fmt.Sprintf("%q", s)
	}
	_, _ = f.Write([]byte(s))
}

// LogValue implements [slog.LogValuer]: it logs the type, expiry and scope,
// and whether secrets are present, never the secrets.
func (t Token) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("type", t.Type()),
		slog.String("access_token", redact(t.AccessToken)),
		slog.String("refresh_token", redact(t.RefreshToken)),
	}
	if !t.Expiry.IsZero() {
		attrs = append(attrs, slog.Time("expiry", t.Expiry))
	}
	if t.Scope != "" {
		attrs = append(attrs, slog.String("scope", t.Scope))
	}
	return slog.GroupValue(attrs...)
}
