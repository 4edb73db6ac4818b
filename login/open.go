package login

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"time"
)

// OpenBrowser opens url in the user's web browser, the default of
// [Browser.Open]: with rundll32's url.dll on Windows, open on macOS, and
// xdg-open elsewhere. It returns an error when the launcher is missing or
// fails, or, on Linux and the BSDs, when there is no graphical session
// (neither DISPLAY nor WAYLAND_DISPLAY is set), as over ssh; [Browser]
// then tells the user to open the URL it printed. The launcher is stopped
// if it has not returned when ctx ends; the browser it started is not.
func OpenBrowser(ctx context.Context, url string) error {
	name, args := browserCommand(runtime.GOOS, url)
	if name == "xdg-open" && os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
		return errors.New("login: no graphical session (DISPLAY and WAYLAND_DISPLAY are unset)")
	}
	return run(ctx, name, args...)
}

// browserCommand returns the launcher that opens url on goos.
func browserCommand(goos, url string) (name string, args []string) {
	switch goos {
	case "windows":
		return "rundll32", []string{"url.dll,FileProtocolHandler", url}
	case "darwin":
		return "open", []string{url}
	}
	return "xdg-open", []string{url}
}

// run runs a launcher and waits for it.
func run(ctx context.Context, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("login: %s: %w", name, err)
	}
	return nil
}

// opening is a call of Browser.Open, on a goroutine of its own.
type opening struct {
	done     chan error // receives Open's error
	stop     context.CancelFunc
	returned bool // done was received from
}

// startOpening calls open(ctx, target) on a new goroutine.
func startOpening(ctx context.Context, open func(context.Context, string) error, target string) *opening {
	ctx, stop := context.WithCancel(ctx)
	o := &opening{done: make(chan error, 1), stop: stop}
	go func() { o.done <- open(ctx, target) }()
	return o
}

// result returns the channel that delivers Open's error, or nil once the
// caller, having received from it, has set returned: a select waits on it
// once.
func (o *opening) result() <-chan error {
	if o.returned {
		return nil
	}
	return o.done
}

// end stops Open and waits for it to return. With grace, Open first gets
// pageGrace to return by itself: an Open that is the browser (a test's)
// may still be reading its page.
func (o *opening) end(grace bool) {
	if o.returned {
		o.stop()
		return
	}
	if grace {
		t := time.NewTimer(pageGrace)
		defer t.Stop()
		select {
		case <-o.done:
			o.stop()
			return
		case <-t.C:
		}
	}
	o.stop()
	<-o.done
}
