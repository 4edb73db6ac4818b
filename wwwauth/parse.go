package wwwauth

import (
	"strconv"
	"strings"
)

// Param is one auth-param of a [Challenge]: its name as the server wrote it
// and its value, unquoted and unescaped when it was a quoted-string.
type Param struct {
	// Name is the parameter's name as the server spelled it; names are
	// case-insensitive, so look parameters up with [Challenge.Param].
	Name string
	// Value is the parameter's value, unquoted and unescaped.
	Value string
}

// Challenge is one challenge of a WWW-Authenticate or Proxy-Authenticate
// field (RFC 9110 §11.2–11.3). A challenge carries either a Token68 or a
// list of Params, never both.
//
// The strings of a parsed Challenge are substrings of the parsed field
// values, except for values that had to be unescaped.
type Challenge struct {
	// Scheme is the auth-scheme as the server spelled it; schemes are
	// case-insensitive, so compare with [Challenge.IsScheme].
	Scheme string
	// Token68 is the token68 form of the challenge's data, padding included,
	// or empty.
	Token68 string
	// Params are the auth-params in the order the server sent them, each
	// name at most once (case-insensitively), or nil.
	Params []Param
}

// Param returns the value of the named parameter, whose name is compared
// case-insensitively, and whether the challenge has it.
func (c Challenge) Param(name string) (string, bool) {
	for _, p := range c.Params {
		if strings.EqualFold(p.Name, name) {
			return p.Value, true
		}
	}
	return "", false
}

// IsScheme reports whether the challenge's auth-scheme is scheme, compared
// case-insensitively as RFC 9110 §11.1 requires.
func (c Challenge) IsScheme(scheme string) bool {
	return strings.EqualFold(c.Scheme, scheme)
}

// String returns the challenge in a canonical form: the scheme, then either
// the token68 or every parameter as name="value" (always a quoted-string,
// with '"' and '\' escaped), separated by ", ". Parsing the result with
// [Parse] gives back the same challenge. That holds for every
// challenge Parse returns; a Challenge built by hand must have a
// token scheme and names, a valid token68, and values without control
// characters other than HTAB. When both Token68 and Params are set, only
// Token68 is written.
func (c Challenge) String() string {
	n := len(c.Scheme) + 1 + len(c.Token68)
	for _, p := range c.Params {
		n += len(p.Name) + len(p.Value) + 5
	}
	var b strings.Builder
	b.Grow(n)
	b.WriteString(c.Scheme)
	if c.Token68 != "" {
		b.WriteByte(' ')
		b.WriteString(c.Token68)
		return b.String()
	}
	for i, p := range c.Params {
		if i == 0 {
			b.WriteByte(' ')
		} else {
			b.WriteString(", ")
		}
		b.WriteString(p.Name)
		b.WriteString(`="`)
		for j := 0; j < len(p.Value); j++ {
			if ch := p.Value[j]; ch == '"' || ch == '\\' {
				b.WriteByte('\\')
			}
			b.WriteByte(p.Value[j])
		}
		b.WriteByte('"')
	}
	return b.String()
}

// ParseError is the error [Parse] returns when some part
// of the field values is malformed. It lists every problem found; the
// well-formed challenges around them are still returned.
type ParseError struct {
	// Problems holds at least one problem, in input order.
	Problems []Problem
}

// Problem is one malformed part of the field values given to
// [Parse].
type Problem struct {
	// Line is the index, counted from 0, of the field line (argument of
	// Parse) in which the problem is.
	Line int
	// Offset is the byte offset, counted from 0, of the problem in that line.
	Offset int
	// Scheme is the auth-scheme of the challenge that was dropped because
	// of this problem, or empty when the problem lies outside any challenge
	// (a stray parameter or junk between challenges) and nothing was dropped.
	Scheme string
	// Reason says what was wrong, in a few words.
	Reason string
}

// Error describes the first problem (its line counted from 1, as people
// count) and how many others there are. It quotes no part of the input.
func (e *ParseError) Error() string {
	if len(e.Problems) == 0 {
		return "wwwauth: malformed challenge"
	}
	p := e.Problems[0]
	var b strings.Builder
	b.WriteString("wwwauth: malformed challenge at field line ")
	b.WriteString(strconv.Itoa(p.Line + 1))
	b.WriteString(", byte ")
	b.WriteString(strconv.Itoa(p.Offset))
	b.WriteString(": ")
	b.WriteString(p.Reason)
	if n := len(e.Problems) - 1; n > 0 {
		b.WriteString(" (and ")
		b.WriteString(strconv.Itoa(n))
		b.WriteString(" more)")
	}
	return b.String()
}

// The reasons a Problem gives.
const (
	reasonJunk            = "expected an auth-scheme or an auth-param"
	reasonStrayParam      = "auth-param not inside a challenge that takes auth-params"
	reasonNoSpace         = "auth-scheme not followed by a space"
	reasonWantParam       = "expected an auth-param or a token68"
	reasonWantEquals      = "expected \"=\" after the auth-param name"
	reasonWantValue       = "expected a token or a quoted-string as the auth-param value"
	reasonWantComma       = "expected \",\" after the auth-param"
	reasonDuplicate       = "auth-param name repeated in one challenge"
	reasonBadQuotedChar   = "control character in a quoted-string"
	reasonUnterminatedStr = "unterminated quoted-string"
)

// Parse parses the field lines of a WWW-Authenticate or
// Proxy-Authenticate header (for example [net/http.Header.Values]) into
// their challenges, following RFC 9110 §11.2–11.3 and the list rules of
// §5.6: several lines mean the same as one line made by joining them with
// ", ".
//
// Every well-formed challenge is returned, in order. A malformed part makes
// the challenge it belongs to be dropped, is recorded in the returned
// *[ParseError], and parsing goes on at the next challenge, so a
// bad challenge does not hide a good one. When nothing is malformed the
// error is nil. The result is nil when there are no challenges.
//
// Parsing is zero-copy where it can be: schemes, names, token68 and values
// are substrings of fieldValues unless a value contained a quoted-pair (or a
// quoted-string spanned two field lines). A header with one challenge per
// field line and no quoted-pair costs two allocations, the challenges and
// their params. Work and memory are linear in the total length of
// fieldValues, whatever the input.
func Parse(fieldValues ...string) ([]Challenge, error) {
	if len(fieldValues) == 0 {
		return nil, nil
	}
	// Every auth-param has an "=", so counting them sizes the params in one
	// allocation for typical headers; the cap bounds what an input full of
	// "=" can reserve (appending goes on from there).
	equals := 0
	for _, l := range fieldValues {
		equals += strings.Count(l, "=")
	}
	p := challengeParser{lines: fieldValues, s: fieldValues[0], paramsCap: min(equals, maxParamsPrealloc)}
	p.run()
	if len(p.problems) > 0 {
		return p.chals, &ParseError{Problems: p.problems}
	}
	return p.chals, nil
}

// maxParamsPrealloc bounds the params reserved before parsing.
const maxParamsPrealloc = 32

// dupMapThreshold is the number of params in one challenge from which
// duplicates are found with a map instead of a linear scan, so that a
// challenge with n params costs O(n), not O(n²).
const dupMapThreshold = 8

// challengeParser is a single-pass parser over the field lines.
//
// Why the work is linear: every loop advances i (or moves to the next line)
// and never moves it back, with bounded exceptions. Looking ahead from a
// token to decide between an auth-param ("name BWS =") and a new challenge,
// and from a token68 candidate to decide between token68 and an
// auth-param, scans a token and the whitespace after it, which the branch
// taken scans once more; recovery stops at a new challenge's scheme, which
// is then scanned again. So each byte is looked at a constant number of
// times. A quoted-string is searched for its closing quote (and for a
// backslash) with IndexByte, then checked once; only when it holds a
// quoted-pair is it scanned again, from the first backslash. Duplicate
// names are found with a scan of fewer than dupMapThreshold earlier params,
// then with a map. No call re-enters the element loop, so the call depth
// is bounded too.
type challengeParser struct {
	lines []string
	li    int    // index of the current line
	s     string // lines[li]
	i     int    // offset in s

	chals     []Challenge // the challenges kept so far
	params    []Param     // backing array of their Params and of cur's
	paramsCap int         // capacity to give params when it is first needed

	cur         Challenge           // the open challenge, if open; its params are params[first:]
	first       int                 // index in params of cur's first param
	open        bool                // whether cur is open
	takesParams bool                // whether cur had 1*SP and no token68: "name=" continues it
	seen        map[string]struct{} // lower-cased param names of cur, once it has many

	problems []Problem
}

// nextLine moves to the start of the next line, which reads as if the
// lines were joined by ", ". It reports false at the last line.
func (p *challengeParser) nextLine() bool {
	if p.li+1 >= len(p.lines) {
		return false
	}
	p.li++
	p.s = p.lines[p.li]
	p.i = 0
	return true
}

func (p *challengeParser) run() {
	for p.skipToElement() {
		p.element()
	}
	p.closeChallenge()
}

// skipToElement skips OWS, commas (empty list elements) and line ends. It
// reports false at the end of the input.
func (p *challengeParser) skipToElement() bool {
	for {
		for p.i < len(p.s) {
			if c := p.s[p.i]; c != ' ' && c != '\t' && c != ',' {
				return true
			}
			p.i++
		}
		if !p.nextLine() {
			return false
		}
	}
}

// element parses one list element: a new challenge, or an auth-param of
// the open challenge.
func (p *challengeParser) element() {
	s, start := p.s, p.i
	if !isTchar(s[start]) {
		p.fail(p.li, start, reasonJunk, p.takesParams)
		return
	}
	end := scanToken(s, start)
	j := skipWS(s, end)
	if j < len(s) && s[j] == '=' {
		if !p.takesParams {
			p.fail(p.li, start, reasonStrayParam, false)
			return
		}
		p.i = j + 1
		p.param(start, end)
		return
	}
	p.challenge(start, end)
}

// challenge opens the challenge whose auth-scheme is s[start:end] and
// parses its token68 or first auth-param.
func (p *challengeParser) challenge(start, end int) {
	p.closeChallenge()
	s := p.s
	p.cur = Challenge{Scheme: s[start:end]}
	p.first = len(p.params)
	p.open, p.takesParams, p.seen = true, false, nil

	i := end
	for i < len(s) && s[i] == ' ' {
		i++
	}
	j := skipWS(s, i)
	if j == len(s) || s[j] == ',' {
		// The challenge ends here. With 1*SP after the scheme, an empty
		// auth-param list has begun and later "name=" elements join it.
		p.takesParams = i > end
		p.i = j
		return
	}
	if i == end || j != i {
		// No space at all, or an HTAB: challenge = auth-scheme [ 1*SP ... ].
		p.i = i
		p.fail(p.li, i, reasonNoSpace, true)
		return
	}

	// token68 = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=",
	// which only OWS then "," or the end may follow; otherwise this is
	// #auth-param.
	k := i
	for k < len(s) && isToken68Char(s[k]) {
		k++
	}
	if k > i {
		for k < len(s) && s[k] == '=' {
			k++
		}
		if m := skipWS(s, k); m == len(s) || s[m] == ',' {
			p.cur.Token68 = s[i:k]
			p.i = m
			return
		}
	}
	p.takesParams = true
	p.i = i
	if !isTchar(s[i]) {
		p.fail(p.li, i, reasonWantParam, true)
		return
	}
	nameEnd := scanToken(s, i)
	m := skipWS(s, nameEnd)
	if m == len(s) || s[m] != '=' {
		p.i = m
		p.fail(p.li, m, reasonWantEquals, true)
		return
	}
	p.i = m + 1
	p.param(i, nameEnd)
}

// param parses an auth-param whose name is p.s[start:end], p.i being just
// after its "=": BWS ( token / quoted-string ), then OWS and "," or the end.
func (p *challengeParser) param(start, end int) {
	nameLine, name := p.li, p.s[start:end]
	s := p.s
	i := skipWS(s, p.i)
	p.i = i
	var value string
	switch {
	case i == len(s):
		p.fail(p.li, i, reasonWantValue, true)
		return
	case s[i] == '"':
		v, bad := p.quotedString(false)
		if bad.reason != "" {
			p.fail(bad.line, bad.off, bad.reason, true)
			return
		}
		value = v
	case isTchar(s[i]):
		p.i = scanToken(s, i)
		value = s[i:p.i]
	default:
		p.fail(p.li, i, reasonWantValue, true)
		return
	}
	if p.hasParam(p.params[p.first:], name) {
		p.fail(nameLine, start, reasonDuplicate, true)
		return
	}
	if p.params == nil {
		p.params = make([]Param, 0, p.paramsCap)
	}
	p.params = append(p.params, Param{Name: name, Value: value})

	s = p.s // the quoted-string may have ended on a later line
	p.i = skipWS(s, p.i)
	if p.i < len(s) && s[p.i] != ',' {
		p.fail(p.li, p.i, reasonWantComma, true)
	}
}

// hasParam reports whether have, the params of the open challenge, has
// one called name, case-insensitively.
func (p *challengeParser) hasParam(have []Param, name string) bool {
	if len(have) < dupMapThreshold {
		for _, q := range have {
			if strings.EqualFold(q.Name, name) {
				return true
			}
		}
		return false
	}
	if p.seen == nil {
		p.seen = make(map[string]struct{}, 2*len(have))
		for _, q := range have {
			p.seen[asciiLower(q.Name)] = struct{}{}
		}
	}
	key := asciiLower(name)
	if _, ok := p.seen[key]; ok {
		return true
	}
	p.seen[key] = struct{}{}
	return false
}

// stringProblem locates a malformed quoted-string; reason is empty when
// the string is well-formed.
type stringProblem struct {
	line, off int
	reason    string
}

// quotedString scans the quoted-string that starts at p.i and leaves p.i
// after it (at the end of the input when it is unterminated). A
// quoted-string left open at the end of a line goes on in the next one
// after ", ", as in the joined field value. With discard, the value is not
// built.
func (p *challengeParser) quotedString(discard bool) (string, stringProblem) {
	var bad stringProblem
	s, openLine, open := p.s, p.li, p.i
	// Fast path: find the closing quote and check that no quoted-pair
	// comes before it; then the value is a substring of the input.
	rest := s[open+1:]
	seg := rest
	if end := strings.IndexByte(rest, '"'); end >= 0 {
		seg = rest[:end]
	}
	backslash := strings.IndexByte(seg, '\\')
	if backslash >= 0 {
		seg = seg[:backslash]
	}
	if k := indexNonQdtext(seg); k >= 0 {
		bad = stringProblem{p.li, open + 1 + k, reasonBadQuotedChar}
	}
	j := open + 1 + len(seg)
	if backslash < 0 && j < len(s) {
		p.i = j + 1
		if bad.reason != "" {
			return "", bad
		}
		return seg, bad
	}
	// Slow path: unescape into a copy, maybe across lines.
	var b strings.Builder
	if !discard {
		b.Grow(len(s) - open)
		b.WriteString(s[open+1 : j])
	}
	escaped := false
	for {
		if j == len(s) {
			if !p.nextLine() {
				p.i = j
				return "", stringProblem{openLine, open, reasonUnterminatedStr}
			}
			// The ", " that joins the lines is part of the string; a
			// pending backslash escapes its comma.
			if !discard {
				b.WriteString(", ")
			}
			escaped = false
			s, j = p.s, 0
			continue
		}
		c := s[j]
		switch {
		case escaped:
			if !isQuotedPairChar(c) && bad.reason == "" {
				bad = stringProblem{p.li, j, reasonBadQuotedChar}
			}
			escaped = false
		case c == '\\':
			escaped = true
			j++
			continue
		case c == '"':
			p.i = j + 1
			if bad.reason != "" {
				return "", bad
			}
			return b.String(), bad
		case !isQdtext(c) && bad.reason == "":
			bad = stringProblem{p.li, j, reasonBadQuotedChar}
		}
		if !discard {
			b.WriteByte(c)
		}
		j++
	}
}

// closeChallenge keeps the open challenge, if any. Its params are capped
// so that appending to them cannot overwrite the next challenge's.
func (p *challengeParser) closeChallenge() {
	if p.open {
		if last := len(p.params); last > p.first {
			p.cur.Params = p.params[p.first:last:last]
		}
		if p.chals == nil {
			// Field lines usually hold one challenge each.
			p.chals = make([]Challenge, 0, len(p.lines))
		}
		p.chals = append(p.chals, p.cur)
		p.open = false
	}
	p.takesParams = false
}

// fail records a problem at (line, off). If inside, the problem is part of
// the open challenge, which is dropped; otherwise the open challenge is
// kept. Then it skips to the next challenge.
func (p *challengeParser) fail(line, off int, reason string, inside bool) {
	prob := Problem{Line: line, Offset: off, Reason: reason}
	if inside && p.open {
		prob.Scheme = p.cur.Scheme
		p.params = p.params[:p.first]
		p.open = false
	}
	p.problems = append(p.problems, prob)
	p.closeChallenge()
	p.skipToNextChallenge()
}

// skipToNextChallenge skips from p.i to the start of the next list element
// that begins a challenge (a token not followed by BWS "="), or to the end.
// Elements of the form name BWS "=" ... belong to the broken challenge and
// are skipped too. A quoted-string is skipped whole only when it follows
// "=", so that a stray quote cannot swallow the rest of the field.
func (p *challengeParser) skipToNextChallenge() {
	afterEquals := false
	for {
		if p.i == len(p.s) {
			if !p.nextLine() {
				return
			}
		} else {
			c := p.s[p.i]
			switch {
			case c == '"' && afterEquals:
				p.quotedString(true)
				afterEquals = false
				continue
			case c == ' ' || c == '\t':
				p.i++
				continue
			case c != ',':
				afterEquals = c == '='
				p.i++
				continue
			}
		}
		// At a list element boundary.
		afterEquals = false
		if !p.skipToElement() {
			return
		}
		s, start := p.s, p.i
		if !isTchar(s[start]) {
			continue
		}
		end := scanToken(s, start)
		j := skipWS(s, end)
		if j == len(s) || s[j] != '=' {
			return // a new challenge: p.i is at its scheme
		}
		p.i = j + 1
		afterEquals = true
	}
}

// scanToken returns the end of the token that starts at s[i].
func scanToken(s string, i int) int {
	for i < len(s) && isTchar(s[i]) {
		i++
	}
	return i
}

// skipWS returns the offset of the first byte at or after i that is not
// SP or HTAB.
func skipWS(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	return i
}

// asciiLower lower-cases a token, which is ASCII; it allocates only when
// the token has an upper-case letter.
func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}

// Character classes of RFC 9110, one byte per octet value, bits as below.
// TestCharClasses checks the table against the grammar:
//
//	tchar   = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
//	          "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
//	token68 = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
const (
	classTchar   = 1 << 0 // tchar
	classToken68 = 1 << 1 // a token68 character before the "=" padding
	charClasses  = "" +
		"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
		"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
		"\x00\x01\x00\x01\x01\x01\x01\x01\x00\x00\x01\x03\x00\x03\x03\x02" +
		"\x03\x03\x03\x03\x03\x03\x03\x03\x03\x03\x00\x00\x00\x00\x00\x00" +
		"\x00\x03\x03\x03\x03\x03\x03\x03\x03\x03\x03\x03\x03\x03\x03\x03" +
		"\x03\x03\x03\x03\x03\x03\x03\x03\x03\x03\x03\x00\x00\x00\x01\x03" +
		"\x01\x03\x03\x03\x03\x03\x03\x03\x03\x03\x03\x03\x03\x03\x03\x03" +
		"\x03\x03\x03\x03\x03\x03\x03\x03\x03\x03\x03\x00\x01\x00\x03\x00" +
		"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
		"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
		"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
		"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
		"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
		"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
		"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
		"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
)

func isTchar(c byte) bool { return charClasses[c]&classTchar != 0 }

func isToken68Char(c byte) bool { return charClasses[c]&classToken68 != 0 }

// isQdtext reports whether c is qdtext: HTAB / SP / %x21 / %x23-5B /
// %x5D-7E / obs-text.
func isQdtext(c byte) bool {
	return c == '\t' || (c >= ' ' && c != '"' && c != '\\' && c != 0x7f)
}

// indexNonQdtext returns the index of the first byte of s that is not
// qdtext, or -1. It must not be given '"' or '\\', which it does not check.
func indexNonQdtext(s string) int {
	for i := 0; i < len(s); i++ {
		// One comparison for the common case: c < 0x20 || c >= 0x7f.
		if c := s[i]; c-0x20 >= 0x7f-0x20 && c != '\t' && c < 0x80 {
			return i
		}
	}
	return -1
}

// isQuotedPairChar reports whether c may follow "\" in a quoted-pair:
// HTAB / SP / VCHAR / obs-text.
func isQuotedPairChar(c byte) bool {
	return c == '\t' || (c >= ' ' && c != 0x7f)
}
