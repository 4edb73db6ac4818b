package wwwauth

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ch builds a challenge with params given as name, value pairs.
func ch(scheme string, nameValues ...string) Challenge {
	c := Challenge{Scheme: scheme}
	for i := 0; i+1 < len(nameValues); i += 2 {
		c.Params = append(c.Params, Param{Name: nameValues[i], Value: nameValues[i+1]})
	}
	return c
}

// t68 builds a challenge with a token68.
func t68(scheme, token68 string) Challenge {
	return Challenge{Scheme: scheme, Token68: token68}
}

// prob builds an expected problem.
func prob(line, off int, scheme, reason string) Problem {
	return Problem{Line: line, Offset: off, Scheme: scheme, Reason: reason}
}

func TestParseChallenges(t *testing.T) {
	tests := []struct {
		name     string
		lines    []string
		want     []Challenge
		problems []Problem
	}{
		// Examples from the RFCs.
		{
			name:  "RFC 9110 11.6.1 two challenges over two lines",
			lines: []string{`Basic realm="simple", Newauth realm="apps",`, `type=1, title="Login to \"apps\""`},
			want: []Challenge{
				ch("Basic", "realm", "simple"),
				ch("Newauth", "realm", "apps", "type", "1", "title", `Login to "apps"`),
			},
		},
		{
			name:  "RFC 6750 3 realm only",
			lines: []string{`Bearer realm="example"`},
			want:  []Challenge{ch("Bearer", "realm", "example")},
		},
		{
			name:  "RFC 6750 3 invalid_token",
			lines: []string{`Bearer realm="example", error="invalid_token", error_description="The access token expired"`},
			want:  []Challenge{ch("Bearer", "realm", "example", "error", "invalid_token", "error_description", "The access token expired")},
		},
		{
			name:  "RFC 9449 7.2 Bearer and DPoP",
			lines: []string{`Bearer, DPoP algs="ES256 PS256"`},
			want:  []Challenge{ch("Bearer"), ch("DPoP", "algs", "ES256 PS256")},
		},
		{
			name:  "RFC 9470 3 max_age as a token",
			lines: []string{`Bearer error="insufficient_user_authentication", error_description="More recent authentication is required", max_age=5`},
			want:  []Challenge{ch("Bearer", "error", "insufficient_user_authentication", "error_description", "More recent authentication is required", "max_age", "5")},
		},
		{
			name:  "RFC 7617 2.1 charset",
			lines: []string{`Basic realm="foo", charset="UTF-8"`},
			want:  []Challenge{ch("Basic", "realm", "foo", "charset", "UTF-8")},
		},

		// Lists and empty elements (RFC 9110 5.6.1).
		{name: "no lines", lines: nil},
		{name: "empty line", lines: []string{""}},
		{name: "only commas and OWS", lines: []string{" , ,\t,", ""}},
		{
			name:  "empty elements everywhere",
			lines: []string{`, ,Basic realm="a" , , Bearer ,`},
			want:  []Challenge{ch("Basic", "realm", "a"), ch("Bearer")},
		},
		{
			name:  "empty elements between params",
			lines: []string{`Basic realm="foo", bar="xyz",, a=b,,,c=d`},
			want:  []Challenge{ch("Basic", "realm", "foo", "bar", "xyz", "a", "b", "c", "d")},
		},
		{
			name:  "space then comma opens the param list",
			lines: []string{`Basic , realm="foo"`},
			want:  []Challenge{ch("Basic", "realm", "foo")},
		},
		{
			name:  "scheme alone",
			lines: []string{`Basic`},
			want:  []Challenge{ch("Basic")},
		},
		{
			name:  "scheme and trailing spaces",
			lines: []string{`Negotiate  `},
			want:  []Challenge{ch("Negotiate")},
		},
		{
			name:  "a param after a new scheme belongs to it",
			lines: []string{`Newauth realm="Newauth Realm", basic=foo, Basic realm="Basic Realm"`},
			want:  []Challenge{ch("Newauth", "realm", "Newauth Realm", "basic", "foo"), ch("Basic", "realm", "Basic Realm")},
		},
		{
			name:  "comma inside a quoted-string is not a separator",
			lines: []string{`Basic realm="a, b=c, Bearer", Bearer`},
			want:  []Challenge{ch("Basic", "realm", "a, b=c, Bearer"), ch("Bearer")},
		},

		// auth-param details.
		{
			name:  "BWS around equals",
			lines: []string{"Basic realm = \"foo\", a\t=\tb"},
			want:  []Challenge{ch("Basic", "realm", "foo", "a", "b")},
		},
		{
			name:  "token value with tchars",
			lines: []string{`Foo a=!#$%&'*+-.^_|~09AZaz` + "`"},
			want:  []Challenge{ch("Foo", "a", "!#$%&'*+-.^_|~09AZaz`")},
		},
		{
			name:  "single quotes are token characters",
			lines: []string{`Basic realm='foo'`},
			want:  []Challenge{ch("Basic", "realm", "'foo'")},
		},
		{
			name:  "empty quoted-string",
			lines: []string{`Basic realm="", Bearer`},
			want:  []Challenge{ch("Basic", "realm", ""), ch("Bearer")},
		},
		{
			name:  "quoted-pairs",
			lines: []string{`Foo a="\f\o\o", b="\"x\"", c="\\", d="\ \	"`},
			want:  []Challenge{ch("Foo", "a", "foo", "b", `"x"`, "c", `\`, "d", " \t")},
		},
		{
			name:  "obs-text in a quoted-string",
			lines: []string{"Basic realm=\"caf\xc3\xa9 \xff\""},
			want:  []Challenge{ch("Basic", "realm", "caf\xc3\xa9 \xff")},
		},
		{
			name:  "case is kept and lookups ignore it",
			lines: []string{`BASIC REALM="foo"`},
			want:  []Challenge{ch("BASIC", "REALM", "foo")},
		},

		// token68 and its ambiguity with #auth-param.
		{
			name:  "token68",
			lines: []string{`Basic dXNlcjpwYXNzd29yZA==`},
			want:  []Challenge{t68("Basic", "dXNlcjpwYXNzd29yZA==")},
		},
		{
			name:  "token68 with every character",
			lines: []string{`Foo aZ09-._~+/==, Negotiate YII=`},
			want:  []Challenge{t68("Foo", "aZ09-._~+/=="), t68("Negotiate", "YII=")},
		},
		{
			name:  "token68 then OWS then comma",
			lines: []string{"Foo abc= \t, Bar"},
			want:  []Challenge{t68("Foo", "abc="), ch("Bar")},
		},
		{
			name:  "a word alone is a token68",
			lines: []string{`Basic realm`},
			want:  []Challenge{t68("Basic", "realm")},
		},
		{
			name:  "name=value is a param, not a token68",
			lines: []string{`Foo a=b, Foo a= b, Foo a =b`},
			want:  []Challenge{ch("Foo", "a", "b"), ch("Foo", "a", "b"), ch("Foo", "a", "b")},
		},
		{
			name:  "a slash makes a token68, not a param name",
			lines: []string{`Foo a/b, Bar`},
			want:  []Challenge{t68("Foo", "a/b"), ch("Bar")},
		},

		// Several field lines read as one line joined with ", ".
		{
			name:  "params continue on the next line",
			lines: []string{`Bearer realm="x"`, `error="invalid_token"`},
			want:  []Challenge{ch("Bearer", "realm", "x", "error", "invalid_token")},
		},
		{
			name:  "scheme with a space at a line end takes the next line's params",
			lines: []string{`Basic `, `realm="x"`},
			want:  []Challenge{ch("Basic", "realm", "x")},
		},
		{
			name:  "one challenge per line",
			lines: []string{`Basic realm="a"`, `Bearer realm="b"`, `DPoP algs="ES256"`},
			want:  []Challenge{ch("Basic", "realm", "a"), ch("Bearer", "realm", "b"), ch("DPoP", "algs", "ES256")},
		},
		{
			name:  "quoted-string across lines",
			lines: []string{`Foo a="x`, `y\`, `z"`, `b=c`},
			want:  []Challenge{ch("Foo", "a", "x, y, z", "b", "c")},
		},

		// Malformed parts: reported, and the good challenges around them kept.
		{
			name:     "repeated param drops its challenge only",
			lines:    []string{`Basic realm="a", REALM="b", Bearer error="invalid_token"`},
			want:     []Challenge{ch("Bearer", "error", "invalid_token")},
			problems: []Problem{prob(0, 17, "Basic", reasonDuplicate)},
		},
		{
			name:     "repeated param among many, in another case",
			lines:    []string{`Foo a=1, b=2, c=3, d=4, e=5, f=6, g=7, H=8, i=9, j=10, h=11, Bearer`},
			want:     []Challenge{ch("Bearer")},
			problems: []Problem{prob(0, 55, "Foo", reasonDuplicate)},
		},
		{
			name:  "many params without repeats",
			lines: []string{`Foo a=1, b=2, c=3, d=4, e=5, f=6, g=7, H=8, i=9, j=10`, `Bar h=1`},
			want: []Challenge{
				ch("Foo", "a", "1", "b", "2", "c", "3", "d", "4", "e", "5", "f", "6", "g", "7", "H", "8", "i", "9", "j", "10"),
				ch("Bar", "h", "1"),
			},
		},
		{
			name:     "repeated param across lines",
			lines:    []string{`Bearer realm="a"`, `realm="b"`},
			problems: []Problem{prob(1, 0, "Bearer", reasonDuplicate)},
		},
		{
			name:     "stray quote does not hide Bearer",
			lines:    []string{`Foo x"y, Bearer realm="z"`},
			want:     []Challenge{ch("Bearer", "realm", "z")},
			problems: []Problem{prob(0, 5, "Foo", reasonWantEquals)},
		},
		{
			name:     "missing comma between params",
			lines:    []string{`Newauth realm="a" type=1, Bearer`},
			want:     []Challenge{ch("Bearer")},
			problems: []Problem{prob(0, 18, "Newauth", reasonWantComma)},
		},
		{
			name:     "params of a broken challenge are skipped with it",
			lines:    []string{`Newauth realm="a" junk, title="x, Bearer", b=c, Bearer error="invalid_token"`},
			want:     []Challenge{ch("Bearer", "error", "invalid_token")},
			problems: []Problem{prob(0, 18, "Newauth", reasonWantComma)},
		},
		{
			name:     "unterminated quoted-string",
			lines:    []string{`Bearer, Basic realm="basic`},
			want:     []Challenge{ch("Bearer")},
			problems: []Problem{prob(0, 20, "Basic", reasonUnterminatedStr)},
		},
		{
			name:     "control character in a quoted-string",
			lines:    []string{"Basic realm=\"a\x01b\", Bearer, Foo a=\"\\\x7f\""},
			want:     []Challenge{ch("Bearer")},
			problems: []Problem{prob(0, 14, "Basic", reasonBadQuotedChar), prob(0, 35, "Foo", reasonBadQuotedChar)},
		},
		{
			name:     "backslash in a token value",
			lines:    []string{`Basic realm=\f\o\o, Bearer`},
			want:     []Challenge{ch("Bearer")},
			problems: []Problem{prob(0, 12, "Basic", reasonWantValue)},
		},
		{
			name:     "missing value",
			lines:    []string{`Basic a=b, c=, Bearer a=b, realm=`},
			problems: []Problem{prob(0, 13, "Basic", reasonWantValue), prob(0, 33, "Bearer", reasonWantValue)},
		},
		{
			name:  "name= alone is a token68",
			lines: []string{`Basic realm=, Bearer realm=`},
			want:  []Challenge{t68("Basic", "realm="), t68("Bearer", "realm=")},
		},
		{
			name:     "no space after the scheme",
			lines:    []string{`Basic"x", Bearer`},
			want:     []Challenge{ch("Bearer")},
			problems: []Problem{prob(0, 5, "Basic", reasonNoSpace)},
		},
		{
			name:     "tab instead of a space after the scheme",
			lines:    []string{"Basic\trealm=\"x\", Bearer"},
			want:     []Challenge{ch("Bearer")},
			problems: []Problem{prob(0, 5, "Basic", reasonNoSpace)},
		},
		{
			name:     "tab before a comma ends a challenge without params",
			lines:    []string{"Basic\t, realm=x"},
			want:     []Challenge{ch("Basic")},
			problems: []Problem{prob(0, 8, "", reasonStrayParam)},
		},
		{
			name:     "param after a challenge without a space",
			lines:    []string{`Basic, realm="foo", Bearer`},
			want:     []Challenge{ch("Basic"), ch("Bearer")},
			problems: []Problem{prob(0, 7, "", reasonStrayParam)},
		},
		{
			name:     "param after a token68",
			lines:    []string{`Basic abc=, realm="x"`},
			want:     []Challenge{t68("Basic", "abc=")},
			problems: []Problem{prob(0, 12, "", reasonStrayParam)},
		},
		{
			name:     "param before any challenge",
			lines:    []string{`realm="x", a=b, Bearer`},
			want:     []Challenge{ch("Bearer")},
			problems: []Problem{prob(0, 0, "", reasonStrayParam)},
		},
		{
			name:     "junk element inside a param list",
			lines:    []string{`Bearer realm="x", "junk", error="y", Basic`},
			want:     []Challenge{ch("Basic")},
			problems: []Problem{prob(0, 18, "Bearer", reasonJunk)},
		},
		{
			name:     "junk element after a complete challenge",
			lines:    []string{`Basic, (junk), Bearer`},
			want:     []Challenge{ch("Basic"), ch("Bearer")},
			problems: []Problem{prob(0, 7, "", reasonJunk)},
		},
		{
			name:     "neither token68 nor param",
			lines:    []string{`Foo (x, Foo a==b, Foo abc =, Bar`},
			want:     []Challenge{ch("Bar")},
			problems: []Problem{prob(0, 4, "Foo", reasonWantParam), prob(0, 14, "Foo", reasonWantValue), prob(0, 27, "Foo", reasonWantValue)},
		},
		{
			name:     "a scheme followed by BWS and = is a param",
			lines:    []string{`Foo =x, Bar`},
			want:     []Challenge{ch("Bar")},
			problems: []Problem{prob(0, 0, "", reasonStrayParam)},
		},
		{
			name:     "non-ASCII in a token",
			lines:    []string{"B\xc3\xa9arer realm=x, Bearer"},
			want:     []Challenge{ch("Bearer")},
			problems: []Problem{prob(0, 1, "B", reasonNoSpace)},
		},
		{
			name:     "problem on a later line",
			lines:    []string{`Bearer realm="x"`, `Basic realm="y" z`},
			want:     []Challenge{ch("Bearer", "realm", "x")},
			problems: []Problem{prob(1, 16, "Basic", reasonWantComma)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.lines...)
			assert.Equal(t, tt.want, got, "challenges of %q", tt.lines)
			if tt.problems == nil {
				assert.NoError(t, err, "parsing %q", tt.lines)
				return
			}
			var pe *ParseError
			require.ErrorAs(t, err, &pe, "parsing %q", tt.lines)
			assert.Equal(t, tt.problems, pe.Problems, "problems in %q", tt.lines)

			if len(tt.lines) > 1 {
				joined, jerr := Parse(strings.Join(tt.lines, ", "))
				assert.Equal(t, got, joined, "the same challenges when the lines are joined")
				assert.Equal(t, err == nil, jerr == nil, "the same verdict when the lines are joined")
			}
		})
	}
}

func TestParseChallengesHeaderValues(t *testing.T) {
	h := http.Header{}
	h.Add("WWW-Authenticate", `Bearer realm="api"`)
	h.Add("WWW-Authenticate", `error="invalid_token"`)
	h.Add("WWW-Authenticate", `DPoP algs="ES256"`)
	got, err := Parse(h.Values("WWW-Authenticate")...)
	require.NoError(t, err)
	assert.Equal(t, []Challenge{
		ch("Bearer", "realm", "api", "error", "invalid_token"),
		ch("DPoP", "algs", "ES256"),
	}, got)
}

func TestChallengeParam(t *testing.T) {
	c := ch("Bearer", "Realm", "a", "error", "")
	tests := []struct {
		name   string
		param  string
		want   string
		wantOK bool
	}{
		{name: "same case", param: "Realm", want: "a", wantOK: true},
		{name: "other case", param: "REALM", want: "a", wantOK: true},
		{name: "present but empty", param: "error", want: "", wantOK: true},
		{name: "absent", param: "scope", want: "", wantOK: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := c.Param(tt.param)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.wantOK, ok)
		})
	}
}

func TestChallengeIsScheme(t *testing.T) {
	assert.True(t, ch("bearer").IsScheme(SchemeBearer))
	assert.True(t, ch("DPOP").IsScheme(SchemeDPoP))
	assert.False(t, ch("Bearer").IsScheme(SchemeDPoP))
	assert.False(t, ch("Bearerx").IsScheme(SchemeBearer))
}

func TestChallengeString(t *testing.T) {
	tests := []struct {
		name string
		c    Challenge
		want string
	}{
		{name: "scheme only", c: ch("Bearer"), want: "Bearer"},
		{name: "token68", c: t68("Basic", "dXNlcg=="), want: "Basic dXNlcg=="},
		{name: "params are quoted", c: ch("Bearer", "realm", "x", "max_age", "5"), want: `Bearer realm="x", max_age="5"`},
		{name: "escapes", c: ch("Foo", "a", `"\`), want: `Foo a="\"\\"`},
		{name: "empty value", c: ch("Foo", "a", ""), want: `Foo a=""`},
		{name: "token68 wins over params", c: Challenge{Scheme: "Foo", Token68: "x", Params: []Param{{"a", "b"}}}, want: "Foo x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.c.String())
			if tt.c.Token68 != "" && tt.c.Params != nil {
				return
			}
			back, err := Parse(tt.c.String())
			require.NoError(t, err)
			assert.Equal(t, []Challenge{tt.c}, back, "String() parses back")
		})
	}
}

func TestChallengeParseErrorMessage(t *testing.T) {
	secret := "c2VjcmV0LXRva2Vu"
	_, err := Parse(`Bearer realm="`+secret+`" x`, `Basic `+secret+`, y=`+secret)
	require.Error(t, err)
	assert.Equal(t, `wwwauth: malformed challenge at field line 1, byte 32: expected "," after the auth-param (and 1 more)`, err.Error())
	assert.NotContains(t, err.Error(), secret, "the message quotes no input")

	one := &ParseError{Problems: []Problem{prob(2, 7, "Basic", reasonDuplicate)}}
	assert.Equal(t, "wwwauth: malformed challenge at field line 3, byte 7: auth-param name repeated in one challenge", one.Error())
	assert.Equal(t, "wwwauth: malformed challenge", (&ParseError{}).Error())

	wrapped := fmt.Errorf("calling the API: %w", err)
	var pe *ParseError
	require.True(t, errors.As(wrapped, &pe))
	assert.Len(t, pe.Problems, 2)
}

func TestParseChallengesReturnsNilError(t *testing.T) {
	// A nil *ParseError in an error interface would not be nil.
	_, err := Parse(`Bearer`)
	assert.True(t, err == nil, "error is a true nil, got %#v", err)
}

func TestParseChallengesZeroCopy(t *testing.T) {
	in := `Bearer realm="example", error="invalid_token", error_description="The access token expired", Basic dXNlcg==`
	got, err := Parse(in)
	require.NoError(t, err)
	require.Len(t, got, 2)
	within := func(s string) bool {
		base := uintptr(unsafe.Pointer(unsafe.StringData(in)))
		p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
		return p >= base && p+uintptr(len(s)) <= base+uintptr(len(in))
	}
	assert.True(t, within(got[0].Scheme), "scheme is a substring of the input")
	assert.True(t, within(got[1].Token68), "token68 is a substring of the input")
	for _, p := range got[0].Params {
		assert.True(t, within(p.Name), "name %q is a substring of the input", p.Name)
		assert.True(t, within(p.Value), "value %q is a substring of the input", p.Value)
	}
}

func TestParseChallengesParamsCapped(t *testing.T) {
	// Appending to one challenge's params must not overwrite the next's.
	got, err := Parse(`A a=1, B b=2`)
	require.NoError(t, err)
	require.Len(t, got, 2)
	_ = append(got[0].Params, Param{Name: "x", Value: "y"})
	assert.Equal(t, []Param{{Name: "b", Value: "2"}}, got[1].Params)
}

func TestParseChallengesAllocs(t *testing.T) {
	if testing.CoverMode() != "" || raceEnabled {
		t.Skip("allocation counts differ under coverage or the race detector")
	}
	tests := []struct {
		name  string
		lines []string
		max   float64
	}{
		{name: "empty", lines: []string{""}, max: 0},
		{name: "one challenge, no escapes", lines: []string{`Bearer realm="example", error="invalid_token", error_description="The access token expired"`}, max: 2},
		{name: "one challenge over two lines", lines: []string{`Bearer realm="example"`, `error="invalid_token"`}, max: 2},
		{name: "token68", lines: []string{`Basic dXNlcg==`}, max: 1},
		{name: "Bearer and DPoP on two lines", lines: []string{`Bearer realm="example"`, `DPoP algs="ES256 PS256"`}, max: 2},
		{name: "Bearer and DPoP on one line", lines: []string{`Bearer realm="example", DPoP algs="ES256 PS256"`}, max: 3},
		{name: "one escape", lines: []string{`Foo title="Login to \"apps\""`}, max: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := testing.AllocsPerRun(100, func() {
				_, _ = Parse(tt.lines...)
			})
			assert.LessOrEqual(t, n, tt.max, "allocations per parse")
		})
	}
}

// TestParseChallengesLinearWork parses megabyte inputs built from the runs
// that make naive parsers quadratic (backtracking over commas, rescanning
// quotes or backslashes, comparing each param name with every earlier one).
// A quadratic path would need about 10^12 steps on them and hit the test
// timeout; the linear parser takes milliseconds. There is deliberately no
// timing assertion.
func TestParseChallengesLinearWork(t *testing.T) {
	const n = 1 << 20
	var manyParams strings.Builder
	manyParams.WriteString("Foo ")
	for i := 0; manyParams.Len() < n; i++ {
		fmt.Fprintf(&manyParams, "p%d=v, ", i)
	}
	var manyDupes strings.Builder
	for manyDupes.Len() < n {
		manyDupes.WriteString(`Foo a=1, a=2, b="`)
	}
	tests := []struct {
		name       string
		in         string
		challenges int
	}{
		{name: "commas", in: "Basic, " + strings.Repeat(",", n) + " Bearer", challenges: 2},
		{name: "spaces", in: "Basic " + strings.Repeat(" ", n) + ", Bearer", challenges: 2},
		{name: "quotes", in: strings.Repeat(`"`, n) + ", Bearer", challenges: 1},
		{name: "backslashes in a quoted-string", in: `Foo a="` + strings.Repeat(`\\`, n/2) + `", Bearer`, challenges: 2},
		{name: "escaped quotes", in: `Foo a="` + strings.Repeat(`\"`, n/2) + `", Bearer`, challenges: 2},
		{name: "unterminated quoted-string", in: `Foo a="` + strings.Repeat(`\`, n), challenges: 0},
		{name: "equals signs", in: "Foo a" + strings.Repeat("=", n) + ", Bearer", challenges: 2},
		{name: "token68 padding", in: "Foo a" + strings.Repeat("=", n) + "b, Bearer", challenges: 1},
		{name: "many params", in: manyParams.String() + "Bearer", challenges: 2},
		{name: "many challenges", in: strings.Repeat("A, ", n/3), challenges: n / 3},
		{name: "many broken challenges", in: manyDupes.String(), challenges: 0},
		{name: "a long token", in: strings.Repeat("a", n) + " " + strings.Repeat("b", n) + "=c", challenges: 1},
		{name: "stray params", in: "Basic, " + strings.Repeat("a=b, ", n/5) + "Bearer", challenges: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := Parse(tt.in)
			assert.Equal(t, tt.challenges, len(got), "number of challenges")
			lines := strings.Split(tt.in, ",")
			gotLines, _ := Parse(lines...)
			assert.Equal(t, len(got), len(gotLines), "the same when split into lines at each comma")
		})
	}
}

// benchHeader is a set of typical WWW-Authenticate field lines, shared
// with the comparison in the benchmarks module through
// testdata/bench_headers.json: one Bearer challenge with realm, error and
// description; a Bearer and a DPoP challenge; Basic with charset; and a
// 4 KiB Bearer challenge with a long scope list.
type benchHeader struct {
	Name  string   `json:"name"`
	Lines []string `json:"lines"`
}

func loadBenchHeaders(tb testing.TB) []benchHeader {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "bench_headers.json"))
	require.NoError(tb, err)
	var hs []benchHeader
	require.NoError(tb, json.Unmarshal(data, &hs))
	return hs
}

func BenchmarkParse(b *testing.B) {
	for _, bh := range loadBenchHeaders(b) {
		b.Run(bh.Name, func(b *testing.B) {
			n := 0
			for _, l := range bh.Lines {
				n += len(l)
			}
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Parse(bh.Lines...); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestCharClasses checks the character tables and predicates against the
// character sets of RFC 9110 written out here.
func TestCharClasses(t *testing.T) {
	const (
		alpha   = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		digit   = "0123456789"
		tchar   = "!#$%&'*+-.^_`|~" + digit + alpha
		token68 = "-._~+/" + digit + alpha
	)
	require.Len(t, charClasses, 256)
	for i := 0; i < 256; i++ {
		c := byte(i)
		ascii := c < 0x80 && strings.IndexByte(tchar, c) >= 0
		assert.Equal(t, ascii, isTchar(c), "tchar %#x", c)
		ascii = c < 0x80 && strings.IndexByte(token68, c) >= 0
		assert.Equal(t, ascii, isToken68Char(c), "token68 character %#x", c)
		// qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text
		qd := c == '\t' || c == ' ' || c == 0x21 || (c >= 0x23 && c <= 0x5b) || (c >= 0x5d && c <= 0x7e) || c >= 0x80
		assert.Equal(t, qd, isQdtext(c), "qdtext %#x", c)
		if c != '"' && c != '\\' {
			assert.Equal(t, qd, indexNonQdtext(string([]byte{'a', c})) < 0, "indexNonQdtext %#x", c)
		}
		// quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
		qp := c == '\t' || c == ' ' || (c >= 0x21 && c <= 0x7e) || c >= 0x80
		assert.Equal(t, qp, isQuotedPairChar(c), "quoted-pair %#x", c)
	}
}
