package login

import (
	"context"
	"encoding/base64"
	"errors"
	"net/url"
	"strconv"
	"strings"

	"golang.org/x/oauth2"
)

// secrets are the credentials of one login (its authorization code, code
// verifier or device code, and the client's secret), which no error may
// contain. Every error a login returns passes through clean, whatever made
// it: the OAuth error of the server, a check of the answer, or the
// transport, whose errors quote what a broken server sent back.
type secrets []string

// minSecretLen is the length below which a value is not scrubbed: text
// that short occurs in any message by chance, and replacing it would
// garble the message without hiding anything.
const minSecretLen = 4

// forms returns the spellings in which secret may come back: raw,
// URL-escaped (a form body echoed), Go-quoted (a transport error quoting
// the bytes it got) and as base64 (Basic credentials).
func forms(secret string) []string {
	quoted := strconv.Quote(secret)
	return []string{secret, url.QueryEscape(secret), quoted[1 : len(quoted)-1],
		base64.StdEncoding.EncodeToString([]byte(secret))}
}

// scrub replaces in v every secret, in every form, with a fixed marker.
func (s secrets) scrub(v string) string {
	for _, secret := range s {
		if len(secret) < minSecretLen {
			continue
		}
		for _, form := range forms(secret) {
			v = strings.ReplaceAll(v, form, "REDACTED")
		}
	}
	return v
}

// shows reports whether v contains a secret in any form.
func (s secrets) shows(v string) bool {
	return s.scrub(v) != v
}

// clean returns err with every secret removed from its text: the typed
// errors of this package as copies with their fields scrubbed, anything
// else, when its text shows a secret, as an error with the scrubbed text
// that still matches ErrTimeout and the context's errors.
func (s secrets) clean(err error) error {
	switch e := err.(type) {
	case nil:
		return nil
	case *OAuthError:
		c := *e
		c.Endpoint, c.Code, c.Description, c.URI = s.scrub(e.Endpoint), s.scrub(e.Code), s.scrub(e.Description), s.scrub(e.URI)
		return &c
	case *MismatchError:
		c := *e
		c.URL, c.Want, c.Got = s.scrub(e.URL), s.scrub(e.Want), s.scrub(e.Got)
		return &c
	case *ResponseError:
		c := *e
		c.URL, c.Reason = s.scrub(e.URL), s.scrub(e.Reason)
		return &c
	case *RedirectError:
		c := *e
		c.From, c.To = s.scrub(e.From), s.scrub(e.To)
		return &c
	}
	if msg := err.Error(); s.shows(msg) {
		return &scrubbedError{msg: s.scrub(msg), cause: err}
	}
	return err
}

// scrubbedError stands for an error whose text showed a secret.
type scrubbedError struct {
	msg   string
	cause error // never returned: its text shows the secret
}

func (e *scrubbedError) Error() string { return e.msg }

// Is keeps timeouts and cancellations recognizable.
func (e *scrubbedError) Is(target error) bool {
	return (target == ErrTimeout || target == context.Canceled || target == context.DeadlineExceeded) &&
		errors.Is(e.cause, target)
}

// clientSecrets returns the client's secret and its Basic credentials.
func clientSecrets(cfg *oauth2.Config) secrets {
	if cfg.ClientSecret == "" {
		return nil
	}
	basic := url.QueryEscape(cfg.ClientID) + ":" + url.QueryEscape(cfg.ClientSecret)
	return secrets{cfg.ClientSecret, basic}
}
