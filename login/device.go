package login

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/oauth2"

	"github.com/d5c4ca72/authtransport"
)

// DeviceGrantType is the grant_type of the device authorization grant
// (RFC 8628 §3.4).
const DeviceGrantType = "urn:ietf:params:oauth:grant-type:device_code"

// Device logs the user in with the device authorization grant (RFC 8628),
// for programs on machines without a browser: it asks the device
// authorization endpoint for a code, has the user open the verification
// URI on another device and enter the user code there (through Prompt),
// and polls the token endpoint until the user approves, denies, or the
// code expires. It waits the interval the server asks for (5 s if it names
// none or one under a second), 5 s more after each slow_down, and twice as long after a poll
// that failed in transit or with a 5xx or 429 answer (RFC 8628 §3.5).
//
// Its fields must not change while a Login runs.
type Device struct {
	// Config is the client: ClientID, ClientSecret (empty for a public
	// client; a confidential client authenticates at both endpoints, RFC
	// 8628 §3.1), Endpoint.DeviceAuthURL, Endpoint.TokenURL,
	// Endpoint.AuthStyle and Scopes.
	Config *oauth2.Config

	// Resource, if not empty, is sent as the resource parameter (RFC
	// 8707) of the device authorization and the token requests.
	Resource string

	// Prompt shows the user where to go and which code to enter. Login
	// calls it once, before it starts polling; an error from it ends the
	// login. If nil, the prompt is written to Output.
	Prompt func(ctx context.Context, p DevicePrompt) error

	// Output receives the prompt when Prompt is nil. If nil, os.Stderr
	// is used.
	Output io.Writer

	// AllowInsecureHTTP lets the endpoints be plain http:// on hosts
	// other than loopback. By default they must be https (or loopback,
	// for tests).
	AllowInsecureHTTP bool
}

// DevicePrompt is what the user needs to approve a device login.
type DevicePrompt struct {
	// VerificationURI is where the user goes, on any device.
	VerificationURI string
	// VerificationURIComplete, if the server sent one, is
	// VerificationURI with the user code in it, for a link or a QR code.
	VerificationURIComplete string
	// UserCode is what the user enters there.
	UserCode string
	// Expiry is when the code stops working.
	Expiry time.Time
}

// String returns the prompt as a short text for a terminal.
func (p DevicePrompt) String() string {
	s := fmt.Sprintf("To sign in, open %s and enter the code %s", p.VerificationURI, p.UserCode)
	if p.VerificationURIComplete != "" {
		s += fmt.Sprintf("\n(or open %s)", p.VerificationURIComplete)
	}
	if !p.Expiry.IsZero() {
		s += fmt.Sprintf("\nThe code expires in %v.", time.Until(p.Expiry).Round(time.Second))
	}
	return s
}

// deviceCodeDefaultLifetime is how long a device code is polled for when
// the server sends no expires_in, which RFC 8628 requires.
const deviceCodeDefaultLifetime = 10 * time.Minute

// defaultInterval is the polling interval when the server names none
// (RFC 8628 §3.2), or one below minInterval.
const defaultInterval = 5 * time.Second

// minInterval is the shortest interval taken from a server: RFC 8628
// counts it in whole seconds, and a smaller one (0.001, say) would have
// the client hammer the token endpoint.
const minInterval = time.Second

// Login runs one device login and returns its token, with ObtainedAt set.
// It returns an [*OAuthError] when the authorization server refuses (such
// as access_denied when the user declines, or expired_token), a
// [*ResponseError] or [*RedirectError] for an answer outside the protocol
// (a device authorization answer that is not JSON, say), [ErrTimeout] when
// the code expires while the user has not decided, and the context's
// error (wrapped) when ctx ends first. Nothing is saved: see [Save].
func (d *Device) Login(ctx context.Context) (*authtransport.Token, error) {
	if d.Config == nil || d.Config.ClientID == "" {
		return nil, errors.New("login: Device.Config needs a ClientID")
	}
	authURL, err := checkURL("device authorization endpoint", d.Config.Endpoint.DeviceAuthURL, d.AllowInsecureHTTP)
	if err != nil {
		return nil, err
	}
	tokenURL, err := checkURL("token endpoint", d.Config.Endpoint.TokenURL, d.AllowInsecureHTTP)
	if err != nil {
		return nil, err
	}
	da, err := d.authorize(ctx, authURL)
	if err != nil {
		return nil, clientSecrets(d.Config).clean(err)
	}
	if err := d.prompt(ctx, da.prompt); err != nil {
		return nil, err
	}
	form := url.Values{"grant_type": {DeviceGrantType}, "device_code": {da.deviceCode}}
	if d.Resource != "" {
		form.Set("resource", d.Resource)
	}
	tok, err := poll(ctx, da.interval, da.prompt.Expiry, func(ctx context.Context) (*authtransport.Token, error) {
		return requestToken(ctx, d.Config, tokenURL, form)
	})
	return tok, append(secrets{da.deviceCode}, clientSecrets(d.Config)...).clean(err)
}

// deviceAuthorization is a checked device authorization answer.
type deviceAuthorization struct {
	deviceCode string
	interval   time.Duration
	prompt     DevicePrompt
}

// authorize asks for a device code (RFC 8628 §3.1, §3.2).
func (d *Device) authorize(ctx context.Context, endpoint *url.URL) (*deviceAuthorization, error) {
	form := url.Values{}
	if len(d.Config.Scopes) > 0 {
		form.Set("scope", strings.Join(d.Config.Scopes, " "))
	}
	if d.Resource != "" {
		form.Set("resource", d.Resource)
	}
	sent := time.Now()
	status, _, body, err := postForm(ctx, d.Config, endpoint, form, "device authorization request")
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, errorAnswer(endpoint, status, body)
	}
	var a struct {
		DeviceCode              string  `json:"device_code"`
		UserCode                string  `json:"user_code"`
		VerificationURI         string  `json:"verification_uri"`
		VerificationURL         string  `json:"verification_url"` // an old spelling some servers use
		VerificationURIComplete string  `json:"verification_uri_complete"`
		ExpiresIn               seconds `json:"expires_in"`
		Interval                seconds `json:"interval"`
	}
	bad := func(reason string) error {
		return &ResponseError{URL: redact(endpoint), StatusCode: status, Reason: reason}
	}
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, bad("the device authorization answer is not JSON")
	}
	if a.VerificationURI == "" {
		a.VerificationURI = a.VerificationURL
	}
	switch {
	case a.DeviceCode == "":
		return nil, bad("the device authorization answer has no device_code")
	case a.UserCode == "" || a.VerificationURI == "":
		return nil, bad("the device authorization answer has no user_code or verification_uri")
	case !printable(a.UserCode) || !printable(a.VerificationURI) || !printable(a.VerificationURIComplete):
		return nil, bad("the device authorization answer has control or formatting characters in what the user is to see")
	case !d.webURL(a.VerificationURI) || a.VerificationURIComplete != "" && !d.webURL(a.VerificationURIComplete):
		return nil, bad("the device authorization answer's verification URI is not an https URL")
	}
	lifetime := time.Duration(a.ExpiresIn)
	if lifetime <= 0 {
		lifetime = deviceCodeDefaultLifetime
	}
	interval := time.Duration(a.Interval)
	if interval < minInterval {
		interval = defaultInterval
	}
	return &deviceAuthorization{
		deviceCode: a.DeviceCode,
		interval:   interval,
		prompt: DevicePrompt{
			VerificationURI:         a.VerificationURI,
			VerificationURIComplete: a.VerificationURIComplete,
			UserCode:                a.UserCode,
			Expiry:                  sent.Add(lifetime),
		},
	}, nil
}

// prompt shows p through Prompt, or on Output.
func (d *Device) prompt(ctx context.Context, p DevicePrompt) error {
	if d.Prompt != nil {
		if err := d.Prompt(ctx, p); err != nil {
			return fmt.Errorf("login: device prompt: %w", err)
		}
		return nil
	}
	out := d.Output
	if out == nil {
		out = os.Stderr
	}
	_, err := fmt.Fprintf(out, "%s\n", p)
	return err
}

// printable reports whether s is UTF-8 without control characters, which
// a server could use to rewrite the user's terminal, and without
// formatting characters such as U+202E, which make a URI read otherwise
// than where it goes.
func printable(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsFunc(s, func(r rune) bool {
		return unicode.IsControl(r) || unicode.Is(unicode.Cf, r)
	})
}

// webURL reports whether raw is a URL the user may be sent to: https, or
// http to loopback (or anywhere with AllowInsecureHTTP), as the endpoints.
// A javascript: or file: URI shown as a link or a QR code would run or
// open something on the user's device instead.
func (d *Device) webURL(raw string) bool {
	_, err := checkURL("verification URI", raw, d.AllowInsecureHTTP)
	return err == nil
}
