package authtransport

import (
	"errors"
	"fmt"
	"io"
	"net/http"
)

// rewind returns a fresh copy of req's body for a resend, and false when the
// body cannot be replayed. A GetBody that panics is an error.
func rewind(req *http.Request) (body io.ReadCloser, ok bool, err error) {
	switch {
	case req.Body == nil || req.Body == http.NoBody:
		return req.Body, true, nil
	case req.GetBody == nil:
		return nil, false, nil
	}
	defer func() {
		if v := recover(); v != nil {
			body, ok, err = nil, false, fmt.Errorf("authtransport: rewind request body: %w", panicError("GetBody", v))
		}
	}()
	body, err = req.GetBody()
	if err != nil {
		return nil, false, fmt.Errorf("authtransport: rewind request body: %w", err)
	}
	if body == nil {
		return nil, false, errors.New("authtransport: rewind request body: GetBody returned nil")
	}
	return body, true, nil
}

// maxDrain bounds how much of a discarded response body is read so that its
// connection can be reused.
const maxDrain = 64 << 10

// drainAndClose reads what remains of a discarded response's body, up to
// maxDrain, and closes it.
func drainAndClose(resp *http.Response) {
	if resp.Body == nil {
		return
	}
	_, _ = io.CopyN(io.Discard, resp.Body, maxDrain)
	_ = resp.Body.Close()
}

// closeBody closes a request body, which may be nil.
func closeBody(body io.ReadCloser) {
	if body != nil {
		_ = body.Close()
	}
}
