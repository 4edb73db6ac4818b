package authtransport

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"unicode/utf8"
)

// Basic is a user name and password sent with the Basic scheme (RFC 7617).
// Printing, logging or JSON-encoding it never shows the password (it is
// configuration, not something to persist: load the password yourself).
type Basic struct {
	// Username is the user-id. It must not contain a colon or a control
	// character.
	Username string
	// Password is the password. It must not contain a control character.
	Password string
}

// APIKey is a static key sent with every authorized request: in a header
// (Header set, such as "X-API-Key", or "Authorization" with Value
// "Token ..."), or, only when Query is set instead, as a query parameter
// of the request URL. A key in the query is kept out of every error, event
// and log record of the Transport. Printing, logging or JSON-encoding an
// APIKey never shows Value.
type APIKey struct {
	// Header is the field the key goes in; empty when Query is set.
	Header string
	// Query is the query parameter the key goes in; empty when Header is
	// set. Keys in URLs end up in server logs and browser histories:
	// prefer a header where the API allows it.
	Query string
	// Value is the key, sent as it is.
	Value string
}

// String describes b without its password.
func (b Basic) String() string {
	return "Basic{Username:" + b.Username + " Password:" + redact(b.Password) + "}"
}

// Format implements [fmt.Formatter]: every verb prints String.
func (b Basic) Format(f fmt.State, verb rune) { formatRedacted(f, verb, b.String()) }

// LogValue implements [slog.LogValuer]: the user name, never the password.
func (b Basic) LogValue() slog.Value {
	return slog.GroupValue(slog.String("username", b.Username), slog.String("password", redact(b.Password)))
}

// MarshalJSON encodes b with its password replaced, so that a log record
// or a dump of a configuration that holds it does not show it.
func (b Basic) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct{ Username, Password string }{b.Username, redact(b.Password)})
}

// MarshalJSON encodes k with its value replaced, so that a log record or a
// dump of a configuration that holds it does not show it.
func (k APIKey) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct{ Header, Query, Value string }{k.Header, k.Query, redact(k.Value)})
}

// String describes k without its value.
func (k APIKey) String() string {
	return "APIKey{Header:" + k.Header + " Query:" + k.Query + " Value:" + redact(k.Value) + "}"
}

// Format implements [fmt.Formatter]: every verb prints String.
func (k APIKey) Format(f fmt.State, verb rune) { formatRedacted(f, verb, k.String()) }

// LogValue implements [slog.LogValuer]: where the key goes, never the key.
func (k APIKey) LogValue() slog.Value {
	return slog.GroupValue(slog.String("header", k.Header), slog.String("query", k.Query), slog.String("value", redact(k.Value)))
}

// formatRedacted writes s, a redacted description, for any verb (%#v and
// %q as Go would).
func formatRedacted(f fmt.State, verb rune, s string) {
	switch {
	case verb == 'v' && f.Flag('#'):
		s = "authtransport." + s
	case verb == 'q':
		s = fmt.Sprintf("%q", s)
	}
	_, _ = f.Write([]byte(s))
}

// staticCreds is the checked form of a Transport's Basic and APIKey.
type staticCreds struct {
	basicLatin1 string // "Basic ..." with ISO-8859-1, when the credentials fit it
	basicUTF8   string // "Basic ..." with UTF-8
	keyHeader   string // canonical header key of the API key, if in a header
	keyQuery    string // query parameter of the API key, if in the query
	key         string
}

// checkCreds validates b and k (either may be nil) for a Transport that
// can also send tokens when tokens is set.
func checkCreds(b *Basic, k *APIKey, tokens bool) (*staticCreds, error) {
	if b == nil && k == nil {
		return nil, nil
	}
	c := &staticCreds{}
	if b != nil {
		switch {
		case strings.ContainsRune(b.Username, ':'):
			return nil, errors.New("authtransport: Transport.Basic: the user name contains a colon (RFC 7617 §2)")
		case hasControl(b.Username) || hasControl(b.Password):
			return nil, errors.New("authtransport: Transport.Basic: the user name or password contains a control character (RFC 7617 §2)")
		case !utf8.ValidString(b.Username) || !utf8.ValidString(b.Password):
			return nil, errors.New("authtransport: Transport.Basic: the user name or password is not valid UTF-8")
		}
		pair := b.Username + ":" + b.Password
		c.basicUTF8 = "Basic " + base64.StdEncoding.EncodeToString([]byte(pair))
		if l, ok := latin1(pair); ok {
			c.basicLatin1 = "Basic " + base64.StdEncoding.EncodeToString(l)
		}
	}
	if k != nil {
		switch {
		case (k.Header == "") == (k.Query == ""):
			return nil, errors.New("authtransport: Transport.APIKey: set exactly one of Header and Query")
		case k.Value == "" || hasControl(k.Value):
			return nil, errors.New("authtransport: Transport.APIKey: the value is empty or contains a control character")
		case k.Header != "" && !validFieldName(k.Header):
			return nil, fmt.Errorf("authtransport: Transport.APIKey: %q is not a header field name", k.Header)
		}
		c.keyHeader, c.keyQuery, c.key = http.CanonicalHeaderKey(k.Header), k.Query, k.Value
		if c.keyHeader == "Authorization" && (b != nil || tokens) {
			return nil, errors.New("authtransport: Transport.APIKey: a key in the Authorization field cannot be combined with Basic or tokens")
		}
	}
	return c, nil
}

// basicFor returns the Basic Authorization value in UTF-8, or in
// ISO-8859-1 for a server that turned UTF-8 down (latin1) when the
// credentials fit it. RFC 7617 §2.1 leaves the encoding open unless a
// challenge says charset="UTF-8"; UTF-8 is what today's clients send.
func (c *staticCreds) basicFor(latin1 bool) string {
	if latin1 && c.basicLatin1 != "" {
		return c.basicLatin1
	}
	return c.basicUTF8
}

// latin1Differs reports whether the ISO-8859-1 form of the credentials is
// another value than the UTF-8 one (they are not ASCII, and fit ISO-8859-1).
func (c *staticCreds) latin1Differs() bool {
	return c.basicLatin1 != "" && c.basicLatin1 != c.basicUTF8
}

// latin1 encodes s in ISO-8859-1, if every character of it has a code
// there.
func latin1(s string) ([]byte, bool) {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 0xff {
			return nil, false
		}
		out = append(out, byte(r))
	}
	return out, true
}

// hasControl reports whether s contains a control character (RFC 5234
// CTL), which no credential sent in a header may hold.
func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return true
		}
	}
	return false
}

// validFieldName reports whether s is an HTTP field name (an RFC 9110 token).
func validFieldName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}
