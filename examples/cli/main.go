// Command cli is a small command-line client that calls an API through an
// [authtransport.Transport], keeping its token in an
// [filestore.Store], so that any number of copies of it running at
// once share one login and refresh it once between them.
//
// Usage:
//
//	cli [flags] login        sign in (authorization code with PKCE)
//	cli [flags] get PATH     GET PATH on the server and print the body
//	cli [flags] logout       forget the stored token
//
// Flags:
//
//	-server URL          authorization server and API (default http://127.0.0.1:8765, the demo server)
//	-token-file PATH     token file (default <user config dir>/authtransport-example/token.json)
//	-client-id ID        OAuth client ID (default authtest-client)
//	-client-secret S     OAuth client secret (default $AUTHTRANSPORT_CLIENT_SECRET, else demo-secret)
//	-scope SCOPE         scope to ask for at login
//	-v                   log refreshes and retries to stderr
//
// login listens on a loopback port for the redirect (RFC 8252) and sends the
// authorization request with a PKCE challenge. A real tool would open that
// URL in the user's browser; the demo server approves every request at once,
// so this example fetches the URL itself.
//
// Exit status: 0 on success, 1 on failure (network, an HTTP error status, a
// token file it cannot access), 2 when the user must log in again (the
// message names the command), 64 for a usage error.
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/d5c4ca72/authtransport"
	"github.com/d5c4ca72/authtransport/filestore"
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
	code := runContext(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run runs the command line args and returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	return runContext(context.Background(), args, stdout, stderr)
}

// cli holds what the flags configured.
type cli struct {
	server    string
	tokenFile string
	cfg       *oauth2.Config
	verbose   bool
	loginHint string // the login command to suggest, with the flags given
	base      *http.Transport
	stdout    io.Writer
	stderr    io.Writer
}

func runContext(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("cli", flag.ContinueOnError)
	fs.SetOutput(stderr)
	server := fs.String("server", defaultServer, "authorization server and API `URL`")
	tokenFile := fs.String("token-file", "", "token file `path` (default <user config dir>/authtransport-example/token.json)")
	clientID := fs.String("client-id", defaultClientID, "OAuth client `ID`")
	secret := os.Getenv(secretEnv)
	if secret == "" {
		secret = defaultClientSecret
	}
	clientSecret := fs.String("client-secret", secret, "OAuth client `secret` (default $"+secretEnv+", else "+defaultClientSecret+")")
	scope := fs.String("scope", "", "`scope` to ask for at login")
	verbose := fs.Bool("v", false, "log refreshes and retries to stderr")
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: cli [flags] login | get PATH | logout\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return exitUsage
	}

	c := &cli{server: strings.TrimSuffix(*server, "/"), tokenFile: *tokenFile, verbose: *verbose, stdout: stdout, stderr: stderr}
	if c.tokenFile == "" {
		dir, err := os.UserConfigDir()
		if err != nil {
			fmt.Fprintf(stderr, "cli: no user config directory (%v); pass -token-file\n", err)
			return exitFailure
		}
		c.tokenFile = filepath.Join(dir, "authtransport-example", "token.json")
	}
	c.cfg = &oauth2.Config{
		ClientID:     *clientID,
		ClientSecret: *clientSecret,
		Endpoint: oauth2.Endpoint{
			AuthURL:   c.server + "/authorize",
			TokenURL:  c.server + "/token",
			AuthStyle: oauth2.AuthStyleInHeader,
		},
	}
	if *scope != "" {
		c.cfg.Scopes = strings.Fields(*scope)
	}
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

	// One HTTP transport for everything, closed at the end so that no
	// connection outlives the command.
	c.base = http.DefaultTransport.(*http.Transport).Clone()
	defer c.base.CloseIdleConnections()
	ctx = context.WithValue(ctx, oauth2.HTTPClient, &http.Client{Transport: c.base})

	store, err := filestore.New(c.tokenFile)
	if err != nil {
		fmt.Fprintf(stderr, "cli: %v\n", err)
		return exitFailure
	}
	switch cmd, rest := fs.Arg(0), fs.Args()[1:]; {
	case cmd == "login" && len(rest) == 0:
		return c.login(ctx, store)
	case cmd == "get" && len(rest) == 1:
		return c.get(ctx, store, rest[0])
	case cmd == "logout" && len(rest) == 0:
		return c.logout(ctx, store)
	}
	fs.Usage()
	return exitUsage
}

// login runs the authorization-code flow with PKCE and a loopback redirect,
// and saves the token.
func (c *cli) login(ctx context.Context, store *filestore.Store) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintf(c.stderr, "cli: listen for the login redirect: %v\n", err)
		return exitFailure
	}
	cfg := *c.cfg
	cfg.RedirectURL = "http://" + ln.Addr().String() + "/callback"
	state := randomState()
	verifier := oauth2.GenerateVerifier()

	type result struct {
		code string
		err  error
	}
	results := make(chan result, 1)
	srv := &http.Server{
		ReadHeaderTimeout: 10 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/callback" {
				http.NotFound(w, r)
				return
			}
			q := r.URL.Query()
			var res result
			switch {
			case q.Get("state") != state:
				res.err = errors.New("the login redirect carried the wrong state")
			case q.Get("error") != "":
				res.err = fmt.Errorf("the server refused the login: %s", q.Get("error"))
			case q.Get("code") == "":
				res.err = errors.New("the login redirect carried no code")
			default:
				res.code = q.Get("code")
			}
			if res.err != nil {
				http.Error(w, "Login failed; see the terminal.", http.StatusBadRequest)
			} else {
				fmt.Fprintln(w, "You are logged in; you may close this window.")
			}
			select {
			case results <- res:
			default:
			}
		}),
	}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	authURL := cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier))
	fmt.Fprintf(c.stdout, "Opening %s to sign in.\n", cfg.Endpoint.AuthURL)
	fmt.Fprintln(c.stdout, "(A real tool would open it in your browser; the demo server approves at once, so cli fetches it itself.)")
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, authURL, nil)
	if err != nil {
		fmt.Fprintf(c.stderr, "cli: %v\n", err)
		return exitFailure
	}
	resp, err := (&http.Client{Transport: c.base}).Do(req)
	if err != nil {
		fmt.Fprintf(c.stderr, "cli: authorization request: %v\n", redactURLError(err))
		return exitFailure
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()

	var res result
	select {
	case res = <-results:
	default:
		fmt.Fprintf(c.stderr, "cli: the authorization server did not redirect back (status %d)\n", resp.StatusCode)
		return exitFailure
	}
	if res.err != nil {
		fmt.Fprintf(c.stderr, "cli: %v\n", res.err)
		return exitFailure
	}
	ot, err := cfg.Exchange(ctx, res.code, oauth2.VerifierOption(verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.ErrorCode != "" {
			fmt.Fprintf(c.stderr, "cli: the token endpoint refused the login: %s\n", re.ErrorCode)
		} else {
			fmt.Fprintf(c.stderr, "cli: token request failed: %v\n", redactURLError(err))
		}
		return exitFailure
	}
	if err := store.Save(ctx, authtransport.TokenFromOAuth2(ot)); err != nil {
		fmt.Fprintf(c.stderr, "cli: %v\n", err)
		return exitFailure
	}
	fmt.Fprintf(c.stdout, "Logged in. Token saved to %s\n", store.Path())
	return exitOK
}

// get sends GET path through the Transport and prints the body.
func (c *cli) get(ctx context.Context, store *filestore.Store, path string) int {
	tr := &authtransport.Transport{
		Base:      c.base,
		Store:     store,
		Refresher: authtransport.NewOAuth2Refresher(c.cfg),
	}
	if c.verbose {
		tr.Logger = slog.New(slog.NewTextHandler(c.stderr, nil))
	}
	target := c.server + "/" + strings.TrimPrefix(path, "/")
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
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
		fmt.Fprintf(c.stderr, "cli: reading the response: %v\n", err)
		return exitFailure
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
		login   *authtransport.LoginRequiredError
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
	case errors.As(err, &login):
		what := login.Reason.String()
		switch login.Reason {
		case authtransport.ReasonNoToken:
			what = "you are not logged in"
		case authtransport.ReasonRefreshRejected:
			what = "your session has ended (the server refused to refresh the token)"
		}
		fmt.Fprintf(c.stderr, "cli: login required: %s.\n%s\n", what, again)
	default:
		fmt.Fprintf(c.stderr, "cli: %v\n", redactURLError(err))
		return exitFailure
	}
	return exitLoginRequired
}

// logout removes the token file.
func (c *cli) logout(ctx context.Context, store *filestore.Store) int {
	if err := store.Save(ctx, nil); err != nil {
		fmt.Fprintf(c.stderr, "cli: %v\n", err)
		return exitFailure
	}
	fmt.Fprintf(c.stdout, "Logged out. Removed %s\n", store.Path())
	return exitOK
}

// redactURLError drops the query string from the URL of a [*url.Error],
// which may carry the authorization request's state or a code.
func redactURLError(err error) error {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err
	}
	u, perr := url.Parse(ue.URL)
	if perr != nil {
		return ue.Err
	}
	u.RawQuery, u.Fragment = "", ""
	return &url.Error{Op: ue.Op, URL: u.String(), Err: ue.Err}
}

// quoteArg quotes s for a POSIX shell when it needs quoting.
func quoteArg(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n'\"\\$`!*?[]{}()<>|&;#~") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// randomState returns an unguessable state parameter.
func randomState() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
