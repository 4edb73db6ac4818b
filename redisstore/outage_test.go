package redisstore_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d5c4ca72/authtransport"
	"github.com/d5c4ca72/authtransport/authtest"
	"github.com/d5c4ca72/authtransport/redisstore"
)

// eventCounter counts a Transport's events by kind.
type eventCounter struct {
	mu sync.Mutex // guards n
	n  map[authtransport.EventKind]int
}

func (c *eventCounter) record(ev authtransport.Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[authtransport.EventKind]int{}
	}
	c.n[ev.Kind]++
}

func (c *eventCounter) count(k authtransport.EventKind) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[k]
}

// TestTransportSurvivesRedisOutage takes Redis away from a Transport whose
// token is valid for two more seconds, and brings it back after the token
// has expired. While the token is valid every request succeeds; once it
// has expired a request fails with a *authtransport.RefreshError wrapping
// the *redisstore.RedisError (by default); with Redis back the Transport
// resumes without a restart. With AllowUnlockedRefresh the Transport
// refreshes without the lock instead, and saves the new token once Redis
// is back.
func TestTransportSurvivesRedisOutage(t *testing.T) {
	const lifetime = 2 * time.Second
	tests := []struct {
		name          string
		stop, resume  func(r *redisServer) error
		allowUnlocked bool
	}{
		{
			name:   "stopped and restarted",
			stop:   (*redisServer).shutdownSave,
			resume: (*redisServer).start,
		},
		{
			name:   "paused (SIGSTOP) and resumed",
			stop:   (*redisServer).pause,
			resume: (*redisServer).resume,
		},
		{
			name:          "stopped and restarted, AllowUnlockedRefresh",
			stop:          (*redisServer).shutdownSave,
			resume:        (*redisServer).start,
			allowUnlocked: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ownRedis(t)
			c := newClient(t, r.Addr, &redis.Options{
				DialTimeout: 200 * time.Millisecond, ReadTimeout: 200 * time.Millisecond,
				WriteTimeout: 200 * time.Millisecond, MaxRetries: 1, DialerRetries: 1,
			})
			srv := authtest.NewServer()
			defer srv.Close()
			srv.SetAccessTokenLifetime(lifetime)
			key := newKey(t)
			logs := newLogRecorder()
			store := &redisstore.Store{Client: c, Key: key, AllowUnlockedRefresh: tt.allowUnlocked, Logger: logs.logger()}
			first := srv.NewToken()
			first.ObtainedAt = time.Now()
			require.NoError(t, store.Save(t.Context(), first), "storing a token valid for %v", lifetime)
			var events eventCounter
			api := newAPIClient(srv.URL, srv.ClientSecret, store, func(tr *authtransport.Transport) { tr.OnEvent = events.record })
			defer api.close()
			ctx := t.Context()
			require.Equal(t, "ok", outcome(api.get(ctx, "before")), "a request before the outage")

			require.NoError(t, tt.stop(r), "taking Redis away")
			outageStart := time.Now()
			valid := map[string]int{}
			for time.Until(first.Expiry) > 300*time.Millisecond {
				valid[outcome(api.get(ctx, "during"))]++
				time.Sleep(50 * time.Millisecond)
			}
			assert.Positive(t, valid["ok"], "requests were made while the token was valid")
			assert.Len(t, valid, 1, "every request with a valid token succeeds while Redis is away: %v", valid)
			if !tt.allowUnlocked {
				assert.Positive(t, events.count(authtransport.EventStoreFailed), "the Transport met the store failure")
			}

			time.Sleep(time.Until(first.Expiry) + 100*time.Millisecond)
			_, err := api.get(ctx, "expired")
			if tt.allowUnlocked {
				assert.NoError(t, err, "with AllowUnlockedRefresh the Transport refreshed without the lock")
				assert.Positive(t, srv.Stats().Refreshes(), "a refresh without Redis")
				assert.Positive(t, events.count(authtransport.EventSaveFailed), "its token could not be saved")
			} else {
				var refreshErr *authtransport.RefreshError
				var redisErr *redisstore.RedisError
				assert.ErrorAs(t, err, &refreshErr, "once the token has expired the request fails with a *RefreshError")
				assert.ErrorAs(t, err, &redisErr, "that wraps the store's *RedisError")
				assert.Zero(t, srv.Stats().Refreshes(), "no refresh without the lock")
			}

			require.NoError(t, tt.resume(r), "bringing Redis back")
			outage := time.Since(outageStart)
			var resumed time.Duration
			for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
				if _, err = api.get(ctx, "after"); err == nil {
					resumed = time.Since(outageStart) - outage
					break
				}
			}
			require.NoError(t, err, "the Transport resumes once Redis is back")

			// The store catches up: the Transport's token is saved (by its
			// refresh, or by the save of the token it refreshed without
			// Redis).
			var stored *authtransport.Token
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
				if stored, err = store.Load(ctx); err == nil && stored.AccessToken != first.AccessToken {
					break
				}
				_, _ = api.get(ctx, "catch-up")
			}
			require.NoError(t, err, "loading the stored token")
			assert.NotEqual(t, first.AccessToken, stored.AccessToken, "a refreshed token is stored")
			if tt.allowUnlocked {
				assert.Positive(t, logs.count("goes on without it"), "going on without Redis is logged")
			} else {
				assert.Zero(t, logs.count("goes on without it"), "nothing goes on without Redis by default: %v", logs.all())
			}
			st := srv.Stats()
			assert.Zero(t, st.RefreshTokenReuse, "refresh-token reuse detected")
			assert.Equal(t, st.Refreshes(), st.TokenRequests["refresh_token"][authtest.OutcomeOK], "no refresh failed")
			t.Logf("outage %v, first success %v after Redis was back; requests during the outage %v; refreshes %d; events: store failed %d, save failed %d",
				outage.Round(time.Millisecond), resumed.Round(time.Millisecond), valid, st.Refreshes(),
				events.count(authtransport.EventStoreFailed), events.count(authtransport.EventSaveFailed))
		})
	}
}

// TestAllowUnlockedRefreshNeedsAKnownToken checks that AllowUnlockedRefresh
// goes on without Redis only from a token the Store has seen: a Store that
// never reached Redis fails as it does without the option.
func TestAllowUnlockedRefreshNeedsAKnownToken(t *testing.T) {
	needRedis(t)
	port, err := freePort()
	require.NoError(t, err)
	c := newClient(t, "127.0.0.1:"+itoa(port), &redis.Options{MaxRetries: -1})
	logs := newLogRecorder()
	s := &redisstore.Store{Client: c, Key: newKey(t), AllowUnlockedRefresh: true, Logger: logs.logger()}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, err = s.Load(ctx)
	assert.ErrorAs(t, err, new(*redisstore.RedisError), "Load fails without a token seen before")
	_, err = s.Lock(ctx)
	assert.ErrorAs(t, err, new(*redisstore.RedisError), "Lock fails without a token seen before")
	assert.Zero(t, logs.count("goes on without it"), "nothing went on without Redis: %v", logs.all())
}
