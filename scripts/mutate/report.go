package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// tally counts the outcomes of the mutants of one file, or of all files.
type tally struct {
	tried, killed, survived, timedOut, buildFailed int
}

// add counts one outcome.
func (t *tally) add(o Outcome) {
	t.tried++
	switch o {
	case Killed:
		t.killed++
	case Survived:
		t.survived++
	case TimedOut:
		t.timedOut++
	case BuildFailed:
		t.buildFailed++
	}
}

// score returns the share of counted mutants (those that compiled) that the
// tests killed, timeouts included, as a percentage; and whether any counted.
func (t tally) score() (float64, bool) {
	counted := t.tried - t.buildFailed
	if counted == 0 {
		return 0, false
	}
	return 100 * float64(t.killed+t.timedOut) / float64(counted), true
}

// report is everything the final report prints.
type report struct {
	header   []string  // settings of the run, one line each
	files    []string  // the file set, in command-line order
	mutants  []Mutant  // the mutants that were run
	outcomes []Outcome // outcomes[i] is that of mutants[i]
	wall     time.Duration
}

// write prints the report: the settings, the table per file with totals,
// the mutation score, then every survivor and every timeout.
func (r report) write(w io.Writer) {
	for _, h := range r.header {
		fmt.Fprintln(w, h)
	}
	fmt.Fprintf(w, "wall time: %s\n\n", r.wall.Round(time.Second))

	perFile := map[string]*tally{}
	for _, f := range r.files {
		perFile[f] = &tally{}
	}
	var total tally
	for i, m := range r.mutants {
		perFile[m.File].add(r.outcomes[i])
		total.add(r.outcomes[i])
	}
	width := len("TOTAL")
	for _, f := range r.files {
		width = max(width, len(f))
	}
	row := func(name string, t tally) {
		fmt.Fprintf(w, "%-*s  %6d  %6d  %8d  %7d  %12d\n", width, name, t.tried, t.killed, t.survived, t.timedOut, t.buildFailed)
	}
	fmt.Fprintf(w, "%-*s  %6s  %6s  %8s  %7s  %12s\n", width, "file", "tried", "killed", "survived", "timeout", "build-failed")
	for _, f := range r.files {
		row(f, *perFile[f])
	}
	row("TOTAL", total)
	if s, ok := total.score(); ok {
		fmt.Fprintf(w, "\nmutation score: %.1f%% (killed+timeout of the %d mutants that compiled)\n", s, total.tried-total.buildFailed)
	}

	r.list(w, "survivors", Survived)
	r.list(w, "timeouts (counted as killed)", TimedOut)
}

// list prints, under a title, one line for every mutant with outcome o.
func (r report) list(w io.Writer, title string, o Outcome) {
	var lines []string
	for i, m := range r.mutants {
		if r.outcomes[i] == o {
			lines = append(lines, m.describe())
		}
	}
	fmt.Fprintf(w, "\n%s: %d\n", title, len(lines))
	if len(lines) > 0 {
		fmt.Fprintln(w, strings.Join(lines, "\n"))
	}
}

// describe returns the mutant's report line: where, which operator, the
// line before and after, and the ID to pass to -only.
func (m Mutant) describe() string {
	return fmt.Sprintf("%s:%d:%d  %s  %s → %s  [#%d]", m.File, m.Line, m.Col, m.Operator, m.Original, m.Mutated, m.ID)
}
