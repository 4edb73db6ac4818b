package login

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzCovers checks the resource rule of Discovery.Resource: it never
// panics, and a URL always covers itself.
func FuzzCovers(f *testing.F) {
	f.Add("https://api.example/v1/", "https://api.example/v1/items") // a prefix at a "/"
	f.Add("https://api.example/v", "https://api.example/v1/items")   // a prefix inside a segment
	f.Add("https://evil.example/", "https://api.example/")           // another origin
	f.Add("https://api.example/a?b=c", "https://api.example/a?b=c")  // a query
	f.Add("http://[::1]:8080/mcp", "http://[::1]:8080/mcp/tools")    // IPv6 loopback
	f.Add("https://api.example/%2e%2e/", "https://api.example/../x") // escapes
	f.Fuzz(func(t *testing.T, resource, called string) {
		u, err := url.Parse(called)
		if err != nil {
			return
		}
		_ = covers(resource, u)
		if u.IsAbs() && u.Fragment == "" && u.RawFragment == "" && u.User == nil &&
			(strings.EqualFold(u.Scheme, "https") || strings.EqualFold(u.Scheme, "http")) {
			if !covers(u.String(), u) {
				t.Errorf("%q does not cover itself", u.String())
			}
		}
	})
}

// FuzzSeconds checks the expires_in and interval parser: it never panics
// and never gives a negative duration.
func FuzzSeconds(f *testing.F) {
	for _, seed := range []string{`3600`, `"60"`, `null`, `-5`, `1e300`, `0.5`, `"x"`, `""`} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		var s seconds
		_ = s.UnmarshalJSON([]byte(raw))
		if s < 0 {
			t.Errorf("%q gives %v", raw, s)
		}
	})
}
