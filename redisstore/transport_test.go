package redisstore_test

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d5c4ca72/authtransport"
	"github.com/d5c4ca72/authtransport/authtest"
	"github.com/d5c4ca72/authtransport/redisstore"
)

// TestTransportsRefreshOnce has 4 Transports of 25 goroutines each find
// the stored token expired at the same moment, against a token endpoint
// that rotates refresh tokens and revokes the grant on reuse. Sharing one
// Store, or each with its own Store of the same key (as 4 processes do),
// they refresh once, also when the token endpoint takes longer than the
// lock's TTL: the renewal keeps the others out. Without the lock (the
// control row) they refresh more than once, which shows the test detects
// what it guards against.
func TestTransportsRefreshOnce(t *testing.T) {
	srvRedis := needRedis(t)
	c := newClient(t, srvRedis.Addr, nil)
	const transports, goroutines = 4, 25
	tests := []struct {
		name       string
		shared     bool          // one Store for all Transports
		delay      time.Duration // of the token endpoint
		lockTTL    time.Duration
		noLock     bool
		wantOnce   bool
		wantAllOK  bool
		wantReused bool
	}{
		{name: "one Store shared", shared: true, delay: 50 * time.Millisecond, wantOnce: true, wantAllOK: true},
		{name: "a Store each", delay: 50 * time.Millisecond, wantOnce: true, wantAllOK: true},
		{name: "a Store each, token endpoint slower than LockTTL", delay: time.Second, lockTTL: 300 * time.Millisecond, wantOnce: true, wantAllOK: true},
		{name: "without the lock (control)", delay: 200 * time.Millisecond, noLock: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := authtest.NewServer()
			defer srv.Close()
			srv.SetTokenDelay(tt.delay)
			key := newKey(t)
			newStore := func() authtransport.Store {
				s := &redisstore.Store{Client: c, Key: key, LockTTL: tt.lockTTL}
				if tt.noLock {
					return unlockedStore{s}
				}
				return s
			}
			require.NoError(t, newStore().Save(t.Context(), srv.NewExpiredToken()), "storing an expired token")
			one := newStore()

			start := make(chan struct{})
			var mu sync.Mutex
			results := map[string]int{}
			var wg sync.WaitGroup
			for range transports {
				store := one
				if !tt.shared {
					store = newStore()
				}
				api := newAPIClient(srv.URL, srv.ClientSecret, store, nil)
				defer api.close()
				for i := range goroutines {
					wg.Go(func() {
						<-start
						r := outcome(api.get(t.Context(), "items/"+itoa(i)))
						mu.Lock()
						results[r]++
						mu.Unlock()
					})
				}
			}
			close(start)
			wg.Wait()

			st := srv.Stats()
			t.Logf("results %v; refresh_token requests %v, reuse %d", results, st.TokenRequests["refresh_token"], st.RefreshTokenReuse)
			attempts := 0
			for _, n := range st.TokenRequests["refresh_token"] {
				attempts += n
			}
			if tt.wantOnce {
				assert.Equal(t, 1, attempts, "refresh-token requests at the server")
				assert.Zero(t, st.RefreshTokenReuse, "refresh-token reuse detected")
			} else {
				assert.Greater(t, attempts, 1, "without the lock several Transports refresh")
			}
			if tt.wantAllOK {
				assert.Equal(t, map[string]int{"ok": transports * goroutines}, results, "every request succeeds")
			}
		})
	}
}
