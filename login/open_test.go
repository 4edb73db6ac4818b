package login

import (
	"os/exec"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBrowserCommand(t *testing.T) {
	const u = "https://as.example/authorize?state=x&code_challenge=y"
	tests := []struct {
		goos     string
		wantName string
		wantArgs []string
	}{
		{"windows", "rundll32", []string{"url.dll,FileProtocolHandler", u}},
		{"darwin", "open", []string{u}},
		{"linux", "xdg-open", []string{u}},
		{"freebsd", "xdg-open", []string{u}},
	}
	for _, tt := range tests {
		t.Run(tt.goos, func(t *testing.T) {
			name, args := browserCommand(tt.goos, u)
			assert.Equal(t, tt.wantName, name)
			assert.Equal(t, tt.wantArgs, args, "the URL is one argument, never parsed by a shell")
		})
	}
}

func TestOpenBrowserHeadless(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "darwin" {
		t.Skip("xdg-open platforms only")
	}
	t.Setenv("DISPLAY", "")
	t.Setenv("WAYLAND_DISPLAY", "")
	err := OpenBrowser(t.Context(), "https://as.example/")
	assert.ErrorContains(t, err, "no graphical session", "no launcher is started without a display")
}

func TestRunLauncher(t *testing.T) {
	if _, err := exec.LookPath("true"); err != nil {
		t.Skip("no true(1)")
	}
	require.NoError(t, run(t.Context(), "true"), "a launcher that succeeds")
	assert.ErrorContains(t, run(t.Context(), "false"), "login: false: exit status 1", "a launcher that fails")
	assert.ErrorContains(t, run(t.Context(), "no-such-launcher-here"), "login: no-such-launcher-here", "a missing launcher")
}
