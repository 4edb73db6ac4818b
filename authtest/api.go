package authtest

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"time"
)

// TokenInfo describes the access token of a request that a handler mounted
// with [Server.Handle] serves. Get it with [TokenInfoFromContext].
type TokenInfo struct {
	// ClientID is the client the token was issued to; empty for a token
	// made by [Server.IssueToken].
	ClientID string
	// Scope is the token's space-separated scope.
	Scope string
	// Resources are the resource indicators (RFC 8707) the token was
	// issued for, if any.
	Resources []string
	// ACR and AuthTime describe the user's authentication (RFC 9470).
	ACR      string
	AuthTime time.Time
	// Expiry is when the token expires, on the server's clock.
	Expiry time.Time
	// DPoPThumbprint is the thumbprint of the DPoP key the token is bound
	// to (RFC 9449), or empty for a bearer token.
	DPoPThumbprint string
}

type tokenInfoKey struct{}

// TokenInfoFromContext returns the token of the request whose context is
// ctx, as the server checked it, when a handler mounted with
// [Server.Handle] serves that request.
func TokenInfoFromContext(ctx context.Context) (TokenInfo, bool) {
	ti, ok := ctx.Value(tokenInfoKey{}).(TokenInfo)
	return ti, ok
}

// Handle mounts h on the protected resource, so that an SDK author can
// test their API, not only the authorization around it. pattern is an
// [http.ServeMux] pattern ("GET /api/items/{id}", "/api/upload/") whose path
// starts with /api/ and that names no host; it panics otherwise, or when
// the pattern conflicts with one already mounted.
//
// The server runs every check it runs for other /api/ paths first (the
// token, DPoP, scope and step-up demands, rejections) and calls h only
// for a request that passes them, with the token's [TokenInfo] in the
// request context and the whole request body. The request is recorded
// ([Server.ResourceRequests]) with the status h answers. Requests that no
// mounted pattern matches get the default JSON answer.
func (s *Server) Handle(pattern string, h http.Handler) {
	path := pattern
	if method, rest, ok := strings.Cut(pattern, " "); ok && method != "" {
		path = strings.TrimLeft(rest, " \t")
	}
	if !strings.HasPrefix(path, "/api/") {
		panic("authtest: Handle: the pattern " + pattern + " must have a path under /api/ and no host")
	}
	s.api.Handle(pattern, h)
	s.mu.Lock()
	s.mounted = true
	s.mu.Unlock()
}

// serveMounted serves an authorized request with the handler mounted for
// it, if any, and reports whether there was one. body is the start of the
// request body, already read; rr is the record, completed with the status
// when the handler answers.
func (s *Server) serveMounted(w http.ResponseWriter, r *http.Request, body []byte, rr ResourceRequest, info TokenInfo) bool {
	s.mu.Lock()
	mounted := s.mounted
	s.mu.Unlock()
	if !mounted {
		return false
	}
	if _, pattern := s.api.Handler(r); pattern == "" {
		return false
	}
	r = r.WithContext(context.WithValue(r.Context(), tokenInfoKey{}, info))
	r.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(body), r.Body), r.Body}
	rw := &recordingWriter{ResponseWriter: w, record: func(status int) {
		rr.Status = status
		s.mu.Lock()
		s.recordLocked(rr)
		s.mu.Unlock()
	}}
	s.api.ServeHTTP(rw, r)
	rw.answered(http.StatusOK)
	return true
}

// recordingWriter records a request when its handler starts to answer:
// before the client can see the answer, so that counters read after it
// include the request.
type recordingWriter struct {
	http.ResponseWriter
	record func(status int)
	done   bool
}

func (w *recordingWriter) answered(status int) {
	if !w.done {
		w.done = true
		w.record(status)
	}
}

func (w *recordingWriter) WriteHeader(status int) {
	if status >= 200 {
		w.answered(status)
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *recordingWriter) Write(b []byte) (int, error) {
	w.answered(http.StatusOK)
	return w.ResponseWriter.Write(b)
}

// Unwrap gives [http.ResponseController] the underlying writer.
func (w *recordingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
