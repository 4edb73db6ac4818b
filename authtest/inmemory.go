package authtest

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
)

// InMemoryTransport returns an [http.RoundTripper] that hands each request
// for the server's URL straight to the server's handler, without a
// socket, and returns what it answered. It is for tests under
// [testing/synctest], whose fake clock cannot advance while a goroutine
// waits on a real connection: start the Server outside the bubble, and give
// the clients inside it this transport.
//
// A request for another origin fails, and so does every request once the
// server is closed. The answer is complete when RoundTrip returns, and the
// request's context is the handler's. A [FaultReset] ends in an error.
// The injected delays ([Server.SetTokenDelay], [FaultDelay]) also wait for
// the server to close, which synctest cannot see: do not use them under
// synctest.
func (s *Server) InMemoryTransport() http.RoundTripper {
	return inMemoryTransport{s: s}
}

type inMemoryTransport struct{ s *Server }

func (t inMemoryTransport) RoundTrip(req *http.Request) (resp *http.Response, err error) {
	closeBody := func() {
		if req.Body != nil {
			_ = req.Body.Close()
		}
	}
	if req.URL == nil || !strings.EqualFold(req.URL.Scheme+"://"+req.URL.Host, t.s.URL) {
		closeBody()
		return nil, fmt.Errorf("authtest: the in-memory transport serves only %s", t.s.URL)
	}
	select {
	case <-t.s.done:
		closeBody()
		return nil, errors.New("authtest: the server is closed")
	default:
	}
	if err := req.Context().Err(); err != nil {
		closeBody()
		return nil, err
	}
	in := req.Clone(req.Context())
	in.RequestURI = req.URL.RequestURI()
	in.RemoteAddr = "127.0.0.1:1"
	if in.Host == "" {
		in.Host = req.URL.Host
	}
	if in.Body == nil {
		in.Body = http.NoBody
	}
	defer closeBody()
	defer func() {
		if v := recover(); v != nil {
			resp, err = nil, fmt.Errorf("authtest: the handler dropped the request: %v", v)
		}
	}()
	rec := httptest.NewRecorder()
	t.s.handler.ServeHTTP(rec, in)
	resp = rec.Result()
	resp.Request = req
	return resp, nil
}
