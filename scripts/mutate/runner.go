package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Outcome is what running the tests against one mutant showed.
type Outcome int

// The outcomes of a mutant's test run.
const (
	Killed      Outcome = iota // the tests failed
	Survived                   // the tests passed
	TimedOut                   // the run overran its timeout; counts as killed
	BuildFailed                // the mutant did not compile; not counted
)

// String returns the outcome's name as printed in reports.
func (o Outcome) String() string {
	switch o {
	case Killed:
		return "killed"
	case Survived:
		return "survived"
	case TimedOut:
		return "timeout"
	case BuildFailed:
		return "build-failed"
	}
	return "outcome(" + strconv.Itoa(int(o)) + ")"
}

// testRun says how to run the package's tests: where, with which extra go
// test flags, and within how long.
type testRun struct {
	dir     string
	flags   []string // -run, -race and -short, passed through
	timeout time.Duration
}

// args returns the go test arguments of one run, with overlay naming the
// overlay file, or none when it is empty.
func (r testRun) args(overlay string) []string {
	args := []string{"test", "-count=1", "-failfast", "-vet=off", "-timeout=" + r.timeout.String()}
	if overlay != "" {
		args = append(args, "-overlay="+overlay)
	}
	args = append(args, r.flags...)
	return append(args, ".")
}

// result is the raw end of one go test run.
type result struct {
	passed   bool // go test exited with status 0
	overran  bool // it was killed at the timeout
	output   []byte
	duration time.Duration
}

// goTest runs go test once with the given overlay file (none if empty),
// killing its whole process group if it overruns r.timeout.
func (r testRun) goTest(ctx context.Context, overlay string) (result, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", r.args(overlay)...)
	cmd.Dir = r.dir
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	ownProcessGroup(cmd)
	cmd.WaitDelay = 10 * time.Second
	start := time.Now()
	err := cmd.Run()
	res := result{output: out.Bytes(), duration: time.Since(start)}
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		res.overran = true
		return res, nil
	case ctx.Err() != nil:
		return res, ctx.Err() // the whole tool was interrupted
	}
	var exit *exec.ExitError
	switch {
	case err == nil:
		res.passed = true
	case errors.As(err, &exit):
	default:
		return res, err // go itself could not be started, or we were interrupted
	}
	return res, nil
}

// classify turns the end of a mutant's test run into its outcome.
func classify(r result) Outcome {
	switch {
	case r.overran:
		return TimedOut
	case r.passed:
		return Survived
	}
	sawFail := false
	sc := bufio.NewScanner(bytes.NewReader(r.output))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "FAIL") && (strings.HasSuffix(line, "[build failed]") || strings.HasSuffix(line, "[setup failed]")):
			return BuildFailed
		case strings.HasPrefix(line, "panic: test timed out after"):
			return TimedOut
		case strings.HasPrefix(line, "FAIL"), strings.HasPrefix(line, "--- FAIL"):
			sawFail = true
		}
	}
	if !sawFail {
		return BuildFailed // go test failed before any test ran
	}
	return Killed
}

// writeOverlay writes the mutated source of m and the overlay file that
// puts it in place of the original into dir, and returns the overlay's path.
func writeOverlay(dir string, m Mutant, mutated []byte) (string, error) {
	file := filepath.Join(dir, filepath.Base(m.Path))
	if err := os.WriteFile(file, mutated, 0o600); err != nil {
		return "", err
	}
	data, err := json.Marshal(struct {
		Replace map[string]string
	}{map[string]string{m.Path: file}})
	if err != nil {
		return "", err
	}
	overlay := filepath.Join(dir, "overlay.json")
	if err := os.WriteFile(overlay, data, 0o600); err != nil {
		return "", err
	}
	return overlay, nil
}

// runMutant runs the tests against one mutant, whose files live in a fresh
// directory under tmp for the length of the run.
func (r testRun) runMutant(ctx context.Context, tmp string, m Mutant, src []byte) (result, error) {
	dir := filepath.Join(tmp, fmt.Sprintf("m%d", m.ID))
	if err := os.Mkdir(dir, 0o700); err != nil {
		return result{}, err
	}
	defer os.RemoveAll(dir)
	overlay, err := writeOverlay(dir, m, m.apply(src))
	if err != nil {
		return result{}, err
	}
	return r.goTest(ctx, overlay)
}
