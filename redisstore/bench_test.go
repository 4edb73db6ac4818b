package redisstore_test

import (
	"testing"
	"time"

	"github.com/d5c4ca72/authtransport/redisstore"
)

// The benchmarks run against the shared loopback redis-server. A plain GET
// of a small string through the same client is the floor: one round trip.

func benchStore(b *testing.B) *redisstore.Store {
	srv := needRedis(b)
	c := newClient(b, srv.Addr, nil)
	s := &redisstore.Store{Client: c, Key: newKey(b)}
	if err := s.Save(b.Context(), testToken("bench", time.Hour)); err != nil {
		b.Fatalf("seeding the store: %v", err)
	}
	return s
}

// BenchmarkRedisGet is the floor: one GET round trip of the same client.
func BenchmarkRedisGet(b *testing.B) {
	srv := needRedis(b)
	c := newClient(b, srv.Addr, nil)
	key := newKey(b)
	if err := c.Set(b.Context(), key, "value", time.Hour).Err(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Get(b.Context(), key).Err(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLoad(b *testing.B) {
	s := benchStore(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Load(b.Context()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSave saves without the lock, as a login does.
func BenchmarkSave(b *testing.B) {
	s := benchStore(b)
	tok := testToken("bench", time.Hour)
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Save(b.Context(), tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSaveLocked saves while holding the lock: the compare-and-set a
// refresh makes.
func BenchmarkSaveLocked(b *testing.B) {
	s := benchStore(b)
	tok := testToken("bench", time.Hour)
	unlock, err := s.Lock(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	defer unlock()
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Save(b.Context(), tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLockUnlock takes and releases a free lock: the lock script, the
// start and end of the renewal goroutine, and the release script.
func BenchmarkLockUnlock(b *testing.B) {
	s := benchStore(b)
	b.ReportAllocs()
	for b.Loop() {
		unlock, err := s.Lock(b.Context())
		if err != nil {
			b.Fatal(err)
		}
		unlock()
	}
}

// BenchmarkRefreshCycle is what one refresh costs the store: lock, load,
// save, unlock.
func BenchmarkRefreshCycle(b *testing.B) {
	s := benchStore(b)
	tok := testToken("bench", time.Hour)
	b.ReportAllocs()
	for b.Loop() {
		unlock, err := s.Lock(b.Context())
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Load(b.Context()); err != nil {
			b.Fatal(err)
		}
		if err := s.Save(b.Context(), tok); err != nil {
			b.Fatal(err)
		}
		unlock()
	}
}
