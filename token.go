package authtransport

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/d5c4ca72/authtransport/wwwauth"
)

// Token is an OAuth 2.0 access token with the refresh token and expiry that
// come with it.
//
// Printing a Token with fmt (%v, %+v, %#v, %s, %q, %x...) or logging it with
// log/slog never shows the access or the refresh token: secrets are replaced
// by a fixed marker. Encoding it with encoding/json does include them, since
// that is how a [Store] persists a token; so does log/slog's JSON handler for
// a Token inside a slice, map or struct, which it encodes with
// encoding/json: log the Token itself (slog.Any("token", tok)), not a value
// that holds it. One fmt verb escapes every type's formatting methods: %p on
// a Token value (not a pointer) makes fmt print the fields raw, and no type
// can prevent it; pass a *Token to %p.
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
	// ObtainedAt is when the token was obtained from the token endpoint,
	// or zero when unknown. The [Transport] sets it on the tokens its
	// Refresher returns (when the Refresher left it zero), so that every
	// process sharing a [Store] knows how long the token lives: a process
	// that starts uses a short-lived token another process has just
	// obtained instead of refreshing it once more.
	ObtainedAt time.Time `json:"obtained_at,omitzero"`
}

// Type returns the token type in its canonical spelling: "Bearer" when
// TokenType is empty or any case of "bearer", "DPoP" for any case of "dpop",
// and TokenType unchanged otherwise.
func (t *Token) Type() string {
	switch {
	case t.TokenType == "" || strings.EqualFold(t.TokenType, wwwauth.SchemeBearer):
		return wwwauth.SchemeBearer
	case strings.EqualFold(t.TokenType, wwwauth.SchemeDPoP):
		return wwwauth.SchemeDPoP
	}
	return t.TokenType
}

// expired reports whether the token is missing, has no access token, or has
// expired at now. A token without an expiry never expires.
func (t *Token) expired(now time.Time) bool {
	return t == nil || t.AccessToken == "" || (!t.Expiry.IsZero() && !now.Before(t.Expiry))
}

// sameToken reports whether a and b are the same generation of credentials,
// compared by value: a store may return a new copy of the same token on
// every load.
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

// Format implements [fmt.Formatter] so that every verb, flag and width
// prints the redacted form returned by String (%#v prefixed with the
// package name).
func (t Token) Format(f fmt.State, verb rune) { formatRedacted(f, verb, t.String()) }

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
