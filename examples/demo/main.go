// Command demo shows authtransport at work against a loopback authorization
// server and API (the authtest kit), in-process, with nothing to install:
//
//	go run ./examples/demo          # the scripted tour; exits 0 when all went as shown
//	go run ./examples/demo -serve   # serve the demo server for examples/cli until interrupted
//
// With -serve, -token-lifetime sets how long its access tokens live (watch
// several copies of the CLI refresh once with a few seconds), and -pidfile
// names a file to write the server's process ID to, so that a script can
// stop it with kill even when it was started through go run.
//
// The tour has four scenes: fifty concurrent requests with an expired token
// share one refresh; an access token revoked early is refreshed once and the
// request resent; an API that demands more scope gets a typed error; and a
// revoked grant ends in a *LoginRequiredError, which the application turns
// into "please log in again".
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/d5c4ca72/authtransport"
	"github.com/d5c4ca72/authtransport/authtest"
)

// The demo server's fixed address and client secret, which examples/cli
// uses by default.
const (
	serveAddr   = "127.0.0.1:8765"
	serveSecret = "demo-secret"
)

func main() {
	serve := flag.Bool("serve", false, "serve the demo authorization server and API on "+serveAddr+" until interrupted")
	lifetime := flag.Duration("token-lifetime", authtest.DefaultAccessTokenLifetime, "with -serve: how long access tokens live")
	pidFile := flag.String("pidfile", "", "with -serve: write the server's process ID to this file (removed on exit)")
	flag.Parse()
	var err error
	if *serve {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err = runServer(ctx, os.Stdout, *lifetime, *pidFile)
		stop()
	} else {
		err = tour(os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

// runServer serves an authtest server on serveAddr, issuing access tokens
// that live lifetime, until ctx ends. With pidFile not empty it writes its
// process ID there, and removes the file when it stops.
func runServer(ctx context.Context, w io.Writer, lifetime time.Duration, pidFile string) error {
	l, err := net.Listen("tcp", serveAddr)
	if err != nil {
		return err
	}
	if pidFile != "" {
		if err := os.WriteFile(pidFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
			_ = l.Close()
			return err
		}
		defer os.Remove(pidFile)
	}
	srv := authtest.NewUnstartedServer()
	srv.Listener = l
	srv.ClientSecret = serveSecret
	srv.Start()
	defer srv.Close()
	srv.SetAccessTokenLifetime(lifetime)
	fmt.Fprintf(w, "demo server on %s (client %q, secret %q, tokens live %v): token endpoint %s, API %s\n",
		srv.URL, srv.ClientID, serveSecret, lifetime, srv.TokenURL(), srv.ResourceURL(""))
	fmt.Fprintln(w, "try: go run ./examples/cli login --device && go run ./examples/cli get /api/items   (Ctrl-C stops the server)")
	<-ctx.Done()
	return nil
}

// tour runs the four scenes and reports the first that did not go as shown.
func tour(w io.Writer) error {
	srv := authtest.NewServer()
	defer srv.Close()

	logger := slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey && len(groups) == 0 {
				return slog.Attr{}
			}
			return a
		},
	}))
	trace := &tracer{w: w, base: srv.Client().Transport}
	tr := &authtransport.Transport{
		Base:      trace,
		Store:     authtransport.NewMemoryStore(srv.NewExpiredToken()),
		Refresher: authtransport.NewOAuth2Refresher(srv.Config()),
		Logger:    logger,
	}
	client := &http.Client{Transport: tr}
	defer client.CloseIdleConnections()
	ctx := context.Background()

	scene(w, 1, "50 concurrent requests, the stored token has expired")
	trace.quiet.Store(true)
	var wg sync.WaitGroup
	var ok atomic.Int32
	for range 50 {
		wg.Go(func() {
			if status, err := get(ctx, client, srv.ResourceURL("items")); err == nil && status == http.StatusOK {
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	trace.quiet.Store(false)
	fmt.Fprintf(w, "   %d of 50 requests got 200; the token endpoint saw %d refresh\n", ok.Load(), srv.Stats().Refreshes())
	if ok.Load() != 50 || srv.Stats().Refreshes() != 1 {
		return errors.New("scene 1: expected 50 successes and one refresh")
	}

	scene(w, 2, "the server revokes the access token before it expires")
	srv.RevokeAccessTokens()
	status, err := get(ctx, client, srv.ResourceURL("items"))
	fmt.Fprintf(w, "   the caller saw: %d (refreshes so far: %d)\n", status, srv.Stats().Refreshes())
	if err != nil || status != http.StatusOK || srv.Stats().Refreshes() != 2 {
		return fmt.Errorf("scene 2: expected 200 after one refresh, got %d, %v", status, err)
	}

	scene(w, 3, "an API that needs a scope the token does not have")
	srv.RequireScope("/api/admin", "admin:write")
	_, err = get(ctx, client, srv.ResourceURL("admin"))
	var lr *authtransport.LoginRequiredError
	if !errors.As(err, &lr) || lr.Reason != authtransport.ReasonInsufficientScope {
		return fmt.Errorf("scene 3: expected a LoginRequiredError for scope, got %v", err)
	}
	fmt.Fprintf(w, "   %v\n   the application would ask the user to grant: %s\n", err, strings.Join(lr.Challenge.Scopes(), " "))

	scene(w, 4, "the user's grant is revoked (password change, logout elsewhere)")
	srv.RevokeGrant()
	_, err = get(ctx, client, srv.ResourceURL("items"))
	if !errors.As(err, &lr) || lr.Reason != authtransport.ReasonRefreshRejected {
		return fmt.Errorf("scene 4: expected a LoginRequiredError, got %v", err)
	}
	fmt.Fprintf(w, "   %v\n", err)
	fmt.Fprintf(w, "   errors.Is(err, authtransport.ErrLoginRequired) = %v -> the application says:\n", errors.Is(err, authtransport.ErrLoginRequired))
	fmt.Fprintln(w, "   \"Your session has ended. Run `myapp login` to sign in again.\"")

	fmt.Fprintln(w, "\ndone: every scene went as described")
	return nil
}

func scene(w io.Writer, n int, title string) {
	fmt.Fprintf(w, "\n== scene %d: %s\n", n, title)
}

func get(ctx context.Context, c *http.Client, url string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// tracer prints each request the Transport sends and its answer. It shows a
// fingerprint of the credential, never the credential.
type tracer struct {
	w     io.Writer
	base  http.RoundTripper
	quiet atomic.Bool
	mu    sync.Mutex // serializes writes to w
}

func (t *tracer) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if t.quiet.Load() {
		return resp, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	fmt.Fprintf(t.w, "   -> %s %s  Authorization: %s\n", req.Method, req.URL.Path, fingerprint(req.Header.Get("Authorization")))
	if err != nil {
		fmt.Fprintf(t.w, "   <- error: %v\n", err)
		return nil, err
	}
	line := fmt.Sprintf("   <- %d", resp.StatusCode)
	if c := resp.Header.Get("WWW-Authenticate"); c != "" {
		line += "  WWW-Authenticate: " + c
	}
	fmt.Fprintln(t.w, line)
	return resp, nil
}

func fingerprint(auth string) string {
	scheme, cred, ok := strings.Cut(auth, " ")
	if !ok {
		return "(none)"
	}
	sum := sha256.Sum256([]byte(cred))
	return scheme + " <token sha256:" + hex.EncodeToString(sum[:4]) + ">"
}
