package main

import (
	"go/parser"
	"go/token"
	"slices"
	"strings"
	"testing"
)

// The function that wraps each test body; mutants only change the body.
const (
	bodyPrefix = "package p\n\nfunc f() {\n"
	bodySuffix = "\n}\n"
)

// mutatedBodies generates the mutants of body wrapped in a function and
// returns, for those of operator op, the mutated body with white space
// collapsed, in generation order.
func mutatedBodies(t *testing.T, body, op string) []string {
	t.Helper()
	src := []byte(bodyPrefix + body + bodySuffix)
	ms, err := generate("p.go", src)
	if err != nil {
		t.Fatalf("generate: %v", err)
	}
	var out []string
	for _, m := range ms {
		if m.Operator != op {
			continue
		}
		got := string(m.apply(src))
		if !strings.HasPrefix(got, bodyPrefix) || !strings.HasSuffix(got, bodySuffix) {
			t.Fatalf("mutant %+v changed code outside the body:\n%s", m, got)
		}
		got = strings.TrimSuffix(strings.TrimPrefix(got, bodyPrefix), bodySuffix)
		out = append(out, strings.TrimSpace(collapse(got)))
	}
	return out
}

// TestOperators checks, operator by operator, which mutants each statement
// gets and what they look like. Mutants at one position come sorted by
// their replacement text.
func TestOperators(t *testing.T) {
	tests := []struct {
		name string
		op   string
		body string
		want []string
	}{
		{"less than", opRelational, "x = a < b", []string{"x = a <= b", "x = a > b"}},
		{"less or equal", opRelational, "x = a <= b", []string{"x = a < b", "x = a >= b"}},
		{"greater than", opRelational, "x = a > b", []string{"x = a < b", "x = a >= b"}},
		{"greater or equal", opRelational, "x = a >= b", []string{"x = a <= b", "x = a > b"}},
		{"equal", opRelational, "x = a == b", []string{"x = a != b"}},
		{"not equal", opRelational, "x = a != b", []string{"x = a == b"}},
		{"and", opLogical, "x = a && b", []string{"x = a || b"}},
		{"or", opLogical, "x = a || b", []string{"x = a && b"}},
		{"nested logic", opLogical, "x = a && (b || c)", []string{"x = a || (b || c)", "x = a && (b && c)"}},
		{"if condition", opNegateCond, "if a == b { g() }", []string{"if !(a == b) { g() }"}},
		{"if condition after init", opNegateCond, "if err := g(); err != nil { h() }", []string{"if err := g(); !(err != nil) { h() }"}},
		{"for condition", opNegateCond, "for i < n { g() }", []string{"for !(i < n) { g() }"}},
		{"for without condition", opNegateCond, "for { g() }", nil},
		{"range loop", opNegateCond, "for range xs { g() }", nil},
		{"drop not", opDropNot, "x = !a && !g(b)", []string{"x = a && !g(b)", "x = !a && g(b)"}},
		{"negative number is no not", opDropNot, "x = -a", nil},
		{"true", opBool, "x = true", []string{"x = false"}},
		{"false", opBool, "g(false)", []string{"g(true)"}},
		{"field named true", opBool, "x = s.true", nil},
		{"zero", opInt, "x = 0", []string{"x = 1"}},
		{"one", opInt, "x = 1", []string{"x = 0", "x = 2"}},
		{"five", opInt, "x = 5", []string{"x = 0", "x = 4", "x = 6"}},
		{"hex", opInt, "x = 0x10", []string{"x = 0", "x = 15", "x = 17"}},
		{"underscores", opInt, "x = 1_000", []string{"x = 0", "x = 1001", "x = 999"}},
		{"too large", opInt, "x = 18446744073709551615", nil},
		{"float left alone", opInt, "x = 1.5", nil},
		{"plus", opArith, "x = a + b", []string{"x = a - b"}},
		{"minus", opArith, "x = a - b", []string{"x = a + b"}},
		{"times", opArith, "x = a * b", []string{"x = a / b"}},
		{"divide", opArith, "x = a / b", []string{"x = a * b"}},
		{"string concatenation", opArith, `x = "a" + b + c`, nil},
		{"concatenation in parens", opArith, `x = a + (b + "c")`, nil},
		{"pointer type is no product", opArith, "var p *T; g(p)", nil},
		{"plus assign", opAssignOp, "x += 2", []string{"x -= 2"}},
		{"divide assign", opAssignOp, "x /= 2", []string{"x *= 2"}},
		{"call", opDelete, "g(); h()", []string{"; h()", "g();"}},
		{"assignment", opDelete, "x = 1", []string{""}},
		{"multiple assignment", opDelete, "x, _ = g()", []string{""}},
		{"inc and dec", opDelete, "i++; j--", []string{"; j--", "i++;"}},
		{"defer and go", opDelete, "defer g(); go h()", []string{"; go h()", "defer g();"}},
		{"send", opDelete, "ch <- 1", []string{""}},
		{"if without else", opDelete, "if a { g() }", []string{"", "if a { }"}},
		{"if with else", opDelete, "if a { g() } else { h() }", []string{"if a { } else { h() }", "if a { g() } else { }"}},
		{"case clause", opDelete, "switch { case a: g() }", []string{"switch { case a: }"}},
		{"select clause", opDelete, "select { case <-ch: g() }", []string{"select { case <-ch: }"}},
		{"short variable declaration", opDelete, "x := g()", nil},
		{"var declaration", opDelete, "var x int", nil},
		{"blank assignment", opDelete, "_ = x", nil},
		{"return", opDelete, "return", nil},
		{"for loop post statement", opDelete, "for i := 0; i < n; i++ {}", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mutatedBodies(t, tt.body, tt.op)
			if !slices.Equal(got, tt.want) {
				t.Errorf("%s mutants of %q:\n got %q\nwant %q", tt.op, tt.body, got, tt.want)
			}
		})
	}
}

// TestDeclarationsLeftAlone checks that imports and types are not mutated,
// while constants and package-level variables are.
func TestDeclarationsLeftAlone(t *testing.T) {
	src := []byte("package p\n\nimport \"fmt\"\n\ntype T [2]int\n\nconst n = 3\n\nvar v = n > 1\n\nvar _ = fmt.Sprint\n")
	ms, err := generate("p.go", src)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range ms {
		got = append(got, m.Operator+" "+m.Mutated)
	}
	want := []string{
		"int-literal const n = 0", "int-literal const n = 2", "int-literal const n = 4",
		"relational var v = n < 1", "relational var v = n >= 1",
		"int-literal var v = n > 0", "int-literal var v = n > 2",
	}
	if !slices.Equal(got, want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

// sample is a file that exercises every operator; every mutant of it must
// still parse.
const sample = `package p

import "strings"

func f(a, b int, s string, ok bool) (int, error) {
	if a < b && !ok || strings.HasPrefix(s, "x") {
		a += 2
		defer g()
	}
	for i := 0; i < b*2; i++ {
		go g()
		a = a - i/3
	}
	switch {
	case ok == true:
		g()
	}
	return a, nil
}

func g() {}
`

// TestMutantsParseAndAreStable checks that every mutant of a sample file
// still parses, that generation is repeatable, and that mutants come in
// source order.
func TestMutantsParseAndAreStable(t *testing.T) {
	src := []byte(sample)
	first, err := generate("p.go", src)
	if err != nil {
		t.Fatal(err)
	}
	again, err := generate("p.go", src)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(first, again) {
		t.Fatal("two generations of the same file differ")
	}
	ops := map[string]bool{}
	for i, m := range first {
		ops[m.Operator] = true
		if i > 0 && m.Start < first[i-1].Start {
			t.Errorf("mutant %d (offset %d) comes after one at offset %d", i, m.Start, first[i-1].Start)
		}
		if _, err := parser.ParseFile(token.NewFileSet(), "p.go", m.apply(src), 0); err != nil {
			t.Errorf("%s mutant at %d:%d does not parse: %v", m.Operator, m.Line, m.Col, err)
		}
	}
	for _, op := range []string{opRelational, opLogical, opNegateCond, opDropNot, opBool, opInt, opArith, opAssignOp, opDelete} {
		if !ops[op] {
			t.Errorf("no %s mutant of the sample", op)
		}
	}
}

// TestSnippets checks the one-line before and after texts of a report line.
func TestSnippets(t *testing.T) {
	long := "\tif " + strings.Repeat("aaaa && ", 20) + "b == c {\n\t\tg()\n\t}"
	tests := []struct {
		name          string
		body          string
		op            string
		original, mut string
	}{
		{"short line", "\tx = a  <  b", opRelational, "x = a < b", "x = a <= b"},
		{"deleted call", "\tg()", opDelete, "g()", "<deleted>"},
		{"window around change", long, opRelational, "…aa && aaaa && aaaa && aaaa && aaaa && b == c {", "…aa && aaaa && aaaa && aaaa && aaaa && b != c {"},
		{"long change cut", long, opNegateCond, "if aaaa && aaaa && aaaa && aaaa && aaaa && aaaa && aaaa && aaa… {", "if !(aaaa && aaaa && aaaa && aaaa && aaaa && aaaa && aaaa && a… {"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := []byte(bodyPrefix + tt.body + bodySuffix)
			ms, err := generate("p.go", src)
			if err != nil {
				t.Fatal(err)
			}
			i := slices.IndexFunc(ms, func(m Mutant) bool { return m.Operator == tt.op })
			if i < 0 {
				t.Fatalf("no %s mutant", tt.op)
			}
			if ms[i].Original != tt.original || ms[i].Mutated != tt.mut {
				t.Errorf("got  %q → %q\nwant %q → %q", ms[i].Original, ms[i].Mutated, tt.original, tt.mut)
			}
		})
	}
}
