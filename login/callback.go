package login

import (
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// callback is the loopback listener that receives the authorization
// response (RFC 8252 §7.3). Its handler hands the first redirect to Login
// and answers the browser with the outcome of the login.
type callback struct {
	redirectURL string
	path        string
	srv         *http.Server
	calls       chan callbackCall // unbuffered: taken by Login
	done        chan struct{}     // closed when Login is over
	served      chan struct{}     // closed when Serve has returned
	closeOnce   sync.Once
}

// callbackCall is one authorization response and the way back to its
// browser tab.
type callbackCall struct {
	query   url.Values
	outcome chan error    // buffered: Login's verdict
	sent    chan struct{} // closed once the page about it is sent
}

// waitSent waits until the browser has the page about the call, or for
// pageGrace.
func (call callbackCall) waitSent() {
	t := time.NewTimer(pageGrace)
	defer t.Stop()
	select {
	case <-call.sent:
	case <-t.C:
	}
}

// pageGrace is how long close waits for the browser to get its page.
const pageGrace = 2 * time.Second

// listen starts the listener for redirectURL, or for
// http://127.0.0.1:<ephemeral>/callback when it is empty.
func listen(redirectURL string) (*callback, error) {
	// path is matched against the decoded path of requests; escaped is
	// how the redirect URI spells it, as registered.
	addr, path, escaped := "127.0.0.1:0", "/callback", "/callback"
	if redirectURL != "" {
		u, err := url.Parse(redirectURL)
		if err != nil || u.Scheme != "http" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			return nil, fmt.Errorf("login: Config.RedirectURL %q must be a plain http URL on a loopback IP address", redactString(redirectURL))
		}
		ip := net.ParseIP(u.Hostname())
		if ip == nil || !ip.IsLoopback() {
			return nil, fmt.Errorf("login: Config.RedirectURL %s must name a loopback IP address such as 127.0.0.1 (RFC 8252 §8.3)", redact(u))
		}
		port := u.Port()
		if port == "" {
			port = "0"
		}
		addr, path, escaped = net.JoinHostPort(u.Hostname(), port), u.Path, u.EscapedPath()
		if path == "" {
			path, escaped = "/", "/"
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("login: listen for the authorization response: %w", err)
	}
	c := &callback{
		redirectURL: "http://" + ln.Addr().String() + escaped,
		path:        path,
		calls:       make(chan callbackCall),
		done:        make(chan struct{}),
		served:      make(chan struct{}),
	}
	c.srv = &http.Server{Handler: c, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(c.served)
		_ = c.srv.Serve(ln)
	}()
	return c, nil
}

// close ends the login for the handlers and stops the listener and every
// connection to it. It may be called more than once.
func (c *callback) close() {
	c.closeOnce.Do(func() {
		close(c.done)
		_ = c.srv.Close()
		<-c.served
	})
}

// ServeHTTP hands the first authorization response to Login and answers
// the browser with a page saying how the login went. Other paths (such as
// /favicon.ico) get a 404 and change nothing.
func (c *callback) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != c.path {
		http.NotFound(w, r)
		return
	}
	call := callbackCall{query: r.URL.Query(), outcome: make(chan error, 1), sent: make(chan struct{})}
	select {
	case c.calls <- call:
		defer close(call.sent)
	case <-c.done:
		page(w, http.StatusGone, "This sign-in has already ended", "Return to the terminal to see how it went.")
		return
	case <-r.Context().Done():
		return
	}
	var err error
	select {
	case err = <-call.outcome:
	case <-r.Context().Done():
		return
	case <-c.done:
		// Login sends the outcome before it ends.
		select {
		case err = <-call.outcome:
		default:
			err = errors.New("the sign-in ended")
		}
	}
	if err != nil {
		page(w, http.StatusBadRequest, "Sign-in failed", pageReason(err)+" Return to the terminal for details.")
		return
	}
	page(w, http.StatusOK, "Signed in", "You may close this window and return to the terminal.")
}

// pageReason says in a sentence, without credentials, why the login failed.
func pageReason(err error) string {
	var oe *OAuthError
	var me *MismatchError
	switch {
	case errors.As(err, &oe) && oe.Code == "access_denied":
		return "The request was denied."
	case errors.As(err, &oe):
		return "The authorization server answered " + oe.Code + "."
	case errors.As(err, &me):
		return "The answer does not belong to this sign-in."
	}
	return "The sign-in could not be completed."
}

// page writes a small HTML page, whole: with its length, and flushed, so
// that the browser has all of it once page returns.
func page(w http.ResponseWriter, status int, title, text string) {
	body := fmt.Sprintf(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>%[1]s</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#222}</style>
</head><body><h1>%[1]s</h1><p>%[2]s</p></body></html>
`, html.EscapeString(title), html.EscapeString(text))
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Connection", "close")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
	_ = http.NewResponseController(w).Flush()
}
