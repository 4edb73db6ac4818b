package wwwauth_test

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/d5c4ca72/authtransport/wwwauth"
)

// ExampleParse parses the WWW-Authenticate lines of a 401
// response. The malformed first challenge is reported, and the good ones
// after it are still returned.
func ExampleParse() {
	h := http.Header{}
	h.Add("WWW-Authenticate", `Newauth realm="apps" type=1, Bearer realm="example",`)
	h.Add("WWW-Authenticate", `error="insufficient_scope", scope="read write"`)
	h.Add("WWW-Authenticate", `DPoP algs="ES256 PS256"`)

	challenges, err := wwwauth.Parse(h.Values("WWW-Authenticate")...)
	var perr *wwwauth.ParseError
	if errors.As(err, &perr) {
		for _, p := range perr.Problems {
			fmt.Printf("skipped %s: line %d, byte %d: %s\n", p.Scheme, p.Line, p.Offset, p.Reason)
		}
	}
	for _, c := range challenges {
		fmt.Println(c)
	}
	if c, ok := wwwauth.First(challenges, wwwauth.SchemeBearer); ok &&
		c.ErrorCode() == wwwauth.CodeInsufficientScope {
		fmt.Printf("the token lacks scope %q\n", c.Scopes())
	}
	// Output:
	// skipped Newauth: line 0, byte 21: expected "," after the auth-param
	// Bearer realm="example", error="insufficient_scope", scope="read write"
	// DPoP algs="ES256 PS256"
	// the token lacks scope ["read" "write"]
}
