//go:build linux || freebsd || openbsd || netbsd || dragonfly

package keyringstore

import (
	"context"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d5c4ca72/authtransport"
)

// raceReads returns how many reads race the writer: 1,000, or 300 under
// CI (where the whole suite must stay quick), or KEYRINGSTORE_RACE_READS.
func raceReads(t *testing.T) int {
	if v := os.Getenv("KEYRINGSTORE_RACE_READS"); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(t, err, "KEYRINGSTORE_RACE_READS")
		return n
	}
	if os.Getenv("CI") != "" || testing.Short() {
		return 300
	}
	return 1000
}

// TestReaderRacingWriterNeverSeesAMixedToken runs a reader that loads the
// token 1,000 times (see raceReads) while a writer keeps replacing it, through the test
// Secret Service, with tokens of 8 KB split into parts of the Windows size
// (4 parts each). Every field of each token names its generation: a token
// assembled from parts of two generations would show. The reader also
// never goes back to an older generation. The entries live in
// gnome-keyring's in-memory collection: in the login keyring every write
// rewrites its file, and the writer would leave the reader little time.
func TestReaderRacingWriterNeverSeesAMixedToken(t *testing.T) {
	s := realStore(t, Config{})
	useMemoryCollection(t)
	s.limit = winCredEntryLimit
	heads := &atomic.Int64{}
	reader := *s
	reader.kc = countingKeychain{keychain: s.kc, user: s.account, gets: heads}
	ctx := t.Context()
	require.NoError(t, s.Save(ctx, sizedToken(0, 8000)))
	payload, err := encodeToken(sizedToken(0, 8000))
	require.NoError(t, err)
	lay, err := split(s.service, s.account, payload, newGeneration(), s.limit)
	require.NoError(t, err)
	require.Len(t, lay.parts, 4, "tokens of 4 parts")

	var done atomic.Bool
	var writes atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
		for gen := 1; !done.Load(); gen++ {
			if err := s.Save(ctx, sizedToken(gen, 8000)); err != nil {
				t.Errorf("save %d: %v", gen, err)
				return
			}
			writes.Add(1)
		}
	})

	reads := raceReads(t)
	mixed, failed, last, backwards := 0, 0, -1, 0
	for range reads {
		tok, err := reader.Load(ctx)
		if err != nil {
			failed++
			t.Logf("load: %v", err)
			continue
		}
		if !consistent(tok) {
			mixed++
			continue
		}
		gen := generationOf(tok)
		if gen < last {
			backwards++
		}
		last = gen
	}
	done.Store(true)
	wg.Wait()

	overtaken := heads.Load() - int64(reads) + int64(failed)
	t.Logf("%d reads while %d writes, %d re-reads of the head after being overtaken, %d failed reads", reads, writes.Load(), overtaken, failed)
	assert.Zero(t, mixed, "reads that returned a mixed token")
	assert.Zero(t, backwards, "reads that returned an older token than the read before")
	assert.Zero(t, failed, "reads that failed")
	assert.Positive(t, writes.Load(), "the writer wrote while the reader read")
}

// generationOf returns the generation of a sizedToken.
func generationOf(tok *authtransport.Token) int {
	gen := 0
	for _, c := range tok.RefreshToken[1:] {
		if c < '0' || c > '9' {
			break
		}
		gen = gen*10 + int(c-'0')
	}
	return gen
}

// countingKeychain counts the reads of one user's entry.
type countingKeychain struct {
	keychain
	user string
	gets *atomic.Int64
}

func (k countingKeychain) open(ctx context.Context) (keychainSession, error) {
	sess, err := k.keychain.open(ctx)
	if err != nil {
		return nil, err
	}
	return countingSession{keychainSession: sess, user: k.user, gets: k.gets}, nil
}

type countingSession struct {
	keychainSession
	user string
	gets *atomic.Int64
}

func (s countingSession) get(ctx context.Context, user string) (string, error) {
	if user == s.user {
		s.gets.Add(1)
	}
	return s.keychainSession.get(ctx, user)
}

// consistent reports whether every field of tok comes from the same
// sizedToken generation.
func consistent(tok *authtransport.Token) bool {
	tag, _, ok := strings.Cut(tok.RefreshToken, "-")
	if !ok || tok.Scope != tag+"-scope" || !strings.HasPrefix(tok.AccessToken, tag+"-") {
		return false
	}
	gen, err := strconv.Atoi(strings.TrimPrefix(tag, "g"))
	if err != nil {
		return false
	}
	digit := strconv.Itoa(gen % 10)
	return strings.Trim(strings.TrimPrefix(tok.AccessToken, tag+"-"), digit) == ""
}
