// Command cli is a small command-line client that calls an API through an
// [authtransport.Transport], keeping its token in a [filestore.Store], so
// that any number of copies of it running at once share one login and
// refresh it once between them. It signs in with the [login] package.
//
// Usage:
//
//	cli [flags] login            sign in with the browser (authorization code with PKCE)
//	cli [flags] login --device   sign in on another device (device authorization grant)
//	cli [flags] get PATH         GET PATH on the server and print the body
//	cli [flags] logout           forget the stored token
//
// Flags:
//
//	-server URL          authorization server (its issuer) and API (default http://127.0.0.1:8765, the demo server)
//	-token-file PATH     token file (default <user config dir>/authtransport-example/token.json)
//	-client-id ID        OAuth client ID (default authtest-client)
//	-client-secret S     OAuth client secret (default $AUTHTRANSPORT_CLIENT_SECRET, else demo-secret; empty for a public client)
//	-scope SCOPE         scope to ask for at login
//	-v                   log refreshes and retries to stderr
//
// The endpoints come from the server's metadata (RFC 8414). login opens
// the authorization URL in the browser and prints it, for a machine where
// no browser opens; login --device prints a code to enter on another
// device instead. The demo server approves every request at once.
//
// Exit status: 0 on success, 1 on failure (network, a refused login, an
// HTTP error status, a token file it cannot access), 2 when the user must
// log in again (the message names the command), 64 for a usage error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	"golang.org/x/oauth2"

	"github.com/d5c4ca72/authtransport"
	"github.com/d5c4ca72/authtransport/filestore"
	"github.com/d5c4ca72/authtransport/login"
)

const (
	defaultServer = "http://127.0.0.1:8765"
	// defaultClientID is the client that authtest servers, and so the
	// demo server, know (authtest.DefaultClientID).
	defaultClientID = "authtest-client"
	// defaultClientSecret is the secret the demo server is started with
	// unless $AUTHTRANSPORT_CLIENT_SECRET says otherwise.
	defaultClientSecret = "demo-secret"
	secretEnv           = "AUTHTRANSPORT_CLIENT_SECRET"

	exitOK            = 0
	exitFailure       = 1
	exitLoginRequired = 2
	exitUsage         = 64
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, nil)
	stop()
	os.Exit(code)
}

// cli holds what the flags configured.
type cli struct {
	cfg       *oauth2.Config
	server    string
	verbose   bool
	loginHint string // the login command to suggest, with the flags given
	base      *http.Transport
	open      func(ctx context.Context, url string) error // nil: login.OpenBrowser
	stdout    io.Writer
	stderr    io.Writer
}

// run runs the command line args and returns the exit status. open, if
// not nil, replaces the browser.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, open func(context.Context, string) error) int {
	fs := flag.NewFlagSet("cli", flag.ContinueOnError)
	fs.SetOutput(stderr)
	server := fs.String("server", defaultServer, "authorization server (issuer) and API `URL`")
	tokenFile := fs.String("token-file", "", "token file `path` (default <user config dir>/authtransport-example/token.json)")
	clientID := fs.String("client-id", defaultClientID, "OAuth client `ID`")
	secret := os.Getenv(secretEnv)
	if secret == "" {
		secret = defaultClientSecret
	}
	clientSecret := fs.String("client-secret", secret, "OAuth client `secret`, empty for a public client (default $"+secretEnv+", else "+defaultClientSecret+")")
	scope := fs.String("scope", "", "`scope` to ask for at login")
	verbose := fs.Bool("v", false, "log refreshes and retries to stderr")
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: cli [flags] login [--device] | get PATH | logout\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	cmd, rest := fs.Arg(0), fs.Args()[min(1, fs.NArg()):]
	useDevice, usage := false, false
	switch cmd {
	case "login":
		lf := flag.NewFlagSet("login", flag.ContinueOnError)
		lf.SetOutput(io.Discard)
		lf.BoolVar(&useDevice, "device", false, "")
		usage = lf.Parse(rest) != nil || lf.NArg() > 0
	case "get":
		usage = len(rest) != 1
	case "logout":
		usage = len(rest) != 0
	default:
		usage = true
	}
	if usage {
		fs.Usage()
		return exitUsage
	}

	c := &cli{server: strings.TrimSuffix(*server, "/"), verbose: *verbose, open: open, stdout: stdout, stderr: stderr}
	// The login command to suggest repeats the flags that choose the
	// server and the file, never the secret.
	hint := []string{"cli"}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "server", "token-file", "client-id", "scope":
			hint = append(hint, "-"+f.Name, quoteArg(f.Value.String()))
		}
	})
	c.loginHint = strings.Join(append(hint, "login"), " ")
	path := *tokenFile
	if path == "" {
		dir, err := os.UserConfigDir()
		if err != nil {
			return c.fail(fmt.Errorf("no user config directory (%v); pass -token-file", err))
		}
		path = filepath.Join(dir, "authtransport-example", "token.json")
	}
	store, err := filestore.New(path)
	if err != nil {
		return c.fail(err)
	}
	// One HTTP transport for everything, closed at the end so that no
	// connection outlives the command.
	c.base = http.DefaultTransport.(*http.Transport).Clone()
	defer c.base.CloseIdleConnections()
	ctx = context.WithValue(ctx, oauth2.HTTPClient, &http.Client{Transport: c.base})
	if cmd == "logout" {
		return c.logout(ctx, store)
	}
	md, err := (&login.Discovery{}).Server(ctx, c.server)
	if err != nil {
		return c.fail(err)
	}
	c.cfg = md.Config(*clientID, *clientSecret, strings.Fields(*scope)...)
	if cmd == "get" {
		return c.get(ctx, store, rest[0])
	}
	flow := (&login.Browser{Config: c.cfg, Issuer: md.Issuer, RequireIssuer: md.AuthorizationResponseIssParameterSupported,
		Open: c.open, Output: stdout}).Login
	if useDevice {
		flow = (&login.Device{Config: c.cfg, Output: stdout}).Login
	}
	return c.login(ctx, store, flow)
}

// login runs flow and saves the token it returns.
func (c *cli) login(ctx context.Context, store *filestore.Store, flow func(context.Context) (*authtransport.Token, error)) int {
	_, err := login.Save(ctx, store, flow)
	var refused *login.OAuthError
	switch {
	case errors.As(err, &refused) && refused.Code == "access_denied":
		fmt.Fprintln(c.stderr, "cli: the sign-in was declined.")
		return exitFailure
	case errors.As(err, &refused):
		fmt.Fprintf(c.stderr, "cli: the authorization server refused the login: %s\n", refused.Code)
		return exitFailure
	case errors.Is(err, login.ErrTimeout):
		fmt.Fprintf(c.stderr, "cli: the sign-in took too long. Run `%s` to try again.\n", c.loginHint)
		return exitFailure
	case err != nil:
		return c.fail(err)
	}
	fmt.Fprintf(c.stdout, "Logged in. Token saved to %s\n", store.Path())
	return exitOK
}

// get sends GET path through the Transport and prints the body.
func (c *cli) get(ctx context.Context, store *filestore.Store, path string) int {
	tr := &authtransport.Transport{Base: c.base, Store: store, Refresher: authtransport.NewOAuth2Refresher(c.cfg)}
	if c.verbose {
		tr.Logger = slog.New(slog.NewTextHandler(c.stderr, nil))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.server+"/"+strings.TrimPrefix(path, "/"), nil)
	if err != nil {
		fmt.Fprintf(c.stderr, "cli: %v\n", err)
		return exitUsage
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return c.explain(err)
	}
	defer resp.Body.Close()
	if _, err := io.Copy(c.stdout, resp.Body); err != nil {
		return c.fail(fmt.Errorf("reading the response: %w", err))
	}
	if resp.StatusCode/100 != 2 {
		fmt.Fprintf(c.stderr, "cli: %s answered %s\n", path, resp.Status)
		return exitFailure
	}
	return exitOK
}

// explain prints what a failed request means for the user and returns the
// exit status.
func (c *cli) explain(err error) int {
	var (
		lr      *authtransport.LoginRequiredError
		corrupt *filestore.CorruptError
		version *filestore.VersionError
		mode    *filestore.ModeError
	)
	again := fmt.Sprintf("Run `%s` to sign in again.", c.loginHint)
	switch {
	// A damaged or exposed token file comes wrapped in a login error; say
	// what is wrong with the file first.
	case errors.As(err, &corrupt):
		fmt.Fprintf(c.stderr, "cli: the token file %s is damaged (%s).\n", corrupt.Path, corrupt.Reason)
		if corrupt.Backup != "" {
			fmt.Fprintf(c.stderr, "A copy was kept at %s.\n", corrupt.Backup)
		}
		fmt.Fprintln(c.stderr, again)
	case errors.As(err, &version):
		fmt.Fprintf(c.stderr, "cli: the token file %s was written by a newer program (format version %d).\n%s\n", version.Path, version.Version, again)
	case errors.As(err, &mode):
		fmt.Fprintf(c.stderr, "cli: the token file %s may be read by other users (mode %#o), so cli will not use it.\nRun `chmod 600 %s` if that is safe, or `%s` to sign in again.\n",
			mode.Path, uint32(mode.Mode), quoteArg(mode.Path), c.loginHint)
	case errors.As(err, &lr):
		what := lr.Reason.String()
		switch lr.Reason {
		case authtransport.ReasonNoToken:
			what = "you are not logged in"
		case authtransport.ReasonRefreshRejected:
			what = "your session has ended (the server refused to refresh the token)"
		}
		fmt.Fprintf(c.stderr, "cli: login required: %s.\n%s\n", what, again)
	default:
		return c.fail(err)
	}
	return exitLoginRequired
}

// logout removes the token file, under its lock.
func (c *cli) logout(ctx context.Context, store *filestore.Store) int {
	if err := (&authtransport.Transport{Store: store}).Logout(ctx); err != nil {
		return c.fail(err)
	}
	fmt.Fprintf(c.stdout, "Logged out. Removed %s\n", store.Path())
	return exitOK
}

// fail prints err, without the query of a URL in it, and returns
// exitFailure.
func (c *cli) fail(err error) int {
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil {
			u.RawQuery, u.Fragment = "", ""
			err = &url.Error{Op: ue.Op, URL: u.String(), Err: ue.Err}
		}
	}
	fmt.Fprintf(c.stderr, "cli: %v\n", err)
	return exitFailure
}

// quoteArg quotes s for a POSIX shell when it needs quoting.
func quoteArg(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n'\"\\$`!*?[]{}()<>|&;#~") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
