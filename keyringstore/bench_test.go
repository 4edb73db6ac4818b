//go:build linux || freebsd || openbsd || netbsd || dragonfly

package keyringstore

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// BenchmarkSecretService measures Load and Save through the test Secret
// Service (gnome-keyring, login keyring on disk), for a token that fits in
// one entry and for a 16 KB token in one entry (the Linux limit) and in
// parts of the macOS and Windows sizes.
func BenchmarkSecretService(b *testing.B) {
	rows := []struct {
		name  string
		size  int
		limit limitFunc
	}{
		{name: "2KB", size: 2 << 10, limit: secretServiceEntryLimit},
		{name: "16KB", size: 16 << 10, limit: secretServiceEntryLimit},
		{name: "16KB_macOS_parts", size: 16 << 10, limit: macKeychainEntryLimit},
		{name: "16KB_windows_parts", size: 16 << 10, limit: winCredEntryLimit},
	}
	for _, r := range rows {
		b.Run("Load/"+r.name, func(b *testing.B) {
			s := realStore(b, Config{})
			s.limit = r.limit
			tok := sizedToken(1, r.size)
			require.NoError(b, s.Save(b.Context(), tok))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Load(b.Context()); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("Save/"+r.name, func(b *testing.B) {
			s := realStore(b, Config{})
			s.limit = r.limit
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				if err := s.Save(b.Context(), sizedToken(i%2, r.size)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
