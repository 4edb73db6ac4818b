package wwwauth

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParse checks properties of Parse on arbitrary
// input, read as field lines separated by "\n":
//   - it never panics, and a reported error is a *ParseError whose
//     problems point inside the input;
//   - every challenge is well-formed (token scheme and names, no repeated
//     name, not both token68 and params);
//   - each challenge's String() parses back to exactly that challenge, and
//     so do all of them joined with ", ";
//   - giving the lines separately or joined with ", " yields the same
//     challenges and the same problems.
//
// Linear work is argued on challengeParser and exercised by
// TestParseChallengesLinearWork on megabyte inputs.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		// RFC 9110 §11.6.1, split over two field lines as in the RFC.
		"Basic realm=\"simple\", Newauth realm=\"apps\",\ntype=1, title=\"Login to \\\"apps\\\"\"",
		// RFC 6750 §3.
		`Bearer realm="example", error="invalid_token", error_description="The access token expired"`,
		// RFC 9449 §7.2 and §9.
		`Bearer, DPoP algs="ES256 PS256"`,
		`DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof"`,
		// RFC 9470 §3.
		`Bearer error="insufficient_user_authentication", acr_values="myACR", max_age=5`,
		// RFC 9728 §5.1.
		`Bearer resource_metadata="https://resource.example.com/.well-known/oauth-protected-resource"`,
		// RFC 7617 §2.1.
		`Basic realm="foo", charset="UTF-8"`,
		// token68 and its ambiguity with auth-params.
		`Basic dXNlcjpwYXNzd29yZA==, Foo a=b, Bar a= , Baz abc =`,
		// Empty elements, BWS, escapes, a comma inside a quoted-string.
		`, ,Basic realm = "a, \"b\" \\ c" , , Bearer ,`,
		// A quoted-string across two lines, and a backslash at a line end.
		"Foo a=\"x\ny\\\nz\"",
		// Malformed parts next to good challenges.
		`Foo x"y, Bearer realm="z"`,
		`Basic realm="a", realm="b", Bearer error="invalid_token"`,
		"Basic\trealm=x, Basic \t, a=b",
		`Newauth realm="a" junk="b", Bearer`,
		`Basic realm="unterminated`,
		"Basic realm=\"\x01\", Bearer realm=\"\xff\"",
		// Long runs of the characters that could make a parser quadratic.
		strings.Repeat(",", 64) + strings.Repeat(`"`, 64) + strings.Repeat(`\`, 64),
		`Foo a="` + strings.Repeat(`\"`, 32) + `"` + strings.Repeat(", b=c", 16),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		lines := strings.Split(in, "\n")
		got, err := Parse(lines...)
		checkParseError(t, lines, err)
		for _, c := range got {
			checkWellFormed(t, c)
		}

		joined, jerr := Parse(strings.Join(lines, ", "))
		if !equalChallenges(got, joined) {
			t.Fatalf("lines %q give %q, joined give %q", lines, got, joined)
		}
		if a, b := problemsOf(err), problemsOf(jerr); len(a) != len(b) {
			t.Fatalf("lines %q give problems %+v, joined give %+v", lines, a, b)
		} else {
			for k := range a {
				if a[k].Reason != b[k].Reason || a[k].Scheme != b[k].Scheme {
					t.Fatalf("lines %q give problems %+v, joined give %+v", lines, a, b)
				}
			}
		}

		canon := make([]string, len(got))
		for k, c := range got {
			canon[k] = c.String()
			back, err := Parse(canon[k])
			if err != nil || len(back) != 1 || !equalChallenge(back[0], c) {
				t.Fatalf("challenge %#v: String() = %q parses back to %#v, %v", c, canon[k], back, err)
			}
		}
		if len(got) > 0 {
			all := strings.Join(canon, ", ")
			back, err := Parse(all)
			if err != nil || !equalChallenges(back, got) {
				t.Fatalf("challenges %q joined canonically as %q parse back to %q, %v", got, all, back, err)
			}
		}
	})
}

func problemsOf(err error) []Problem {
	var pe *ParseError
	if errors.As(err, &pe) {
		return pe.Problems
	}
	return nil
}

// checkParseError checks that err is nil or a *ParseError whose
// problems point into lines, in order.
func checkParseError(t *testing.T, lines []string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("error %v (%T) is not a *ParseError", err, err)
	}
	if len(pe.Problems) == 0 {
		t.Fatalf("error %v has no problems", err)
	}
	if !strings.HasPrefix(err.Error(), "wwwauth: ") {
		t.Fatalf("error message %q lacks the package prefix", err.Error())
	}
	prevLine := 0
	for _, p := range pe.Problems {
		if p.Line < prevLine || p.Line >= len(lines) || p.Offset < 0 || p.Offset > len(lines[p.Line]) || p.Reason == "" {
			t.Fatalf("problem %+v out of place in %q", p, lines)
		}
		prevLine = p.Line
	}
}

// checkWellFormed checks the invariants of a parsed challenge.
func checkWellFormed(t *testing.T, c Challenge) {
	t.Helper()
	if !isToken(c.Scheme) {
		t.Fatalf("challenge %#v: scheme is not a token", c)
	}
	if c.Token68 != "" && c.Params != nil {
		t.Fatalf("challenge %#v has both token68 and params", c)
	}
	if c.Params != nil && len(c.Params) == 0 {
		t.Fatalf("challenge %#v has empty non-nil params", c)
	}
	for k, p := range c.Params {
		if !isToken(p.Name) {
			t.Fatalf("challenge %#v: param name %q is not a token", c, p.Name)
		}
		for _, q := range c.Params[:k] {
			if strings.EqualFold(p.Name, q.Name) {
				t.Fatalf("challenge %#v repeats param %q", c, p.Name)
			}
		}
	}
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTchar(s[i]) {
			return false
		}
	}
	return true
}

// equalChallenge compares challenges, treating nil and empty params alike
// only where both are empty.
func equalChallenge(a, b Challenge) bool {
	if a.Scheme != b.Scheme || a.Token68 != b.Token68 || len(a.Params) != len(b.Params) {
		return false
	}
	for k := range a.Params {
		if a.Params[k] != b.Params[k] {
			return false
		}
	}
	return true
}

func equalChallenges(a, b []Challenge) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !equalChallenge(a[k], b[k]) {
			return false
		}
	}
	return true
}
