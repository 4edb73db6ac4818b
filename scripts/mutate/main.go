// Command mutate is a small mutation tester for one Go package. It makes
// single-point changes (mutants) to the package's source files, runs the
// package's tests against each through go test -overlay, so that the source
// tree is never written, and reports the mutants that no test notices.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// usage is the one-line synopsis printed by -h.
const usage = "usage: mutate [-dir DIR] [-files a.go,b.go] [-list] [-only N,M-K] [-workers N] [-timeout D] [-run REGEXP] [-race] [-short] [-out FILE] [-v]"

// config holds the command-line settings.
type config struct {
	dir     string
	files   []string
	list    bool
	only    map[int]bool
	workers int
	timeout time.Duration
	run     string
	race    bool
	short   bool
	out     string
	verbose bool
}

// main runs the tool and exits non-zero on any error.
func main() {
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "mutate:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "mutate:", err)
		stop()
		os.Exit(1)
	}
}

// parseFlags reads the command line into a config.
func parseFlags(args []string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("mutate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, usage)
		fs.PrintDefaults()
	}
	var cfg config
	var files, only string
	fs.StringVar(&cfg.dir, "dir", ".", "the package directory")
	fs.StringVar(&files, "files", "", "comma-separated files of the package to mutate (default: all its non-test files)")
	fs.BoolVar(&cfg.list, "list", false, "print the mutants with their IDs and run nothing")
	fs.StringVar(&only, "only", "", "run only these mutant IDs, such as 3,7,10-12 (IDs depend on -files)")
	fs.IntVar(&cfg.workers, "workers", 1, "number of go test runs at once")
	fs.DurationVar(&cfg.timeout, "timeout", 0, "per-mutant timeout (default: 3x the baseline run, at least 60s)")
	fs.StringVar(&cfg.run, "run", "", "passed to go test -run")
	fs.BoolVar(&cfg.race, "race", false, "pass -race to go test")
	fs.BoolVar(&cfg.short, "short", false, "pass -short to go test (skips the package's long tests)")
	fs.StringVar(&cfg.out, "out", "", "also write the report to this file")
	fs.BoolVar(&cfg.verbose, "v", false, "print the go test output of every run")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments %q\n%s", fs.Args(), usage)
	}
	if cfg.workers < 1 {
		return config{}, errors.New("-workers must be at least 1")
	}
	for f := range strings.SplitSeq(files, ",") {
		if f = strings.TrimSpace(f); f != "" {
			cfg.files = append(cfg.files, f)
		}
	}
	var err error
	if cfg.only, err = parseIDs(only); err != nil {
		return config{}, err
	}
	return cfg, nil
}

// parseIDs reads a comma-separated list of mutant IDs and ID ranges (N-M);
// an empty list selects every mutant and returns nil.
func parseIDs(s string) (map[int]bool, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	ids := map[int]bool{}
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		from, err := strconv.Atoi(lo)
		to := from
		if err == nil && isRange {
			to, err = strconv.Atoi(hi)
		}
		if err != nil || from < 1 || to < from {
			return nil, fmt.Errorf("-only: bad mutant ID or range %q", part)
		}
		for id := from; id <= to; id++ {
			ids[id] = true
		}
	}
	return ids, nil
}

// run generates the mutants, runs the baseline and every selected mutant,
// and prints the report to stdout (progress goes to stderr).
func run(ctx context.Context, cfg config, stdout, stderr io.Writer) error {
	dir, err := filepath.Abs(cfg.dir)
	if err != nil {
		return err
	}
	files, err := packageFiles(dir, cfg.files)
	if err != nil {
		return err
	}
	mutants, sources, err := loadMutants(dir, files)
	if err != nil {
		return err
	}
	if cfg.only != nil {
		mutants = selectIDs(mutants, cfg.only)
		if len(mutants) == 0 {
			return errors.New("-only selects no mutant of this file set")
		}
	}
	if cfg.list {
		for _, m := range mutants {
			fmt.Fprintln(stdout, m.describe())
		}
		return nil
	}

	started := time.Now()
	tr := testRun{dir: dir, timeout: cfg.timeout}
	if cfg.run != "" {
		tr.flags = append(tr.flags, "-run="+cfg.run)
	}
	if cfg.short {
		tr.flags = append(tr.flags, "-short")
	}
	if cfg.race {
		tr.flags = append(tr.flags, "-race")
	}
	if tr.timeout == 0 {
		tr.timeout = 10 * time.Minute // for the baseline only
	}
	fmt.Fprintf(stderr, "baseline: go %s\n", strings.Join(tr.args(""), " "))
	base, err := tr.goTest(ctx, "")
	if err != nil {
		return err
	}
	if !base.passed {
		stderr.Write(base.output)
		return errors.New("the tests fail (or overrun) without any mutant; fix them first")
	}
	if cfg.timeout == 0 {
		tr.timeout = max(3*base.duration, time.Minute).Round(time.Second)
	}
	fmt.Fprintf(stderr, "baseline passed in %s; %d mutants, per-mutant timeout %s, %d worker(s)\n",
		base.duration.Round(100*time.Millisecond), len(mutants), tr.timeout, cfg.workers)

	outcomes, err := runAll(ctx, tr, cfg, mutants, sources, stderr)
	if err != nil {
		return err
	}
	rep := report{
		header: []string{
			"mutation report for " + dir,
			"files: " + strings.Join(files, " "),
			"command: go " + strings.Join(tr.args("OVERLAY"), " "),
			fmt.Sprintf("baseline: %s; per-mutant timeout: %s; workers: %d", base.duration.Round(100*time.Millisecond), tr.timeout, cfg.workers),
		},
		files:    files,
		mutants:  mutants,
		outcomes: outcomes,
		wall:     time.Since(started),
	}
	rep.write(stdout)
	if cfg.out != "" {
		f, err := os.Create(cfg.out)
		if err != nil {
			return err
		}
		rep.write(f)
		return f.Close()
	}
	return nil
}

// runAll runs the tests against every mutant with cfg.workers runs at once,
// printing one progress line per mutant, and returns the outcomes in the
// mutants' order.
func runAll(ctx context.Context, tr testRun, cfg config, mutants []Mutant, sources map[string][]byte, stderr io.Writer) ([]Outcome, error) {
	tmp, err := os.MkdirTemp("", "mutate-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)

	outcomes := make([]Outcome, len(mutants))
	jobs := make(chan int)
	var (
		mu      sync.Mutex
		done    int
		firstEr error
		wg      sync.WaitGroup
	)
	for range cfg.workers {
		wg.Go(func() {
			for i := range jobs {
				m := mutants[i]
				res, err := tr.runMutant(ctx, tmp, m, sources[m.File])
				mu.Lock()
				if err != nil {
					if firstEr == nil {
						firstEr = fmt.Errorf("mutant #%d: %w", m.ID, err)
					}
					mu.Unlock()
					continue
				}
				outcomes[i] = classify(res)
				done++
				fmt.Fprintf(stderr, "[%d/%d] #%d %s:%d:%d %s: %s (%s)\n", done, len(mutants),
					m.ID, m.File, m.Line, m.Col, m.Operator, outcomes[i], res.duration.Round(100*time.Millisecond))
				if cfg.verbose {
					stderr.Write(res.output)
				}
				mu.Unlock()
			}
		})
	}
	for i := range mutants {
		mu.Lock()
		stop := firstEr != nil
		mu.Unlock()
		if stop || ctx.Err() != nil {
			break
		}
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	if firstEr == nil {
		firstEr = ctx.Err()
	}
	return outcomes, firstEr
}
