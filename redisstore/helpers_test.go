package redisstore_test

import (
	"crypto/rand"
	"encoding/json"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/d5c4ca72/authtransport"
	"github.com/d5c4ca72/authtransport/redisstore"
)

// envChild, in a child process of a cross-process test, names the part
// it plays.
const envChild = "REDISSTORE_TEST_CHILD"

// needRedis returns the shared redis-server, or skips the test when it
// could not be started (TestMain has already failed the run under CI).
func needRedis(t testing.TB) *redisServer {
	t.Helper()
	if shared == nil {
		t.Skipf("needs redis-server: %v", sharedErr)
	}
	return shared
}

// ownRedis starts a redis-server for this test alone, which it may stop,
// and stops it at the end. Extra args are passed to redis-server.
func ownRedis(t *testing.T, args ...string) *redisServer {
	t.Helper()
	needRedis(t)
	r, err := startRedis(t.TempDir(), args...)
	if err != nil && os.Getenv("CI") == "" {
		t.Skipf("needs its own redis-server: %v", err)
	}
	require.NoError(t, err, "starting a redis-server of the test's own")
	t.Cleanup(func() { _ = r.stop() })
	return r
}

// newClient returns a client of the server at addr, closed at the end of
// the test. opt, if not nil, supplies further options.
func newClient(t testing.TB, addr string, opt *redis.Options) *redis.Client {
	t.Helper()
	if opt == nil {
		opt = new(redis.Options)
	}
	opt.Addr = addr
	opt.ContextTimeoutEnabled = true
	c := redis.NewClient(opt)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// newKey returns a Store key no other test uses.
func newKey(t testing.TB) string {
	name := regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(t.Name(), "-")
	return strings.ToLower(name) + "-" + rand.Text()[:8]
}

// tokenKey and lockKey are the documented keys of a Store with the default
// prefix.
func tokenKey(key string) string { return redisstore.DefaultPrefix + "{" + key + "}:token" }
func lockKey(key string) string  { return redisstore.DefaultPrefix + "{" + key + "}:lock" }

// testToken returns a token with every field set, living for d.
func testToken(name string, d time.Duration) *authtransport.Token {
	now := time.Now().Round(0).Truncate(time.Millisecond)
	return &authtransport.Token{
		AccessToken:  "access-" + name + "-" + rand.Text(),
		TokenType:    "Bearer",
		RefreshToken: "refresh-" + name + "-" + rand.Text(),
		Expiry:       now.Add(d),
		Scope:        "read write",
		ObtainedAt:   now,
	}
}

// storedVersion returns the version field of the token under key, or 0.
func storedVersion(t testing.TB, c redis.UniversalClient, key string) int64 {
	t.Helper()
	v, err := c.HGet(t.Context(), tokenKey(key), "version").Int64()
	if err == redis.Nil {
		return 0
	}
	require.NoError(t, err, "reading the stored version")
	return v
}

// keysOf returns the keys of m.
func keysOf(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}

// mustJSON returns v encoded as JSON.
func mustJSON(t testing.TB, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	require.NoError(t, err, "encoding JSON")
	return string(data)
}

func itoa(n int) string { return strconv.Itoa(n) }
