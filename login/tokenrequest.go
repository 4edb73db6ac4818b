package login

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/d5c4ca72/authtransport"
)

// postForm sends form to endpoint, a URL checked with checkURL, as the
// client of cfg: a public client (no secret) names itself with client_id
// in the form (RFC 6749 §2.3), a confidential one authenticates with
// client_secret_post for oauth2.AuthStyleInParams and client_secret_basic
// otherwise (RFC 6749 §2.3.1). It follows no redirect.
func postForm(ctx context.Context, cfg *oauth2.Config, endpoint *url.URL, form url.Values, what string) (int, http.Header, []byte, error) {
	form = cloneValues(form)
	basic := cfg.ClientSecret != "" && cfg.Endpoint.AuthStyle != oauth2.AuthStyleInParams
	if !basic {
		form.Set("client_id", cfg.ClientID)
		if cfg.ClientSecret != "" {
			form.Set("client_secret", cfg.ClientSecret)
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint.String(), strings.NewReader(form.Encode()))
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if basic {
		req.SetBasicAuth(url.QueryEscape(cfg.ClientID), url.QueryEscape(cfg.ClientSecret))
	}
	return fetch(ctx, noRedirects, req, what)
}

// cloneValues returns a copy of v.
func cloneValues(v url.Values) url.Values {
	c := make(url.Values, len(v)+2)
	for k, vs := range v {
		c[k] = append([]string(nil), vs...)
	}
	return c
}

// requestToken sends a token request (RFC 6749 §4.1.3, RFC 8628 §3.4) and
// returns the token, with ObtainedAt set to when the request was sent and
// Expiry counted from then. An error answer is an *OAuthError, an answer
// that is not a token a *ResponseError; the caller cleans them of the
// login's secrets.
func requestToken(ctx context.Context, cfg *oauth2.Config, endpoint *url.URL, form url.Values) (*authtransport.Token, error) {
	sent := time.Now().Round(0)
	status, _, body, err := postForm(ctx, cfg, endpoint, form, "token request")
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, errorAnswer(endpoint, status, body)
	}
	var answer struct {
		AccessToken  string  `json:"access_token"`
		TokenType    string  `json:"token_type"`
		RefreshToken string  `json:"refresh_token"`
		ExpiresIn    seconds `json:"expires_in"`
		Scope        string  `json:"scope"`
	}
	if err := json.Unmarshal(body, &answer); err != nil {
		return nil, &ResponseError{URL: redact(endpoint), StatusCode: status, Reason: "the token answer is not JSON"}
	}
	if answer.AccessToken == "" {
		return nil, &ResponseError{URL: redact(endpoint), StatusCode: status, Reason: "the token answer has no access_token"}
	}
	tok := &authtransport.Token{
		AccessToken:  answer.AccessToken,
		TokenType:    answer.TokenType,
		RefreshToken: answer.RefreshToken,
		Scope:        answer.Scope,
		ObtainedAt:   sent,
	}
	if answer.ExpiresIn > 0 {
		tok.Expiry = sent.Add(time.Duration(answer.ExpiresIn))
	}
	return tok, nil
}

// errorAnswer returns the error of an answer other than 200: an
// *OAuthError when it is a JSON OAuth error, else a *ResponseError.
func errorAnswer(endpoint *url.URL, status int, body []byte) error {
	var e struct {
		Code        string `json:"error"`
		Description string `json:"error_description"`
		URI         string `json:"error_uri"`
	}
	if json.Unmarshal(body, &e) != nil || e.Code == "" {
		return &ResponseError{URL: redact(endpoint), StatusCode: status, Reason: "the answer is not an OAuth error"}
	}
	if !isErrorCode(e.Code) {
		return &ResponseError{URL: redact(endpoint), StatusCode: status, Reason: badErrorCode}
	}
	return &OAuthError{Endpoint: redact(endpoint), StatusCode: status, Code: e.Code,
		Description: e.Description, URI: e.URI}
}

// badErrorCode is the Reason of an error code outside RFC 6749's grammar.
const badErrorCode = "the error code has characters RFC 6749 §5.2 does not allow"

// isErrorCode reports whether v is an OAuth error code: printable ASCII
// without the quote and the backslash (RFC 6749 §5.2, §4.1.2.1). Anything
// else, such as a terminal escape sequence, is not shown to the user.
func isErrorCode(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// seconds is a JSON number of seconds, also accepted as a string of digits
// (some servers quote expires_in), as a time.Duration.
type seconds time.Duration

func (d *seconds) UnmarshalJSON(b []byte) error {
	b = bytes.Trim(b, `"`)
	if string(b) == "null" || len(b) == 0 {
		return nil
	}
	n, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return err
	}
	if n > 0 && n < float64(1<<33) {
		*d = seconds(time.Duration(n * float64(time.Second)))
	}
	return nil
}
