package main

import (
	"strings"
	"unicode"
)

// Mutant is one single change to one source file: the bytes from Start to
// End of the original file are replaced by Replacement.
type Mutant struct {
	// ID numbers the mutant within the file set, starting at 1.
	ID int
	// File is the file's name as given on the command line.
	File string
	// Path is the file's absolute path, the key of the overlay.
	Path string
	// Line and Col locate the change in the original file.
	Line, Col int
	// Operator names the mutation operator that made the change.
	Operator string
	// Start and End are the byte offsets of the replaced text.
	Start, End int
	// Replacement is the text written in place of the original bytes.
	Replacement string
	// Original is the changed source line (or lines, joined) before the change.
	Original string
	// Mutated is the same line after the change.
	Mutated string
}

// apply returns a copy of src with the mutant's change made.
func (m Mutant) apply(src []byte) []byte {
	out := make([]byte, 0, len(src)-(m.End-m.Start)+len(m.Replacement))
	out = append(out, src[:m.Start]...)
	out = append(out, m.Replacement...)
	return append(out, src[m.End:]...)
}

// snippetContext is how many characters of the line a snippet keeps on
// each side of the change, and snippetChange how many of the change itself.
const (
	snippetContext = 40
	snippetChange  = 60
)

// snippets fills in the mutant's one-line Original and Mutated texts: the
// source line (or lines) that hold the change, whitespace collapsed, cut to
// a window around the change, before and after it.
func (m *Mutant) snippets(src []byte) {
	pre := collapse(string(src[lineStart(src, m.Start):m.Start]))
	post := collapse(string(src[m.End:lineEnd(src, m.End)]))
	if r := []rune(pre); len(r) > snippetContext {
		pre = "…" + string(r[len(r)-snippetContext:])
	}
	if r := []rune(post); len(r) > snippetContext {
		post = string(r[:snippetContext]) + "…"
	}
	m.Original = strings.TrimSpace(pre + cut(collapse(string(src[m.Start:m.End]))) + post)
	m.Mutated = strings.TrimSpace(pre + cut(collapse(m.Replacement)) + post)
	if m.Mutated == "" {
		m.Mutated = "<deleted>"
	}
}

// lineStart returns the offset of the first byte of the line holding offset.
func lineStart(src []byte, offset int) int {
	for offset > 0 && src[offset-1] != '\n' {
		offset--
	}
	return offset
}

// lineEnd returns the offset of the newline that ends the line holding
// offset, or len(src) on the last line.
func lineEnd(src []byte, offset int) int {
	for offset < len(src) && src[offset] != '\n' {
		offset++
	}
	return offset
}

// collapse replaces every run of white space in s by one space.
func collapse(s string) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		if unicode.IsSpace(r) {
			space = true
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	if space {
		b.WriteByte(' ')
	}
	return b.String()
}

// cut shortens the changed text s to snippetChange characters.
func cut(s string) string {
	if r := []rune(s); len(r) > snippetChange {
		return string(r[:snippetChange-1]) + "…"
	}
	return s
}
