package main

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestClassify checks how the end of a go test run maps to an outcome.
func TestClassify(t *testing.T) {
	tests := []struct {
		name string
		res  result
		want Outcome
	}{
		{"passed", result{passed: true, output: []byte("ok  \tp\t0.1s\n")}, Survived},
		{"overran", result{overran: true}, TimedOut},
		{"test failed", result{output: []byte("--- FAIL: TestX (0.00s)\nFAIL\nFAIL\tp\t0.1s\n")}, Killed},
		{"test binary exited", result{output: []byte("FAIL\tp\t0.1s\n")}, Killed},
		{"compile error", result{output: []byte("# p\n./a.go:3:2: declared and not used: x\nFAIL\tp [build failed]\n")}, BuildFailed},
		{"setup error", result{output: []byte("FAIL\tp [setup failed]\n")}, BuildFailed},
		{"go test's own timeout", result{output: []byte("panic: test timed out after 1m0s\n\trunning tests:\nFAIL\tp\t60.0s\n")}, TimedOut},
		{"go command error", result{output: []byte("go: cannot find main module\n")}, BuildFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := classify(tt.res); got != tt.want {
				t.Errorf("classify = %s, want %s", got, tt.want)
			}
		})
	}
}

// TestParseIDs checks the -only syntax.
func TestParseIDs(t *testing.T) {
	tests := []struct {
		in      string
		want    []int
		wantErr bool
	}{
		{in: "", want: nil},
		{in: "3", want: []int{3}},
		{in: "3, 7,10-12", want: []int{3, 7, 10, 11, 12}},
		{in: "0", wantErr: true},
		{in: "5-2", wantErr: true},
		{in: "x", wantErr: true},
		{in: "1,,2", wantErr: true},
	}
	for _, tt := range tests {
		got, err := parseIDs(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("parseIDs(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if ids := slices.Sorted(maps.Keys(got)); !slices.Equal(ids, tt.want) {
			t.Errorf("parseIDs(%q) = %v, want %v", tt.in, ids, tt.want)
		}
	}
}

// TestWriteOverlay checks that the overlay maps the original path to the
// mutated copy, and that the original is not touched.
func TestWriteOverlay(t *testing.T) {
	dir := t.TempDir()
	orig := filepath.Join(dir, "a.go")
	if err := os.WriteFile(orig, []byte("package a\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	overlay, err := writeOverlay(tmp, Mutant{Path: orig}, []byte("package b\n"))
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(overlay)
	if err != nil {
		t.Fatal(err)
	}
	var o struct{ Replace map[string]string }
	if err := json.Unmarshal(data, &o); err != nil {
		t.Fatal(err)
	}
	copyPath, ok := o.Replace[orig]
	if !ok || len(o.Replace) != 1 {
		t.Fatalf("overlay %s does not map only %s", data, orig)
	}
	if got, _ := os.ReadFile(copyPath); string(got) != "package b\n" {
		t.Errorf("mutated copy holds %q", got)
	}
	if got, _ := os.ReadFile(orig); string(got) != "package a\n" {
		t.Errorf("original now holds %q", got)
	}
}

// TestReport checks the table, the totals and the survivor lines.
func TestReport(t *testing.T) {
	m := func(id int, file string) Mutant {
		return Mutant{ID: id, File: file, Line: id, Col: 2, Operator: opRelational, Original: "a < b", Mutated: "a <= b"}
	}
	r := report{
		files:    []string{"a.go", "b.go"},
		mutants:  []Mutant{m(1, "a.go"), m(2, "a.go"), m(3, "b.go"), m(4, "b.go"), m(5, "b.go")},
		outcomes: []Outcome{Killed, Survived, TimedOut, BuildFailed, Killed},
	}
	var buf bytes.Buffer
	r.write(&buf)
	out := buf.String()
	for _, want := range []string{
		"file    tried  killed  survived  timeout  build-failed\n",
		"a.go        2       1         1        0             0\n",
		"b.go        3       1         0        1             1\n",
		"TOTAL       5       2         1        1             1\n",
		"mutation score: 75.0% (killed+timeout of the 4 mutants that compiled)\n",
		"survivors: 1\na.go:2:2  relational  a < b → a <= b  [#2]\n",
		"timeouts (counted as killed): 1\nb.go:3:2  relational  a < b → a <= b  [#3]\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

// TestGoTestEndToEnd builds a tiny module and runs real go test runs: an
// unmutated baseline that passes, a mutant that the test kills, one that
// survives, one that does not compile, and one that hangs and is killed at
// the timeout.
func TestGoTestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	dir := t.TempDir()
	files := map[string]string{
		"go.mod":    "module m\n\ngo 1.25.0\n",
		"m.go":      "package m\n\nimport \"time\"\n\n// Less reports whether a < b.\nfunc Less(a, b int) bool {\n\tfor a == -1 {\n\t\ttime.Sleep(time.Second)\n\t}\n\treturn a < b\n}\n",
		"m_test.go": "package m\n\nimport \"testing\"\n\nfunc TestLess(t *testing.T) {\n\tif !Less(1, 2) || Less(2, 1) {\n\t\tt.Fatal(\"wrong\")\n\t}\n}\n",
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	src := []byte(files["m.go"])
	ms, err := generate("m.go", src)
	if err != nil {
		t.Fatal(err)
	}
	pick := func(op, mutated string) Mutant {
		for i, m := range ms {
			if m.Operator == op && m.Mutated == mutated {
				m.ID, m.Path = i+1, filepath.Join(dir, "m.go")
				return m
			}
		}
		t.Fatalf("no %s mutant %q among %v", op, mutated, ms)
		return Mutant{}
	}
	tr := testRun{dir: dir, timeout: time.Minute}
	ctx := context.Background()
	base, err := tr.goTest(ctx, "")
	if err != nil || !base.passed {
		t.Fatalf("baseline: %v\n%s", err, base.output)
	}
	tmp := t.TempDir()
	tests := []struct {
		mutant  Mutant
		timeout time.Duration
		want    Outcome
	}{
		{pick(opRelational, "return a > b"), time.Minute, Killed},
		{pick(opRelational, "return a <= b"), time.Minute, Survived},
		{pick(opDelete, "<deleted>"), time.Minute, BuildFailed}, // time is no longer used
		{pick(opRelational, "for a != -1 {"), 5 * time.Second, TimedOut},
	}
	for _, tt := range tests {
		tr.timeout = tt.timeout
		start := time.Now()
		res, err := tr.runMutant(ctx, tmp, tt.mutant, src)
		if err != nil {
			t.Fatalf("%s: %v", tt.mutant.describe(), err)
		}
		if got := classify(res); got != tt.want {
			t.Errorf("%s: %s, want %s\n%s", tt.mutant.describe(), got, tt.want, res.output)
		}
		// Had only go test been killed, the test binary would hold the
		// output pipe open until the WaitDelay of 10 s.
		if tt.want == TimedOut && time.Since(start) > tt.timeout+5*time.Second {
			t.Errorf("the hanging run took %s to be stopped: its process group outlived the kill", time.Since(start))
		}
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "m.go")); string(got) != files["m.go"] {
		t.Error("the package's source file was changed")
	}
	if entries, _ := os.ReadDir(tmp); len(entries) != 0 {
		t.Errorf("mutant directories left behind: %v", entries)
	}
}
