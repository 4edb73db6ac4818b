// Package benchmarks compares authtransport with other implementations.
// It is a separate module so that the root module does not depend on them.
package benchmarks

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	dockerchallenge "github.com/docker/distribution/registry/client/auth/challenge"
	"go.uber.org/goleak"

	"github.com/d5c4ca72/authtransport/wwwauth"
)

// TestMain fails the package's tests if any test leaves a goroutine behind.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// header is a set of typical WWW-Authenticate field lines, one challenge
// per line (the only form the docker/distribution parser reads). The wwwauth
// package's BenchmarkParse uses the same file.
type header struct {
	Name  string   `json:"name"`
	Lines []string `json:"lines"`
}

func loadHeaders(tb testing.TB) []header {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join("..", "wwwauth", "testdata", "bench_headers.json"))
	if err != nil {
		tb.Fatal(err)
	}
	var hs []header
	if err := json.Unmarshal(data, &hs); err != nil {
		tb.Fatal(err)
	}
	return hs
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
	for _, h := range loadHeaders(t) {
		t.Run(h.Name, func(t *testing.T) {
			resp := response(h.Lines)
			ours, err := wwwauth.Parse(resp.Header.Values("WWW-Authenticate")...)
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

// BenchmarkParse parses each header with both parsers, from the
// same *http.Response, in the same run.
func BenchmarkParse(b *testing.B) {
	for _, h := range loadHeaders(b) {
		resp := response(h.Lines)
		n := 0
		for _, l := range h.Lines {
			n += len(l)
		}
		b.Run("header="+h.Name+"/parser=authtransport", func(b *testing.B) {
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				cs, err := wwwauth.Parse(resp.Header.Values("WWW-Authenticate")...)
				if err != nil || len(cs) != len(h.Lines) {
					b.Fatal(cs, err)
				}
			}
		})
		b.Run("header="+h.Name+"/parser=docker", func(b *testing.B) {
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				if cs := dockerchallenge.ResponseChallenges(resp); len(cs) != len(h.Lines) {
					b.Fatal(cs)
				}
			}
		})
	}
}
