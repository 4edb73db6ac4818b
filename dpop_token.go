package authtransport

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// maxTokenRequestBody bounds a token request body buffered for a resend.
const maxTokenRequestBody = 1 << 20

// maxErrorBody bounds how much of a token endpoint's error answer is read to
// find its error code.
const maxErrorBody = 64 << 10

// tokenRequestProver adds DPoP proofs to token requests (POSTs) and resends
// one once when the authorization server asks for a nonce with a 400
// use_dpop_nonce answer (RFC 9449 §8).
type tokenRequestProver struct {
	base http.RoundTripper
	dpop *DPoP
}

func (p *tokenRequestProver) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodPost || req.URL == nil || len(req.Header["Dpop"]) > 0 {
		return p.base.RoundTrip(req)
	}
	body, getBody := req.Body, req.GetBody
	if getBody == nil && body != nil && body != http.NoBody {
		buf, err := io.ReadAll(io.LimitReader(body, maxTokenRequestBody+1))
		_ = body.Close()
		if err != nil {
			return nil, fmt.Errorf("authtransport: read token request body: %w", err)
		}
		if len(buf) > maxTokenRequestBody {
			return nil, errors.New("authtransport: token request body too large to replay")
		}
		getBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf)), nil }
		body, _ = getBody()
	}
	for attempt := 0; ; attempt++ {
		proof, err := p.dpop.proof(req.Method, req.URL, req.Host, "", time.Now())
		if err != nil {
			closeBody(body)
			return nil, err
		}
		r2 := new(http.Request)
		*r2 = *req
		r2.Body = body
		r2.Header = headerWith(req.Header, "Dpop", proof)
		resp, err := p.base.RoundTrip(r2)
		if err != nil {
			return nil, err
		}
		p.dpop.observe(req.URL, resp)
		if attempt > 0 || !askedForNonce(resp) {
			return resp, nil
		}
		switch {
		case body == nil || body == http.NoBody:
		case getBody == nil:
			return resp, nil
		default:
			if body, err = getBody(); err != nil || body == nil {
				return resp, nil
			}
		}
		drainAndClose(resp)
	}
}

// askedForNonce reports whether resp is an authorization server's request
// for a DPoP nonce: a 400 (or 401) JSON error use_dpop_nonce with a
// DPoP-Nonce header (RFC 9449 §8). It reads the start of the body of such a
// candidate and puts it back.
func askedForNonce(resp *http.Response) bool {
	if resp.StatusCode != http.StatusBadRequest && resp.StatusCode != http.StatusUnauthorized {
		return false
	}
	if v := resp.Header["Dpop-Nonce"]; len(v) == 0 || !validNonce(v[0]) || resp.Body == nil {
		return false
	}
	head, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	orig := resp.Body
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(head), orig), orig}
	if err != nil {
		return false
	}
	var answer struct {
		Error string `json:"error"`
	}
	return json.Unmarshal(head, &answer) == nil && answer.Error == CodeUseDPoPNonce
}
