package wwwauth

import (
	"errors"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// challengeVector is one WWW-Authenticate test vector: field lines as
// received, the challenges a parser following RFC 9110 §11 returns, and
// whether some part of the lines is malformed.
type challengeVector struct {
	name    string
	lines   []string
	want    []Challenge
	wantErr bool
}

// challengeVectors are written from the grammar of RFC 9110 §5.6 and §11
// (with the RFC 7235 errata it absorbed), from the examples of the RFCs
// that define schemes and params, from the kinds of headers covered by
// browser test suites for HTTP authentication, and from headers that
// well-known services and clients send or test against. Every expectation
// is the RFC's reading, not what some browser does.
//
// Where the RFC leaves recovery open, the rule is: keep every challenge
// that is well-formed on its own, drop a challenge in which something is
// malformed (never keep part of it, never guess a missing comma or quote),
// and report the problem. Those rows say so in a comment.
var challengeVectors = []challengeVector{
	// RFC 9110 §11: challenge = auth-scheme [ 1*SP ( token68 / #auth-param ) ].
	{name: "grammar/scheme alone", lines: []string{`Basic`}, want: []Challenge{ch("Basic")}},
	{name: "grammar/scheme lower case", lines: []string{`basic realm="x"`}, want: []Challenge{ch("basic", "realm", "x")}},
	{name: "grammar/scheme and names upper case", lines: []string{`BEARER REALM="x", ERROR="invalid_token"`}, want: []Challenge{ch("BEARER", "REALM", "x", "ERROR", "invalid_token")}},
	{name: "grammar/scheme of every tchar", lines: []string{"!#$%&'*+-.^_`|~09AZaz"}, want: []Challenge{ch("!#$%&'*+-.^_`|~09AZaz")}},
	{name: "grammar/scheme with dots and plus", lines: []string{`X-Custom.Auth_v2+jwt realm="a"`}, want: []Challenge{ch("X-Custom.Auth_v2+jwt", "realm", "a")}},
	{name: "grammar/several spaces after the scheme", lines: []string{`Basic    realm="x"`}, want: []Challenge{ch("Basic", "realm", "x")}},
	{name: "grammar/leading and trailing whitespace", lines: []string{" \t Basic realm=\"x\" \t "}, want: []Challenge{ch("Basic", "realm", "x")}},
	{name: "grammar/scheme then trailing tab", lines: []string{"Negotiate\t"}, want: []Challenge{ch("Negotiate")}},
	// 1*SP is required between the scheme and its data; HTAB is not SP.
	{name: "grammar/tab after the scheme", lines: []string{"Basic\trealm=\"x\""}, wantErr: true},
	// After 1*SP the param list starts at once; the recipient form of
	// #auth-param (§5.6.1) allows no OWS before its first element.
	{name: "grammar/space then tab before the first param", lines: []string{"Basic \trealm=\"x\""}, wantErr: true},
	{name: "grammar/space then tab then comma", lines: []string{"Basic \t, realm=\"x\""}, want: []Challenge{ch("Basic", "realm", "x")}},
	{name: "grammar/no space: scheme glued to a quoted-string", lines: []string{`Basic"realm"`}, wantErr: true},
	// "Basicrealm" is a token followed by "=": an auth-param outside any
	// challenge, not a challenge.
	{name: "grammar/no space: scheme glued to the param name", lines: []string{`Basicrealm="x"`}, wantErr: true},
	{name: "grammar/semicolon after the scheme", lines: []string{`Basic;realm="x"`}, wantErr: true},
	{name: "grammar/scheme in quotes", lines: []string{`"Basic" realm="x"`}, wantErr: true},
	{name: "grammar/non-ASCII scheme", lines: []string{"B\xc3\xa4sic realm=\"x\""}, wantErr: true},
	{name: "grammar/non-ASCII scheme does not hide the next", lines: []string{"\xc3\xa4, Bearer realm=\"x\""}, want: []Challenge{ch("Bearer", "realm", "x")}, wantErr: true},
	{name: "grammar/two challenges of one scheme", lines: []string{`Basic realm="a", Basic realm="b"`}, want: []Challenge{ch("Basic", "realm", "a"), ch("Basic", "realm", "b")}},

	// token68 = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
	{name: "token68/base64", lines: []string{`Foo YWxhZGRpbjpvcGVuc2VzYW1l`}, want: []Challenge{t68("Foo", "YWxhZGRpbjpvcGVuc2VzYW1l")}},
	{name: "token68/one padding", lines: []string{`Foo YWJjZA=`}, want: []Challenge{t68("Foo", "YWJjZA=")}},
	{name: "token68/two padding", lines: []string{`Foo YWI==`}, want: []Challenge{t68("Foo", "YWI==")}},
	{name: "token68/any amount of padding", lines: []string{`Foo a====`}, want: []Challenge{t68("Foo", "a====")}},
	{name: "token68/every character", lines: []string{`Foo AZaz09-._~+/=`}, want: []Challenge{t68("Foo", "AZaz09-._~+/=")}},
	{name: "token68/base64url", lines: []string{`Foo eyJhbGciOiJFUzI1NiJ9.e30.c2ln_-`}, want: []Challenge{t68("Foo", "eyJhbGciOiJFUzI1NiJ9.e30.c2ln_-")}},
	{name: "token68/starting with a slash", lines: []string{`Foo /abc`}, want: []Challenge{t68("Foo", "/abc")}},
	{name: "token68/trailing OWS", lines: []string{"Foo abc== \t"}, want: []Challenge{t68("Foo", "abc==")}},
	{name: "token68/then another challenge", lines: []string{`Negotiate abc==, Basic realm="x"`}, want: []Challenge{t68("Negotiate", "abc=="), ch("Basic", "realm", "x")}},
	{name: "token68/then OWS comma OWS and a challenge", lines: []string{"Foo abc \t,\t Bar"}, want: []Challenge{t68("Foo", "abc"), ch("Bar")}},
	{name: "token68/then empty elements", lines: []string{`Foo abc,,, ,Bar xyz=`}, want: []Challenge{t68("Foo", "abc"), t68("Bar", "xyz=")}},
	// A lone token after the scheme is a token68, not a valueless param.
	{name: "token68/a bare word", lines: []string{`Basic realm`}, want: []Challenge{t68("Basic", "realm")}},
	// "name=" cannot be an auth-param (a value is required) but is a token68.
	{name: "token68/name and equals", lines: []string{`Bearer error=`}, want: []Challenge{t68("Bearer", "error=")}},
	{name: "token68/a word then a new challenge", lines: []string{`Foo a, b`}, want: []Challenge{t68("Foo", "a"), ch("b")}},
	{name: "token68/then a word that is a challenge with token68", lines: []string{`Foo a, b c`}, want: []Challenge{t68("Foo", "a"), t68("b", "c")}},
	// A challenge has a token68 or params, never both: the param is stray.
	// The token68 challenge is well-formed on its own and is kept.
	{name: "token68/long", lines: []string{"Negotiate " + strings.Repeat("YIIB", 4000) + "=="}, want: []Challenge{t68("Negotiate", strings.Repeat("YIIB", 4000)+"==")}},
	{name: "token68/followed by a param", lines: []string{`Other abc==, realm="myrealm"`}, want: []Challenge{t68("Other", "abc==")}, wantErr: true},
	{name: "token68/followed by a padded word", lines: []string{`Foo a==, b==`}, want: []Challenge{t68("Foo", "a==")}, wantErr: true},
	{name: "token68/padding in the middle", lines: []string{`Foo a/b=c/d`}, wantErr: true},
	{name: "token68/equals only", lines: []string{`Foo =`}, wantErr: true},
	{name: "token68/two tokens", lines: []string{`Foo abc def`}, wantErr: true},
	{name: "token68/character outside its set", lines: []string{`Foo abc:def`}, wantErr: true},

	// auth-param = token BWS "=" BWS ( token / quoted-string ).
	{name: "param/token value", lines: []string{`Basic realm=foo`}, want: []Challenge{ch("Basic", "realm", "foo")}},
	{name: "param/token value of every tchar", lines: []string{"Foo a=!#$%&'*+-.^_`|~09AZaz"}, want: []Challenge{ch("Foo", "a", "!#$%&'*+-.^_`|~09AZaz")}},
	{name: "param/single quotes are part of a token", lines: []string{`Basic realm='foo'`}, want: []Challenge{ch("Basic", "realm", "'foo'")}},
	{name: "param/BWS spaces", lines: []string{`Basic realm = "foo"`}, want: []Challenge{ch("Basic", "realm", "foo")}},
	{name: "param/BWS tabs", lines: []string{"Basic realm\t=\t\"foo\""}, want: []Challenge{ch("Basic", "realm", "foo")}},
	{name: "param/BWS before only", lines: []string{`Foo a =b, c ="d"`}, want: []Challenge{ch("Foo", "a", "b", "c", "d")}},
	{name: "param/BWS after only", lines: []string{`Foo a= b, c= "d"`}, want: []Challenge{ch("Foo", "a", "b", "c", "d")}},
	{name: "param/no space after commas", lines: []string{`Foo a=1,b="2",c=3`}, want: []Challenge{ch("Foo", "a", "1", "b", "2", "c", "3")}},
	{name: "param/spaces before commas", lines: []string{`Foo a=1 ,b="2" , c=3`}, want: []Challenge{ch("Foo", "a", "1", "b", "2", "c", "3")}},
	{name: "param/tabs around commas", lines: []string{"Foo a=1\t,\tb=\"2\""}, want: []Challenge{ch("Foo", "a", "1", "b", "2")}},
	{name: "param/name with a star (RFC 8187 style)", lines: []string{`Foo title*=UTF-8''%e2%82%ac%20rates`}, want: []Challenge{ch("Foo", "title*", "UTF-8''%e2%82%ac%20rates")}},
	{name: "param/name and star name are different", lines: []string{`Foo title="x", title*=UTF-8''x`}, want: []Challenge{ch("Foo", "title", "x", "title*", "UTF-8''x")}},
	{name: "param/param named like a scheme", lines: []string{`Basic realm="a", basic="b"`}, want: []Challenge{ch("Basic", "realm", "a", "basic", "b")}},
	{name: "param/order kept", lines: []string{`Basic bar="xyz", realm="foo"`}, want: []Challenge{ch("Basic", "bar", "xyz", "realm", "foo")}},
	{name: "param/missing value before a comma", lines: []string{`Foo a=b, c=, Bar`}, want: []Challenge{ch("Bar")}, wantErr: true},
	{name: "param/missing value at the end", lines: []string{`Foo a=b, c=`}, wantErr: true},
	{name: "param/missing value then BWS", lines: []string{`Foo abc =, Bar`}, want: []Challenge{ch("Bar")}, wantErr: true},
	{name: "param/double equals", lines: []string{`Foo a==b`}, wantErr: true},
	{name: "param/name without equals after a param", lines: []string{`Foo a=b, c, d=e`}, want: []Challenge{ch("Foo", "a", "b"), ch("c")}, wantErr: true},
	{name: "param/slash in a token value", lines: []string{`Foo realm=http://example.com/`}, wantErr: true},
	{name: "param/at sign in a token value", lines: []string{`Digest realm=test@host, Basic`}, want: []Challenge{ch("Basic")}, wantErr: true},
	{name: "param/colon in a token value", lines: []string{`Foo a=b:c`}, wantErr: true},
	{name: "param/base64 padding in a token value", lines: []string{`Foo data=YWJj=`}, wantErr: true},
	{name: "param/backslashes in a token value", lines: []string{`Basic realm=\f\o\o`}, wantErr: true},
	{name: "param/non-ASCII in a token value", lines: []string{"Foo a=caf\xc3\xa9"}, wantErr: true},
	{name: "param/non-ASCII name", lines: []string{"Foo r\xc3\xa9alm=\"x\""}, wantErr: true},
	{name: "param/semicolon separator", lines: []string{`Foo a=b; c=d`}, wantErr: true},
	{name: "param/missing comma", lines: []string{`Newauth realm="a" type=1`}, wantErr: true},
	{name: "param/garbage after a quoted-string", lines: []string{`Basic realm="foo"bar, Bearer`}, want: []Challenge{ch("Bearer")}, wantErr: true},
	{name: "param/two quoted-strings", lines: []string{`Basic realm="a""b"`}, wantErr: true},
	{name: "param/quoted name", lines: []string{`Foo "a"="b"`}, wantErr: true},
	{name: "param/empty name", lines: []string{`Foo a=b, ="c"`}, wantErr: true},
	{name: "param/long name and token value", lines: []string{"Foo " + strings.Repeat("n", 5000) + "=" + strings.Repeat("v", 5000)}, want: []Challenge{ch("Foo", strings.Repeat("n", 5000), strings.Repeat("v", 5000))}},
	{name: "param/many params", lines: []string{`Foo a=1, b=2, c=3, d=4, e=5, f=6, g=7, h=8, i=9, j=10, k=11, l=12`}, want: []Challenge{ch("Foo", "a", "1", "b", "2", "c", "3", "d", "4", "e", "5", "f", "6", "g", "7", "h", "8", "i", "9", "j", "10", "k", "11", "l", "12")}},

	// quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE.
	{name: "quoted/empty", lines: []string{`Basic realm=""`}, want: []Challenge{ch("Basic", "realm", "")}},
	{name: "quoted/empty then another param", lines: []string{`Bearer realm="", scope=""`}, want: []Challenge{ch("Bearer", "realm", "", "scope", "")}},
	{name: "quoted/spaces and tabs inside", lines: []string{"Basic realm=\" a \tb \""}, want: []Challenge{ch("Basic", "realm", " a \tb ")}},
	{name: "quoted/comma and equals inside", lines: []string{`Basic realm="a, b=c, Bearer x", Bearer`}, want: []Challenge{ch("Basic", "realm", "a, b=c, Bearer x"), ch("Bearer")}},
	{name: "quoted/disguised realm in another param", lines: []string{`Basic foo="realm=nottherealm", realm="basic"`}, want: []Challenge{ch("Basic", "foo", "realm=nottherealm", "realm", "basic")}},
	{name: "quoted/disguised realm in a param name", lines: []string{`Basic nottherealm="nottherealm", realm="basic"`}, want: []Challenge{ch("Basic", "nottherealm", "nottherealm", "realm", "basic")}},
	{name: "quoted/semicolon and parentheses inside", lines: []string{`Foo a="x; y (z) <w> [v] {u} @:?/"`}, want: []Challenge{ch("Foo", "a", "x; y (z) <w> [v] {u} @:?/")}},
	{name: "quoted/percent is literal", lines: []string{`Basic realm="foo%20bar"`}, want: []Challenge{ch("Basic", "realm", "foo%20bar")}},
	{name: "quoted/RFC 2047 encoded word is literal", lines: []string{`Basic realm="=?ISO-8859-1?Q?foo-=E4?="`}, want: []Challenge{ch("Basic", "realm", "=?ISO-8859-1?Q?foo-=E4?=")}},
	{name: "quoted/ISO-8859-1 obs-text", lines: []string{"Basic realm=\"foo-\xe4\""}, want: []Challenge{ch("Basic", "realm", "foo-\xe4")}},
	{name: "quoted/UTF-8 obs-text", lines: []string{"Basic realm=\"foo-\xc3\xa4\""}, want: []Challenge{ch("Basic", "realm", "foo-\xc3\xa4")}},
	{name: "quoted/emoji", lines: []string{"Bearer error_description=\"token \xf0\x9f\x94\x91 expired\""}, want: []Challenge{ch("Bearer", "error_description", "token \xf0\x9f\x94\x91 expired")}},
	{name: "quoted/invalid UTF-8 is still obs-text", lines: []string{"Foo a=\"\x80\xff\xfe\""}, want: []Challenge{ch("Foo", "a", "\x80\xff\xfe")}},
	{name: "quoted/pair escaping ordinary characters", lines: []string{`Basic realm="\f\o\o"`}, want: []Challenge{ch("Basic", "realm", "foo")}},
	{name: "quoted/pair escaping quotes", lines: []string{`Basic realm="\"foo\""`}, want: []Challenge{ch("Basic", "realm", `"foo"`)}},
	{name: "quoted/pair escaping a quote in the middle", lines: []string{`Basic realm="foo\"bar"`}, want: []Challenge{ch("Basic", "realm", `foo"bar`)}},
	{name: "quoted/pair escaping a backslash", lines: []string{`Basic realm="foo\\bar"`}, want: []Challenge{ch("Basic", "realm", `foo\bar`)}},
	{name: "quoted/escaped backslash before the closing quote", lines: []string{`Foo a="x\\", b=c`}, want: []Challenge{ch("Foo", "a", `x\`, "b", "c")}},
	{name: "quoted/pair escaping SP and HTAB", lines: []string{"Foo a=\"\\ \\\t\""}, want: []Challenge{ch("Foo", "a", " \t")}},
	{name: "quoted/pair escaping obs-text", lines: []string{"Foo a=\"\\\xc3\xa9\""}, want: []Challenge{ch("Foo", "a", "\xc3\xa9")}},
	{name: "quoted/pair escaping a comma", lines: []string{`Foo a="x\,y", b=c`}, want: []Challenge{ch("Foo", "a", "x,y", "b", "c")}},
	{name: "quoted/only quoted-pairs", lines: []string{`Foo a="\"\\\""`}, want: []Challenge{ch("Foo", "a", `"\"`)}},
	{name: "quoted/unterminated", lines: []string{`Basic realm="basic`}, wantErr: true},
	{name: "quoted/unterminated after a good challenge", lines: []string{`Bearer, Basic realm="basic`}, want: []Challenge{ch("Bearer")}, wantErr: true},
	{name: "quoted/unterminated swallows what follows", lines: []string{`Basic realm="basic, Bearer realm=x`}, wantErr: true},
	{name: "quoted/backslash escapes the closing quote", lines: []string{`Basic realm="foo\"`}, wantErr: true},
	{name: "quoted/lone quote", lines: []string{`Basic realm="`}, wantErr: true},
	{name: "quoted/LF inside", lines: []string{"Basic realm=\"foo\nbar\", Bearer"}, want: []Challenge{ch("Bearer")}, wantErr: true},
	{name: "quoted/CR inside", lines: []string{"Basic realm=\"foo\rbar\""}, wantErr: true},
	{name: "quoted/NUL inside", lines: []string{"Basic realm=\"foo\x00bar\""}, wantErr: true},
	{name: "quoted/DEL inside", lines: []string{"Basic realm=\"foo\x7fbar\""}, wantErr: true},
	{name: "quoted/escaped control character", lines: []string{"Basic realm=\"foo\\\x01bar\""}, wantErr: true},
	{name: "quoted/escaped DEL", lines: []string{"Basic realm=\"\\\x7f\""}, wantErr: true},
	{name: "quoted/quote in the middle of a token value", lines: []string{`Foo a=b"c"`}, wantErr: true},
	{name: "quoted/value as first element after the scheme", lines: []string{`Basic "foo"`}, wantErr: true},
	{name: "quoted/long value", lines: []string{`Bearer error_description="` + strings.Repeat("x", 70000) + `"`}, want: []Challenge{ch("Bearer", "error_description", strings.Repeat("x", 70000))}},
	{name: "quoted/long escaped value", lines: []string{`Foo a="` + strings.Repeat(`\"`, 5000) + `"`}, want: []Challenge{ch("Foo", "a", strings.Repeat(`"`, 5000))}},

	// Lists (RFC 9110 §5.6.1): empty elements are accepted and ignored.
	{name: "list/no field line", lines: nil},
	{name: "list/empty field line", lines: []string{""}},
	{name: "list/only whitespace", lines: []string{" \t  "}},
	{name: "list/lone comma", lines: []string{","}},
	{name: "list/commas and whitespace", lines: []string{" , ,\t, "}},
	{name: "list/scheme then comma", lines: []string{`Bearer,`}, want: []Challenge{ch("Bearer")}},
	{name: "list/scheme then space and comma", lines: []string{`Bearer ,`}, want: []Challenge{ch("Bearer")}},
	{name: "list/comma then scheme", lines: []string{`, Bearer`}, want: []Challenge{ch("Bearer")}},
	{name: "list/comma glued to scheme", lines: []string{`,Basic realm="basic"`}, want: []Challenge{ch("Basic", "realm", "basic")}},
	{name: "list/trailing comma after params", lines: []string{`Basic realm="foo",`}, want: []Challenge{ch("Basic", "realm", "foo")}},
	{name: "list/trailing commas and spaces", lines: []string{`Basic realm="foo" , , `}, want: []Challenge{ch("Basic", "realm", "foo")}},
	{name: "list/empty elements between params", lines: []string{`Basic realm="foo", bar="xyz",, a=b,,,c=d`}, want: []Challenge{ch("Basic", "realm", "foo", "bar", "xyz", "a", "b", "c", "d")}},
	{name: "list/empty elements between challenges", lines: []string{`Basic realm="a",,, ,Bearer realm="b"`}, want: []Challenge{ch("Basic", "realm", "a"), ch("Bearer", "realm", "b")}},
	// "Basic ," has the 1*SP, so an (empty) param list has begun and the
	// param joins it.
	{name: "list/space and comma before the first param", lines: []string{`Basic , realm="foo"`}, want: []Challenge{ch("Basic", "realm", "foo")}},
	{name: "list/space and comma glued to the first param", lines: []string{`Bearer ,realm="x"`}, want: []Challenge{ch("Bearer", "realm", "x")}},
	// Without the 1*SP, "Basic" is a challenge of its own and the param
	// after it belongs to no challenge. Basic alone is well-formed and is
	// kept; the stray param is reported.
	{name: "list/comma right after the scheme", lines: []string{`Basic, realm="foo"`}, want: []Challenge{ch("Basic")}, wantErr: true},
	{name: "list/comma right after the scheme, no spaces", lines: []string{`Bearer,realm="x"`}, want: []Challenge{ch("Bearer")}, wantErr: true},
	{name: "list/tab then comma after the scheme", lines: []string{"Basic\t, realm=\"foo\""}, want: []Challenge{ch("Basic")}, wantErr: true},
	{name: "list/params before any scheme", lines: []string{`realm="x", Bearer`}, want: []Challenge{ch("Bearer")}, wantErr: true},
	{name: "list/junk element between challenges", lines: []string{`Basic, (junk), Bearer`}, want: []Challenge{ch("Basic"), ch("Bearer")}, wantErr: true},
	{name: "list/quoted-string element between challenges", lines: []string{`Basic, "x", Bearer`}, want: []Challenge{ch("Basic"), ch("Bearer")}, wantErr: true},
	{name: "list/junk element among params", lines: []string{`Bearer realm="x", "junk", error="y", Basic`}, want: []Challenge{ch("Basic")}, wantErr: true},
	// A token followed by a space is a challenge whose param list is open,
	// so the param after it is its own: two well-formed challenges.
	{name: "list/bare token with a space takes the next param", lines: []string{`Bearer realm="x", junk , error="y"`}, want: []Challenge{ch("Bearer", "realm", "x"), ch("junk", "error", "y")}},
	// A token68 challenge is complete, so junk after it is outside it.
	{name: "list/junk element after a token68 challenge", lines: []string{`Negotiate abc, (junk), Basic`}, want: []Challenge{t68("Negotiate", "abc"), ch("Basic")}, wantErr: true},
	// A malformed element inside an open param list belongs to that
	// challenge, which is dropped: its params may have been cut short.
	{name: "list/junk element ends a param list", lines: []string{`Bearer realm="x", @, Basic realm="y"`}, want: []Challenge{ch("Basic", "realm", "y")}, wantErr: true},
	{name: "list/many challenges", lines: []string{strings.Repeat("A, ", 500) + "B"}, want: append(repeatChallenge(ch("A"), 500), ch("B"))},
	{name: "list/challenges without a comma between them", lines: []string{`Basic realm="a" Bearer realm="b"`}, wantErr: true},

	// Duplicate params: "Each parameter name MUST only occur once per
	// challenge" (RFC 9110 §11.2). Which value was meant cannot be known,
	// so the challenge is dropped and reported; the others are kept.
	{name: "duplicate/same case", lines: []string{`Basic realm="foo", realm="bar"`}, wantErr: true},
	{name: "duplicate/other case", lines: []string{`Basic realm="foo", Realm="bar"`}, wantErr: true},
	{name: "duplicate/same value", lines: []string{`Bearer error=invalid_token, error="invalid_token"`}, wantErr: true},
	{name: "duplicate/not adjacent", lines: []string{`Foo a=1, b=2, c=3, A=4`}, wantErr: true},
	{name: "duplicate/among many", lines: []string{`Foo a=1, b=2, c=3, d=4, e=5, f=6, g=7, h=8, i=9, j=10, k=11, E=12`}, wantErr: true},
	{name: "duplicate/drops its challenge only", lines: []string{`Basic realm="a", realm="b", Bearer error="invalid_token"`}, want: []Challenge{ch("Bearer", "error", "invalid_token")}, wantErr: true},
	{name: "duplicate/in different challenges is fine", lines: []string{`Basic realm="a", Digest realm="a", nonce="n"`}, want: []Challenge{ch("Basic", "realm", "a"), ch("Digest", "realm", "a", "nonce", "n")}},
	{name: "duplicate/across field lines", lines: []string{`Bearer realm="a"`, `realm="b"`}, wantErr: true},

	// Several field lines mean the same as one joined with ", " (§5.3).
	{name: "lines/one challenge per line", lines: []string{`Newauth realm="newauth"`, `Basic realm="basic"`}, want: []Challenge{ch("Newauth", "realm", "newauth"), ch("Basic", "realm", "basic")}},
	{name: "lines/empty line then a challenge", lines: []string{``, `Basic realm="basic"`}, want: []Challenge{ch("Basic", "realm", "basic")}},
	{name: "lines/empty lines around", lines: []string{``, `Bearer`, ` `, `,`, ``}, want: []Challenge{ch("Bearer")}},
	{name: "lines/params go on in the next line", lines: []string{`Bearer realm="x",`, `error="invalid_token"`}, want: []Challenge{ch("Bearer", "realm", "x", "error", "invalid_token")}},
	{name: "lines/scheme alone then its params", lines: []string{`Basic`, `realm="x"`}, want: []Challenge{ch("Basic")}, wantErr: true},
	{name: "lines/token68 then a challenge", lines: []string{`Negotiate abc==`, `NTLM`}, want: []Challenge{t68("Negotiate", "abc=="), ch("NTLM")}},
	// The ", " that joins the lines is part of a quoted-string left open
	// at a line end, so a value that an intermediary split at a comma is
	// put back together.
	{name: "lines/quoted-string across lines", lines: []string{`Bearer error_description="a`, `b", error="invalid_token"`}, want: []Challenge{ch("Bearer", "error_description", "a, b", "error", "invalid_token")}},
	// By the same rule, an unterminated quoted-string takes the next line
	// in; what follows its new end is malformed, so nothing is kept.
	{name: "lines/unterminated quoted-string takes the next line", lines: []string{`Basic realm="basic`, `Newauth realm="newauth"`}, wantErr: true},
	{name: "lines/bad line between good ones", lines: []string{`Bearer realm="a"`, `Basic realm="b" x`, `DPoP algs="ES256"`}, want: []Challenge{ch("Bearer", "realm", "a"), ch("DPoP", "algs", "ES256")}, wantErr: true},
	{name: "lines/stray param on its own line", lines: []string{`Negotiate abc==`, `realm="x"`, `Basic realm="y"`}, want: []Challenge{t68("Negotiate", "abc=="), ch("Basic", "realm", "y")}, wantErr: true},
	// Field values never hold CR or LF: obs-fold is replaced with SP
	// before the value is interpreted (RFC 9112 §5.2).
	{name: "lines/unfolded obs-fold", lines: []string{`Basic   realm="foo"`}, want: []Challenge{ch("Basic", "realm", "foo")}},
	{name: "lines/raw obs-fold", lines: []string{"Basic\r\n realm=\"foo\""}, wantErr: true},
	{name: "lines/trailing CR", lines: []string{"Basic realm=\"foo\"\r"}, wantErr: true},
	{name: "lines/byte order mark before the scheme", lines: []string{"\xef\xbb\xbfBasic realm=\"foo\""}, wantErr: true},
	{name: "lines/many lines", lines: repeatLine(`Bearer realm="r"`, 200), want: repeatChallenge(ch("Bearer", "realm", "r"), 200)},
	{name: "lines/raw newline between challenges", lines: []string{"Basic realm=\"a\"\nBearer"}, wantErr: true},

	// RFC 9110 §11 examples and the Newauth scheme.
	{name: "RFC 9110/Newauth and Basic", lines: []string{`Newauth realm="apps", type=1, title="Login to \"apps\"", Basic realm="simple"`}, want: []Challenge{ch("Newauth", "realm", "apps", "type", "1", "title", `Login to "apps"`), ch("Basic", "realm", "simple")}},
	{name: "RFC 9110/Basic and Newauth", lines: []string{`Basic realm="simple", Newauth realm="apps", type=1, title="Login to \"apps\""`}, want: []Challenge{ch("Basic", "realm", "simple"), ch("Newauth", "realm", "apps", "type", "1", "title", `Login to "apps"`)}},
	{name: "RFC 9110/Proxy-Authenticate Basic", lines: []string{`Basic realm="simple"`}, want: []Challenge{ch("Basic", "realm", "simple")}},
	{name: "RFC 9110/Newauth with a param named basic", lines: []string{`Newauth realm="Newauth Realm", basic=foo, Basic realm="Basic Realm"`}, want: []Challenge{ch("Newauth", "realm", "Newauth Realm", "basic", "foo"), ch("Basic", "realm", "Basic Realm")}},
	{name: "RFC 9110/Newauth without params then Basic", lines: []string{`Newauth, Basic realm="basic"`}, want: []Challenge{ch("Newauth"), ch("Basic", "realm", "basic")}},
	{name: "RFC 9110/Basic then Newauth without params", lines: []string{`Basic realm="basic", Newauth`}, want: []Challenge{ch("Basic", "realm", "basic"), ch("Newauth")}},

	// RFC 7617 (Basic).
	{name: "RFC 7617/WallyWorld", lines: []string{`Basic realm="WallyWorld"`}, want: []Challenge{ch("Basic", "realm", "WallyWorld")}},
	{name: "RFC 7617/charset", lines: []string{`Basic realm="foo", charset="UTF-8"`}, want: []Challenge{ch("Basic", "realm", "foo", "charset", "UTF-8")}},
	{name: "RFC 7617/charset as a token, lower case", lines: []string{`Basic realm="foo", charset=utf-8`}, want: []Challenge{ch("Basic", "realm", "foo", "charset", "utf-8")}},
	{name: "RFC 7617/charset first", lines: []string{`Basic charset="UTF-8", realm="foo"`}, want: []Challenge{ch("Basic", "charset", "UTF-8", "realm", "foo")}},
	{name: "RFC 7617/realm with spaces and at sign", lines: []string{`Basic realm="Users @ example.com"`}, want: []Challenge{ch("Basic", "realm", "Users @ example.com")}},

	// RFC 7616 (Digest) and the RFC 2617 example it replaces.
	{name: "RFC 7616/SHA-256 and MD5 on two lines", lines: []string{
		`Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=SHA-256, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"`,
		`Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=MD5, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"`,
	}, want: []Challenge{
		ch("Digest", "realm", "http-auth@example.org", "qop", "auth, auth-int", "algorithm", "SHA-256", "nonce", "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", "opaque", "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"),
		ch("Digest", "realm", "http-auth@example.org", "qop", "auth, auth-int", "algorithm", "MD5", "nonce", "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", "opaque", "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"),
	}},
	{name: "RFC 7616/userhash and charset", lines: []string{`Digest realm="api@example.org", qop="auth", algorithm=SHA-512-256, nonce="5TsQWLVdgBdmrQ0XsxbDODV+57QdFR34I9HAbC/RVvkK", opaque="HRPCssKJSGjCrkzDg8OhwpzCiGPChXYjwrI2QmXDnsOS", charset=UTF-8, userhash=true`},
		want: []Challenge{ch("Digest", "realm", "api@example.org", "qop", "auth", "algorithm", "SHA-512-256", "nonce", "5TsQWLVdgBdmrQ0XsxbDODV+57QdFR34I9HAbC/RVvkK", "opaque", "HRPCssKJSGjCrkzDg8OhwpzCiGPChXYjwrI2QmXDnsOS", "charset", "UTF-8", "userhash", "true")}},
	{name: "RFC 2617/qop list without spaces", lines: []string{`Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"`},
		want: []Challenge{ch("Digest", "realm", "testrealm@host.com", "qop", "auth,auth-int", "nonce", "dcd98b7102dd2f0e8b11d0f600bfb0c093", "opaque", "5ccc069c403ebaf9f0171e9517f40e41")}},
	{name: "RFC 7616/stale and domain", lines: []string{`Digest realm="r", domain="/private/ https://mirror.example.com/private/", nonce="n", stale=TRUE, algorithm=MD5-sess`},
		want: []Challenge{ch("Digest", "realm", "r", "domain", "/private/ https://mirror.example.com/private/", "nonce", "n", "stale", "TRUE", "algorithm", "MD5-sess")}},
	{name: "Digest/qop as a token", lines: []string{`Digest realm="testrealm", nonce="1053604145", qop=auth`}, want: []Challenge{ch("Digest", "realm", "testrealm", "nonce", "1053604145", "qop", "auth")}},
	{name: "Digest/quoted algorithm and stale", lines: []string{`Digest realm="me@kennethreitz.com", nonce="6bf5d6e4da1ce66918800195d6b9130d", qop="auth", opaque="372825293d1c26955496c80ed6426e9e", algorithm="MD5", stale=FALSE`},
		want: []Challenge{ch("Digest", "realm", "me@kennethreitz.com", "nonce", "6bf5d6e4da1ce66918800195d6b9130d", "qop", "auth", "opaque", "372825293d1c26955496c80ed6426e9e", "algorithm", "MD5", "stale", "FALSE")}},
	{name: "Digest/then Basic on the same line", lines: []string{`Digest realm="testrealm", nonce="2053604145", Basic realm="testrealm"`}, want: []Challenge{ch("Digest", "realm", "testrealm", "nonce", "2053604145"), ch("Basic", "realm", "testrealm")}},
	{name: "Digest/lower case scheme, no spaces", lines: []string{`digest realm="r",nonce="n",qop="auth"`}, want: []Challenge{ch("digest", "realm", "r", "nonce", "n", "qop", "auth")}},
	{name: "Digest/quoted-pair in the realm", lines: []string{`Digest realm="a \"quoted\" realm", nonce="n"`}, want: []Challenge{ch("Digest", "realm", `a "quoted" realm`, "nonce", "n")}},

	// RFC 6750 §3 (Bearer).
	{name: "RFC 6750/realm", lines: []string{`Bearer realm="example"`}, want: []Challenge{ch("Bearer", "realm", "example")}},
	{name: "RFC 6750/invalid_token", lines: []string{`Bearer realm="example", error="invalid_token", error_description="The access token expired"`}, want: []Challenge{ch("Bearer", "realm", "example", "error", "invalid_token", "error_description", "The access token expired")}},
	{name: "RFC 6750/no token sent", lines: []string{`Bearer`}, want: []Challenge{ch("Bearer")}},
	{name: "RFC 6750/invalid_request", lines: []string{`Bearer error="invalid_request"`}, want: []Challenge{ch("Bearer", "error", "invalid_request")}},
	{name: "RFC 6750/insufficient_scope", lines: []string{`Bearer realm="example", error="insufficient_scope", scope="read write"`}, want: []Challenge{ch("Bearer", "realm", "example", "error", "insufficient_scope", "scope", "read write")}},
	{name: "RFC 6750/error_uri", lines: []string{`Bearer error="invalid_token", error_uri="https://server.example.com/errors/invalid_token"`}, want: []Challenge{ch("Bearer", "error", "invalid_token", "error_uri", "https://server.example.com/errors/invalid_token")}},
	{name: "RFC 6750/error as a token", lines: []string{`Bearer error=invalid_token`}, want: []Challenge{ch("Bearer", "error", "invalid_token")}},
	{name: "RFC 6750/lower case scheme", lines: []string{`bearer realm="example"`}, want: []Challenge{ch("bearer", "realm", "example")}},

	// RFC 9449 (DPoP).
	{name: "RFC 9449/algs", lines: []string{`DPoP algs="ES256 PS256"`}, want: []Challenge{ch("DPoP", "algs", "ES256 PS256")}},
	{name: "RFC 9449/Bearer and DPoP", lines: []string{`Bearer, DPoP algs="ES256 PS256"`}, want: []Challenge{ch("Bearer"), ch("DPoP", "algs", "ES256 PS256")}},
	{name: "RFC 9449/use_dpop_nonce", lines: []string{`DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof"`}, want: []Challenge{ch("DPoP", "error", "use_dpop_nonce", "error_description", "Resource server requires nonce in DPoP proof")}},
	{name: "RFC 9449/invalid_dpop_proof with algs", lines: []string{`DPoP error="invalid_dpop_proof", error_description="Invalid DPoP key binding", algs="ES256"`}, want: []Challenge{ch("DPoP", "error", "invalid_dpop_proof", "error_description", "Invalid DPoP key binding", "algs", "ES256")}},
	{name: "RFC 9449/invalid_token", lines: []string{`DPoP error="invalid_token", algs="ES256 EdDSA"`}, want: []Challenge{ch("DPoP", "error", "invalid_token", "algs", "ES256 EdDSA")}},
	{name: "RFC 9449/upper case scheme on a second line", lines: []string{`Bearer realm="api"`, `DPOP algs="ES256"`}, want: []Challenge{ch("Bearer", "realm", "api"), ch("DPOP", "algs", "ES256")}},

	// RFC 9470 (step-up authentication).
	{name: "RFC 9470/acr_values", lines: []string{`Bearer error="insufficient_user_authentication", error_description="A different authentication level is required", acr_values="myACR"`},
		want: []Challenge{ch("Bearer", "error", "insufficient_user_authentication", "error_description", "A different authentication level is required", "acr_values", "myACR")}},
	{name: "RFC 9470/max_age quoted", lines: []string{`Bearer error="insufficient_user_authentication", error_description="More recent authentication is required", max_age="5"`},
		want: []Challenge{ch("Bearer", "error", "insufficient_user_authentication", "error_description", "More recent authentication is required", "max_age", "5")}},
	{name: "RFC 9470/max_age token", lines: []string{`Bearer error="insufficient_user_authentication", max_age=5`}, want: []Challenge{ch("Bearer", "error", "insufficient_user_authentication", "max_age", "5")}},
	{name: "RFC 9470/several acr values", lines: []string{`Bearer error="insufficient_user_authentication", acr_values="urn:mace:incommon:iap:silver urn:example:mfa"`}, want: []Challenge{ch("Bearer", "error", "insufficient_user_authentication", "acr_values", "urn:mace:incommon:iap:silver urn:example:mfa")}},

	// RFC 9728 (protected resource metadata).
	{name: "RFC 9728/resource_metadata", lines: []string{`Bearer resource_metadata="https://resource.example.com/.well-known/oauth-protected-resource"`}, want: []Challenge{ch("Bearer", "resource_metadata", "https://resource.example.com/.well-known/oauth-protected-resource")}},
	{name: "RFC 9728/with an error", lines: []string{`Bearer error="invalid_request", error_description="No access token was provided in this request", resource_metadata="https://resource.example.com/.well-known/oauth-protected-resource"`},
		want: []Challenge{ch("Bearer", "error", "invalid_request", "error_description", "No access token was provided in this request", "resource_metadata", "https://resource.example.com/.well-known/oauth-protected-resource")}},
	{name: "RFC 9728/unquoted URL is not a token", lines: []string{`Bearer resource_metadata=https://resource.example.com/.well-known/oauth-protected-resource`}, wantErr: true},

	// RFC 8120 (Mutual), RFC 7486 (HOBA), RFC 7804 (SCRAM), RFC 4559 (Negotiate).
	{name: "RFC 8120/Mutual initial", lines: []string{`Mutual version=1, algorithm=iso-kam3-dl-2048-sha256, validation=host, realm="auth-realm", reason=initial`},
		want: []Challenge{ch("Mutual", "version", "1", "algorithm", "iso-kam3-dl-2048-sha256", "validation", "host", "realm", "auth-realm", "reason", "initial")}},
	{name: "RFC 8120/Mutual key exchange", lines: []string{`Mutual sid=0b1fe1f6, algorithm=iso-kam3-dl-2048-sha256, validation=host, realm="auth-realm", kc1="c2VydmVyLWtleQ==", vkc="dmVyaWZpZXI="`},
		want: []Challenge{ch("Mutual", "sid", "0b1fe1f6", "algorithm", "iso-kam3-dl-2048-sha256", "validation", "host", "realm", "auth-realm", "kc1", "c2VydmVyLWtleQ==", "vkc", "dmVyaWZpZXI=")}},
	{name: "RFC 7486/HOBA", lines: []string{`HOBA challenge="aGVsbG8td29ybGQtY2hhbGxlbmdl", max-age=10, realm="hoba"`}, want: []Challenge{ch("HOBA", "challenge", "aGVsbG8td29ybGQtY2hhbGxlbmdl", "max-age", "10", "realm", "hoba")}},
	{name: "RFC 7804/SCRAM quoted data", lines: []string{`SCRAM-SHA-256 realm="testrealm@example.com", sid=AAAABBBBCCCCDDDD, data="cj1yT3ByTkdmd0ViZQ=="`}, want: []Challenge{ch("SCRAM-SHA-256", "realm", "testrealm@example.com", "sid", "AAAABBBBCCCCDDDD", "data", "cj1yT3ByTkdmd0ViZQ==")}},
	{name: "RFC 4559/Negotiate alone", lines: []string{`Negotiate`}, want: []Challenge{ch("Negotiate")}},
	{name: "RFC 4559/Negotiate hex token", lines: []string{`Negotiate a87421000492aa874209af8bc028`}, want: []Challenge{t68("Negotiate", "a87421000492aa874209af8bc028")}},
	{name: "RFC 4559/Negotiate SPNEGO token", lines: []string{`Negotiate oYG2MIGzoAMKAQChCwYJKoZIgvcSAQICooGeBIGbYIGYBgkqhkiG9xIBAgICAG+BiDCBhaADAgEF/Hu4FBEQtlF6jnpFyq9ZT8gg+V2lL61YZcmOdVd2H9pFz4Miu==`},
		want: []Challenge{t68("Negotiate", "oYG2MIGzoAMKAQChCwYJKoZIgvcSAQICooGeBIGbYIGYBgkqhkiG9xIBAgICAG+BiDCBhaADAgEF/Hu4FBEQtlF6jnpFyq9ZT8gg+V2lL61YZcmOdVd2H9pFz4Miu==")}},
	{name: "NTLM/type 2 message", lines: []string{`NTLM TlRMTVNTUAACAAAADAAMADgAAAAFgomiESIzRFVmd4gAAAAAAAAAAIoAigBEAAAABgEAAAAAAA9DAE8ATgBUAE8AUwBPAA==`},
		want: []Challenge{t68("NTLM", "TlRMTVNTUAACAAAADAAMADgAAAAFgomiESIzRFVmd4gAAAAAAAAAAIoAigBEAAAABgEAAAAAAA9DAE8ATgBUAE8AUwBPAA==")}},
	{name: "NTLM/Negotiate and NTLM on two lines", lines: []string{`Negotiate`, `NTLM`}, want: []Challenge{ch("Negotiate"), ch("NTLM")}},
	{name: "NTLM/Negotiate, NTLM and Basic on one line", lines: []string{`Negotiate, NTLM, Basic realm="contoso.com"`}, want: []Challenge{ch("Negotiate"), ch("NTLM"), ch("Basic", "realm", "contoso.com")}},
	{name: "NTLM/token68 then params of another scheme", lines: []string{`Negotiate YIIBcAYGKwYBBQUC, Basic realm="x", charset="UTF-8"`}, want: []Challenge{t68("Negotiate", "YIIBcAYGKwYBBQUC"), ch("Basic", "realm", "x", "charset", "UTF-8")}},

	// AWS-style signature fields: "/" and ";" are not tchar, so unquoted
	// they make no auth-param; quoted they are fine.
	{name: "AWS/SigV4 style, unquoted", lines: []string{`AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7`}, wantErr: true},
	{name: "AWS/SigV4 style, quoted", lines: []string{`AWS4-HMAC-SHA256 Credential="AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request", SignedHeaders="content-type;host;x-amz-date", Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7`},
		want: []Challenge{ch("AWS4-HMAC-SHA256", "Credential", "AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request", "SignedHeaders", "content-type;host;x-amz-date", "Signature", "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7")}},
	{name: "AWS/scheme only before Bearer", lines: []string{`AWS4-HMAC-SHA256, Bearer realm="aws"`}, want: []Challenge{ch("AWS4-HMAC-SHA256"), ch("Bearer", "realm", "aws")}},

	// Headers from well-known services.
	{name: "service/Docker Hub", lines: []string{`Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:samalba/my-app:pull,push"`},
		want: []Challenge{ch("Bearer", "realm", "https://auth.docker.io/token", "service", "registry.docker.io", "scope", "repository:samalba/my-app:pull,push")}},
	{name: "service/Docker Hub insufficient_scope", lines: []string{`Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/ubuntu:pull",error="insufficient_scope"`},
		want: []Challenge{ch("Bearer", "realm", "https://auth.docker.io/token", "service", "registry.docker.io", "scope", "repository:library/ubuntu:pull", "error", "insufficient_scope")}},
	{name: "service/GitHub container registry", lines: []string{`Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:octocat/hello-world:pull"`},
		want: []Challenge{ch("Bearer", "realm", "https://ghcr.io/token", "service", "ghcr.io", "scope", "repository:octocat/hello-world:pull")}},
	{name: "service/registry Basic", lines: []string{`Basic realm="Registry Realm"`}, want: []Challenge{ch("Basic", "realm", "Registry Realm")}},
	{name: "service/GitHub git over HTTP", lines: []string{`Basic realm="GitHub"`}, want: []Challenge{ch("Basic", "realm", "GitHub")}},
	{name: "service/GitLab revoked token", lines: []string{`Bearer realm="GitLab", error="invalid_token", error_description="Token was revoked. You have to re-authorize from the user."`},
		want: []Challenge{ch("Bearer", "realm", "GitLab", "error", "invalid_token", "error_description", "Token was revoked. You have to re-authorize from the user.")}},
	{name: "service/Azure AD", lines: []string{`Bearer authorization_uri="https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/oauth2/authorize", error="invalid_token", error_description="The authentication failed because of missing 'Authorization' header."`},
		want: []Challenge{ch("Bearer", "authorization_uri", "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/oauth2/authorize", "error", "invalid_token", "error_description", "The authentication failed because of missing 'Authorization' header.")}},
	{name: "service/Microsoft Graph", lines: []string{`Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"`},
		want: []Challenge{ch("Bearer", "realm", "", "authorization_uri", "https://login.microsoftonline.com/common/oauth2/authorize", "client_id", "00000003-0000-0000-c000-000000000000")}},
	{name: "service/SharePoint Bearer then NTLM", lines: []string{`Bearer realm="6d5dc3a0-c2b1-4b5e-9b35-7f9bd1b3c5a1",client_id="00000003-0000-0ff1-ce00-000000000000",trusted_issuers="00000001-0000-0000-c000-000000000000@*,https://sts.windows.net/*/",authorization_uri="https://login.windows.net/common/oauth2/authorize"`, `NTLM`},
		want: []Challenge{ch("Bearer", "realm", "6d5dc3a0-c2b1-4b5e-9b35-7f9bd1b3c5a1", "client_id", "00000003-0000-0ff1-ce00-000000000000", "trusted_issuers", "00000001-0000-0000-c000-000000000000@*,https://sts.windows.net/*/", "authorization_uri", "https://login.windows.net/common/oauth2/authorize"), ch("NTLM")}},
	// Params separated by a space only, with URLs as tokens: malformed.
	{name: "service/Azure Storage style without commas", lines: []string{`Bearer authorization_uri=https://login.microsoftonline.com/tenant/oauth2/authorize resource_id=https://storage.azure.com`}, wantErr: true},
	{name: "service/Google invalid_token", lines: []string{`Bearer realm="https://accounts.google.com/", error="invalid_token"`}, want: []Challenge{ch("Bearer", "realm", "https://accounts.google.com/", "error", "invalid_token")}},
	{name: "service/Google insufficient_scope", lines: []string{`Bearer realm="https://accounts.google.com/", error="insufficient_scope", scope="https://www.googleapis.com/auth/cloud-platform https://www.googleapis.com/auth/cloud-platform.read-only"`},
		want: []Challenge{ch("Bearer", "realm", "https://accounts.google.com/", "error", "insufficient_scope", "scope", "https://www.googleapis.com/auth/cloud-platform https://www.googleapis.com/auth/cloud-platform.read-only")}},
	{name: "service/Kubernetes API server", lines: []string{`Basic realm="kubernetes-master"`}, want: []Challenge{ch("Basic", "realm", "kubernetes-master")}},
	{name: "service/Keycloak", lines: []string{`Bearer realm="myrealm", error="invalid_token", error_description="Token verification failed"`}, want: []Challenge{ch("Bearer", "realm", "myrealm", "error", "invalid_token", "error_description", "Token verification failed")}},
	{name: "service/Spring Security", lines: []string{`Bearer error="invalid_token", error_description="An error occurred while attempting to decode the Jwt: Jwt expired at 2024-01-01T00:00:00Z", error_uri="https://tools.ietf.org/html/rfc6750#section-3.1"`},
		want: []Challenge{ch("Bearer", "error", "invalid_token", "error_description", "An error occurred while attempting to decode the Jwt: Jwt expired at 2024-01-01T00:00:00Z", "error_uri", "https://tools.ietf.org/html/rfc6750#section-3.1")}},
	{name: "service/MCP server resource_metadata", lines: []string{`Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp"`}, want: []Challenge{ch("Bearer", "resource_metadata", "https://mcp.example.com/.well-known/oauth-protected-resource/mcp")}},
	{name: "service/MCP server invalid_token with scope", lines: []string{`Bearer error="invalid_token", error_description="Missing or invalid access token", resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource", scope="mcp:tools mcp:resources"`},
		want: []Challenge{ch("Bearer", "error", "invalid_token", "error_description", "Missing or invalid access token", "resource_metadata", "https://mcp.example.com/.well-known/oauth-protected-resource", "scope", "mcp:tools mcp:resources")}},
	{name: "service/nginx", lines: []string{`Basic realm="Restricted"`}, want: []Challenge{ch("Basic", "realm", "Restricted")}},
	{name: "service/IIS Negotiate NTLM Basic on three lines", lines: []string{`Negotiate`, `NTLM`, `Basic realm="iis.example.com"`}, want: []Challenge{ch("Negotiate"), ch("NTLM"), ch("Basic", "realm", "iis.example.com")}},
	{name: "service/Hawk stale timestamp", lines: []string{`Hawk ts="1353832234", tsm="h/Ff6XI1euObD78ZNflapvLKXGuaw1RiLI4Q6Q5sAbM=", error="Stale timestamp"`}, want: []Challenge{ch("Hawk", "ts", "1353832234", "tsm", "h/Ff6XI1euObD78ZNflapvLKXGuaw1RiLI4Q6Q5sAbM=", "error", "Stale timestamp")}},
	{name: "service/Bearer and Basic fallback", lines: []string{`Bearer realm="api", Basic realm="api", charset="UTF-8"`}, want: []Challenge{ch("Bearer", "realm", "api"), ch("Basic", "realm", "api", "charset", "UTF-8")}},
	{name: "service/error_description with escaped quotes", lines: []string{`Bearer error="invalid_token", error_description="The token \"abc\" is not valid"`}, want: []Challenge{ch("Bearer", "error", "invalid_token", "error_description", `The token "abc" is not valid`)}},

	// What HTTP clients' challenge tests cover.
	{name: "client/spaces everywhere", lines: []string{"  Basic  realm = \"myrealm\" ,  charset = UTF-8  "}, want: []Challenge{ch("Basic", "realm", "myrealm", "charset", "UTF-8")}},
	{name: "client/token realm then charset", lines: []string{`Basic charset=UTF-8, realm=myrealm`}, want: []Challenge{ch("Basic", "charset", "UTF-8", "realm", "myrealm")}},
	{name: "client/stale quoted", lines: []string{`Digest realm="myrealm", nonce="fjalskdflwejrlaskdfjlaskdjflaksjdflkasdf", qop="auth", stale="FALSE"`}, want: []Challenge{ch("Digest", "realm", "myrealm", "nonce", "fjalskdflwejrlaskdfjlaskdjflaksjdflkasdf", "qop", "auth", "stale", "FALSE")}},
	{name: "client/many schemes without params", lines: []string{`A, B, C, D`}, want: []Challenge{ch("A"), ch("B"), ch("C"), ch("D")}},
	{name: "client/scheme only, comma, scheme with param", lines: []string{`Basic ,Digest realm="x"`}, want: []Challenge{ch("Basic"), ch("Digest", "realm", "x")}},
	{name: "client/token68 with a trailing comma", lines: []string{`Basic dXNlcjpwYXNz==,`}, want: []Challenge{t68("Basic", "dXNlcjpwYXNz==")}},
	{name: "client/challenge after a broken one", lines: []string{`Foo x"y, Bearer realm="z"`}, want: []Challenge{ch("Bearer", "realm", "z")}, wantErr: true},
	// The params after the malformed one still belong to the dropped
	// challenge, even when they hold a comma or what looks like a scheme.
	{name: "client/params of a dropped challenge are skipped", lines: []string{`Newauth realm="a" junk, title="x, Bearer", b=c, Bearer error="invalid_token"`}, want: []Challenge{ch("Bearer", "error", "invalid_token")}, wantErr: true},
	// After a malformed challenge, a lone token is a well-formed challenge
	// of its own (it cannot be a param), so it is kept.
	{name: "client/lone token after a dropped challenge", lines: []string{`Foo a=b c, D, Bearer`}, want: []Challenge{ch("D"), ch("Bearer")}, wantErr: true},
	{name: "client/every challenge malformed", lines: []string{`Basic realm="a" b, Bearer realm="x" error="y", Digest realm="a", realm="b"`}, wantErr: true},
}

// repeatChallenge returns n copies of c.
func repeatChallenge(c Challenge, n int) []Challenge {
	out := make([]Challenge, n)
	for i := range out {
		out[i] = c
	}
	return out
}

// repeatLine returns n copies of line.
func repeatLine(line string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = line
	}
	return out
}

func TestChallengeVectors(t *testing.T) {
	names := make(map[string]bool, len(challengeVectors))
	for _, v := range challengeVectors {
		require.False(t, names[v.name], "vector names are unique: %q", v.name)
		names[v.name] = true
		t.Run(v.name, func(t *testing.T) {
			got, err := Parse(v.lines...)
			assert.Equal(t, v.want, got, "challenges of %q", v.lines)
			if !v.wantErr {
				assert.NoError(t, err, "parsing %q", v.lines)
			} else {
				var pe *ParseError
				if assert.True(t, errors.As(err, &pe), "parsing %q: want a *ParseError, got %v", v.lines, err) {
					assert.NotEmpty(t, pe.Problems, "problems of %q", v.lines)
				}
			}

			// Several lines mean the same as one joined with ", ".
			joined, jerr := Parse(strings.Join(v.lines, ", "))
			assert.Equal(t, got, joined, "the same challenges when the lines of %q are joined", v.lines)
			assert.Equal(t, err == nil, jerr == nil, "the same verdict when the lines of %q are joined", v.lines)

			// Each challenge's canonical form parses back to it.
			for _, c := range got {
				back, berr := Parse(c.String())
				if assert.NoError(t, berr, "parsing %q", c.String()) {
					assert.Equal(t, []Challenge{c}, back, "%q parses back", c.String())
				}
			}
		})
	}
	assert.GreaterOrEqual(t, len(challengeVectors), 150, "number of vectors")
}

// challengeGrammar is RFC 9110 §11's WWW-Authenticate grammar, with the
// recipient's list rule of §5.6.1 (empty elements), as one regular
// expression over a whole field value. A challenge is a scheme alone, or a
// scheme, 1*SP and a token68, or a scheme, 1*SP and a param list whose
// first element may be empty. Repeated param names are not expressed.
var challengeGrammar = func() *regexp.Regexp {
	const (
		ows     = `[ \t]*`
		token   = "[!#$%&'*+\\-.^_`|~0-9A-Za-z]+"
		token68 = `[A-Za-z0-9\-._~+/]+=*`
		qs      = `"(?:[\t \x21\x23-\x5b\x5d-\x7e\x{80}-\x{10FFFF}]|\\[\t \x21-\x7e\x{80}-\x{10FFFF}])*"`
		param   = token + ows + `=` + ows + `(?:` + token + `|` + qs + `)`
		sep     = ows + `,` + ows
		chal    = `(?:` + token + ` +(?:` + token68 + `|(?:` + param + `)?(?:(?:` + sep + `)+` + param + `)*)|` + token + `)`
	)
	return regexp.MustCompile(`^` + ows + `(?:,` + ows + `)*(?:` + chal + `(?:(?:` + sep + `)+` + chal + `)*)?(?:` + sep + `)*` + ows + `$`)
}()

// grammarChallenges extracts the challenges of a field value that
// challengeGrammar accepts, element by element: "token BWS =" starts a
// param of the last challenge, any other token a challenge, whose token68
// is what follows 1*SP when only OWS and "," or the end come after it.
func grammarChallenges(s string) []Challenge {
	var out []Challenge
	i := 0
	ws := func() {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
	}
	for {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == ',') {
			i++
		}
		if i == len(s) {
			return out
		}
		start := i
		for i < len(s) && isTchar(s[i]) {
			i++
		}
		tok := s[start:i]
		ws()
		if i < len(s) && s[i] == '=' {
			i++
			ws()
			var v strings.Builder
			if s[i] == '"' {
				for i++; s[i] != '"'; i++ {
					if s[i] == '\\' {
						i++
					}
					v.WriteByte(s[i])
				}
				i++
			} else {
				for ; i < len(s) && isTchar(s[i]); i++ {
					v.WriteByte(s[i])
				}
			}
			c := &out[len(out)-1]
			c.Params = append(c.Params, Param{Name: tok, Value: v.String()})
			continue
		}
		i = start + len(tok)
		out = append(out, Challenge{Scheme: tok})
		if i == len(s) || s[i] != ' ' {
			continue
		}
		ws()
		k := i
		for k < len(s) && isToken68Char(s[k]) {
			k++
		}
		if k == i {
			continue
		}
		for k < len(s) && s[k] == '=' {
			k++
		}
		m := k
		for m < len(s) && (s[m] == ' ' || s[m] == '\t') {
			m++
		}
		if m == len(s) || s[m] == ',' {
			out[len(out)-1].Token68 = s[i:k]
			i = m
		}
	}
}

// TestChallengeGrammarOracle compares Parse with the grammar on
// random field values built from fragments that meet at the grammar's
// edges: the parser reports a problem exactly when the grammar rejects the
// value (leaving repeated names aside), and on accepted values returns
// what grammarChallenges extracts. The seed is fixed, so a failure repeats.
func TestChallengeGrammarOracle(t *testing.T) {
	fragments := []string{
		"Basic", "Bearer ", "Foo ", "a", "b", "x", "abc", "abc=", "a=b", "realm=\"r\"", `"a, b"`, `"x"`,
		"=", "==", " =", "= ", " ", " ", "\t", ",", ", ", `"`, `\`, `\"`, "/", "+", "~", ".", "'", "(", ";",
		"\xc3\xa9", "\x01", "\x7f",
	}
	n := 200000
	if raceEnabled || testing.Short() {
		n = 20000
	}
	r := rand.New(rand.NewPCG(1, 2))
	valid, failures := 0, 0
	for range n {
		var b strings.Builder
		for range 1 + r.IntN(14) {
			b.WriteString(fragments[r.IntN(len(fragments))])
		}
		in := b.String()
		got, err := Parse(in)
		ok := challengeGrammar.MatchString(in)
		if ok && err != nil && onlyRepeatedNames(err) {
			continue
		}
		if ok != (err == nil) {
			failures++
			t.Errorf("%q: the grammar accepts it: %v; Parse returned %v", in, ok, err)
		} else if ok {
			valid++
			want := grammarChallenges(in)
			if !equalChallenges(got, want) {
				failures++
				t.Errorf("%q: Parse returned %q, the grammar gives %q", in, got, want)
			}
		}
		if failures >= 10 {
			t.Fatal("too many failures")
		}
	}
	t.Logf("%d of %d random values are well-formed", valid, n)
	assert.Greater(t, valid, n/20, "enough well-formed values to compare")
}

// onlyRepeatedNames reports whether every problem err lists is a repeated
// param name, which the regular grammar does not express.
func onlyRepeatedNames(err error) bool {
	var pe *ParseError
	if !errors.As(err, &pe) {
		return false
	}
	for _, p := range pe.Problems {
		if p.Reason != reasonDuplicate {
			return false
		}
	}
	return true
}
