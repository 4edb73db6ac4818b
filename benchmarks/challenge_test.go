// Package benchmarks compares authtransport with other implementations.
// It is a separate module so that the root module does not depend on them.
package benchmarks

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/d5c4ca72/authtransport"
	dockerchallenge "github.com/docker/distribution/registry/client/auth/challenge"
	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any test leaves a goroutine behind.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// headers are typical WWW-Authenticate fields. Challenges are one per field
// line, the only form the docker/distribution parser reads.
var headers = []struct {
	name  string
	lines []string
}{
	{name: "bearer", lines: []string{`Bearer realm="example", error="invalid_token", error_description="The access token expired"`}},
	{name: "bearer+dpop", lines: []string{`Bearer realm="example"`, `DPoP algs="ES256 PS256"`}},
	{name: "basic+charset", lines: []string{`Basic realm="simple", charset="UTF-8"`}},
	{name: "4KiB", lines: []string{header4KiB()}},
}

// header4KiB returns a 4 KiB Bearer challenge: a long scope list and
// description, as sent by APIs with fine-grained scopes. It is the same
// header as in the root package's benchmark.
func header4KiB() string {
	var b strings.Builder
	b.WriteString(`Bearer realm="https://api.example.com", error="insufficient_scope", scope="`)
	for i := 0; b.Len() < 3000; i++ {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "api.read:resource-%d", i)
	}
	b.WriteString(`", resource_metadata="https://api.example.com/.well-known/oauth-protected-resource", error_description="`)
	for b.Len() < 4096-2 {
		b.WriteString("x")
	}
	b.WriteString(`"`)
	return b.String()
}

// response returns a 401 response carrying the field lines.
func response(lines []string) *http.Response {
	h := http.Header{}
	for _, l := range lines {
		h.Add("WWW-Authenticate", l)
	}
	return &http.Response{StatusCode: http.StatusUnauthorized, Header: h}
}

// TestSameResults checks that both parsers read the benchmark headers the
// same way, so that the benchmark compares equal work.
func TestSameResults(t *testing.T) {
	for _, h := range headers {
		t.Run(h.name, func(t *testing.T) {
			resp := response(h.lines)
			ours, err := authtransport.ParseChallenges(resp.Header.Values("WWW-Authenticate")...)
			if err != nil {
				t.Fatalf("authtransport: %v", err)
			}
			theirs := dockerchallenge.ResponseChallenges(resp)
			if len(ours) != len(theirs) {
				t.Fatalf("authtransport finds %d challenges, docker %d", len(ours), len(theirs))
			}
			for k, c := range ours {
				d := theirs[k]
				if !strings.EqualFold(c.Scheme, d.Scheme) || len(c.Params) != len(d.Parameters) {
					t.Fatalf("challenge %d: authtransport %v, docker %v", k, c, d)
				}
				for _, p := range c.Params {
					if d.Parameters[strings.ToLower(p.Name)] != p.Value {
						t.Fatalf("challenge %d param %s: authtransport %q, docker %q", k, p.Name, p.Value, d.Parameters[p.Name])
					}
				}
			}
		})
	}
}

// BenchmarkParseChallenges parses each header with both parsers, from the
// same *http.Response, in the same run.
func BenchmarkParseChallenges(b *testing.B) {
	for _, h := range headers {
		resp := response(h.lines)
		n := 0
		for _, l := range h.lines {
			n += len(l)
		}
		b.Run("header="+h.name+"/parser=authtransport", func(b *testing.B) {
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				cs, err := authtransport.ParseChallenges(resp.Header.Values("WWW-Authenticate")...)
				if err != nil || len(cs) != len(h.lines) {
					b.Fatal(cs, err)
				}
			}
		})
		b.Run("header="+h.name+"/parser=docker", func(b *testing.B) {
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				if cs := dockerchallenge.ResponseChallenges(resp); len(cs) != len(h.lines) {
					b.Fatal(cs)
				}
			}
		})
	}
}
