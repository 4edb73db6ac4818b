package authtransport

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/oauth2"

	"github.com/d5c4ca72/authtransport/wwwauth"
)

// Servers echo what they were sent: a token endpoint may quote the refresh
// token or the client secret in error_description, or in a field of the
// wrong type that a JSON decoder then quotes; a resource server may put
// the access token in a challenge. The Transport knows these secrets, so it
// replaces them, in every form a server may echo them, wherever server
// text reaches an error, an event or a log record.

// secrets is a set of texts that must never be shown, each in every form a
// server may echo it, longest first.
type secrets []string

// minSecretLen is the length from which a secret is looked for in server
// text: a shorter one would match ordinary words, and no real credential
// is that short.
const minSecretLen = 6

// clientSecretHolder is implemented by the Refreshers of this package,
// which know the client's credentials.
type clientSecretHolder interface {
	clientCredentials() (id, secret string)
}

// secretsOf returns the secrets of toks, of the Refresher's client and of
// the static credentials.
func (t *Transport) secretsOf(toks ...*Token) secrets {
	var raw, encoded []string
	for _, tok := range toks {
		if tok != nil {
			raw = append(raw, tok.AccessToken, tok.RefreshToken)
		}
	}
	if h, ok := t.Refresher.(clientSecretHolder); ok {
		id, secret := h.clientCredentials()
		if len(secret) >= minSecretLen {
			raw = append(raw, secret)
			encoded = append(encoded, basicForms(id, secret)...)
		}
	}
	if t.Basic != nil && len(t.Basic.Password) >= minSecretLen {
		raw = append(raw, t.Basic.Password)
		encoded = append(encoded, basicForms(t.Basic.Username, t.Basic.Password)...)
		if l, ok := latin1(t.Basic.Username + ":" + t.Basic.Password); ok {
			encoded = append(encoded, base64.StdEncoding.EncodeToString(l))
		}
	}
	if t.APIKey != nil {
		raw = append(raw, t.APIKey.Value)
	}
	return append(secretsFrom(raw...), encoded...).sorted()
}

// basicForms returns the base64 of id:secret as client_secret_basic and the
// Basic scheme send it, raw and form-encoded (RFC 6749 §2.3.1).
func basicForms(id, secret string) []string {
	var out []string
	for _, pair := range []string{id + ":" + secret, url.QueryEscape(id) + ":" + url.QueryEscape(secret)} {
		out = append(out, base64.StdEncoding.EncodeToString([]byte(pair)), base64.RawURLEncoding.EncodeToString([]byte(pair)))
	}
	return out
}

// secretsFrom returns raw secrets in every form a server may echo them
// (shorter ones than minSecretLen left out), longest first.
func secretsFrom(raw ...string) secrets {
	var s secrets
	for _, v := range raw {
		if len(v) < minSecretLen {
			continue
		}
		q, p := url.QueryEscape(v), url.PathEscape(v)
		s = append(s, v, q, p, lowerHex(q), lowerHex(p), jsonEscaped(v, true), jsonEscaped(v, false),
			strings.Trim(strconv.Quote(v), `"`), strings.Trim(strconv.QuoteToASCII(v), `"`))
	}
	return s.sorted()
}

// sorted returns s longest first, without repeats, so that a secret is
// replaced before a shorter one inside it.
func (s secrets) sorted() secrets {
	slices.SortFunc(s, func(a, b string) int {
		if d := len(b) - len(a); d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	return slices.Compact(s)
}

// lowerHex returns the percent-encoded s with lower-case hex digits, as
// some encoders write them.
func lowerHex(s string) string {
	b := []byte(s)
	for i := 0; i+2 < len(b); i++ {
		if b[i] == '%' {
			for j := i + 1; j <= i+2; j++ {
				if b[j] >= 'A' && b[j] <= 'F' {
					b[j] += 'a' - 'A'
				}
			}
		}
	}
	return string(b)
}

// jsonEscaped returns v as it appears inside a JSON string.
func jsonEscaped(v string, html bool) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(html)
	_ = enc.Encode(v) // a string always encodes
	return strings.Trim(strings.TrimSpace(b.String()), `"`)
}

// scrub returns text with every secret replaced by a marker.
func (s secrets) scrub(text string) string {
	for _, v := range s {
		if v != "" && strings.Contains(text, v) {
			text = strings.ReplaceAll(text, v, redacted)
		}
	}
	return text
}

// shows reports whether text contains a secret.
func (s secrets) shows(text string) bool {
	for _, v := range s {
		if v != "" && strings.Contains(text, v) {
			return true
		}
	}
	return false
}

// scrubError returns err without what it may carry of credentials, however
// it is wrapped: the response body of an oauth2 error (it may echo
// anything), the query and user of a URL, and the known secrets in any
// text. An error whose text shows a secret is replaced by one with the
// scrubbed text, which still matches context.Canceled and
// context.DeadlineExceeded with errors.Is when the original did.
func scrubError(err error, s secrets) error {
	var lr *LoginRequiredError
	var re *RefreshError
	var oe *oauth2.RetrieveError
	var ue *url.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &lr):
		c := *lr
		c.Err = scrubError(lr.Err, s)
		c.Challenge = scrubChallenge(lr.Challenge, s)
		c.Challenges = scrubChallenges(lr.Challenges, s)
		return &c
	case errors.As(err, &re):
		c := *re
		c.Code, c.Description = s.scrub(re.Code), s.scrub(re.Description)
		c.Err = scrubError(re.Err, s)
		return &c
	case errors.As(err, &oe):
		status := "no response"
		if oe.Response != nil {
			status = oe.Response.Status
		}
		return errors.New("oauth2: cannot fetch token: " + s.scrub(status))
	case errors.As(err, &ue):
		return &url.Error{Op: ue.Op, URL: s.scrub(withoutQuery(ue.URL)), Err: scrubError(ue.Err, s)}
	case chainShows(err, s):
		return &scrubbedError{msg: s.scrub(err.Error()), cause: err}
	}
	return err
}

// chainShows reports whether the text of err or of any error it wraps
// shows a secret.
func chainShows(err error, s secrets) bool {
	if err == nil {
		return false
	}
	if s.shows(err.Error()) {
		return true
	}
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		return chainShows(u.Unwrap(), s)
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			if chainShows(e, s) {
				return true
			}
		}
	}
	return false
}

// scrubbedError replaces an error whose text showed a secret.
type scrubbedError struct {
	msg   string
	cause error // never returned: its text shows the secret
}

func (e *scrubbedError) Error() string { return e.msg }

// Is keeps timeouts and cancellations recognizable.
func (e *scrubbedError) Is(target error) bool {
	return (target == context.Canceled || target == context.DeadlineExceeded) && errors.Is(e.cause, target)
}

// scrubChallenge returns c, or a copy with every secret in its params
// replaced.
func scrubChallenge(c wwwauth.Challenge, s secrets) wwwauth.Challenge {
	dirty := s.shows(c.Token68) || s.shows(c.Scheme)
	for _, p := range c.Params {
		dirty = dirty || s.shows(p.Value) || s.shows(p.Name)
	}
	if !dirty {
		return c
	}
	out := wwwauth.Challenge{Scheme: s.scrub(c.Scheme), Token68: s.scrub(c.Token68), Params: make([]wwwauth.Param, len(c.Params))}
	for i, p := range c.Params {
		out.Params[i] = wwwauth.Param{Name: s.scrub(p.Name), Value: s.scrub(p.Value)}
	}
	return out
}

func scrubChallenges(cs []wwwauth.Challenge, s secrets) []wwwauth.Challenge {
	var out []wwwauth.Challenge
	for i, c := range cs {
		sc := scrubChallenge(c, s)
		if out == nil && !sameChallenge(sc, c) {
			out = slices.Clone(cs[:i])
		}
		if out != nil {
			out = append(out, sc)
		}
	}
	if out == nil {
		return cs
	}
	return out
}

// sameChallenge reports whether a and b share their params (scrubChallenge
// returns its argument unless it changed something).
func sameChallenge(a, b wwwauth.Challenge) bool {
	return a.Scheme == b.Scheme && a.Token68 == b.Token68 && len(a.Params) == len(b.Params) && (len(a.Params) == 0 || &a.Params[0] == &b.Params[0])
}

// withoutQuery returns rawURL without its query, fragment and user.
func withoutQuery(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(invalid URL)"
	}
	u.RawQuery, u.Fragment, u.User = "", "", nil
	return u.String()
}
