package redisstore_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d5c4ca72/authtransport"
	"github.com/d5c4ca72/authtransport/authtest"
	"github.com/d5c4ca72/authtransport/redisstore"
)

// killParams are the parameters of the processes of
// TestHolderKilledMidRefresh.
type killParams struct {
	LockTTL    time.Duration
	Goroutines int
}

// killResult is what the taker reports.
type killResult struct {
	OK     int            `json:"ok"`
	Failed map[string]int `json:"failed"`
}

// TestHolderKilledMidRefresh kills the lock holder with SIGKILL while it
// waits inside its token request, with a second process waiting for the
// lock. The killed process's connection closes, so the authorization
// server drops its request without consuming the refresh token (authtest
// counts it as canceled); its lock is no longer renewed and expires within
// LockTTL; the second process takes it, refreshes with the same refresh
// token, and every one of its requests succeeds, with no reuse detected.
// Before the kill, the holder keeps its lock for longer than LockTTL.
func TestHolderKilledMidRefresh(t *testing.T) {
	if part := os.Getenv(envChild); part == "holder" || part == "taker" {
		killChild(t, part)
		return
	}
	if testing.Short() {
		t.Skip("runs 2 processes")
	}
	srvRedis := needRedis(t)
	c := newClient(t, srvRedis.Addr, nil)
	srv := authtest.NewServer()
	defer srv.Close()
	srv.SetTokenDelay(time.Minute) // the holder sits in its token request until killed
	key := newKey(t)
	seed := &redisstore.Store{Client: c, Key: key}
	require.NoError(t, seed.Save(t.Context(), srv.NewExpiredToken()), "storing an expired token")
	params := killParams{LockTTL: time.Second, Goroutines: 10}

	holder := startChild(t, "TestHolderKilledMidRefresh", "holder", srvRedis.Addr, srv.URL, srv.ClientSecret, key, params)
	taker := startChild(t, "TestHolderKilledMidRefresh", "taker", srvRedis.Addr, srv.URL, srv.ClientSecret, key, params)
	holder.send("GO")
	holder.expect("REFRESH STARTED", 30*time.Second)
	taker.send("GO")
	taker.expect("LOCKING", 30*time.Second)

	assert.False(t, taker.seen("LOCKED", 2*params.LockTTL),
		"while the holder lives, its lock is renewed: the taker waits past LockTTL")
	left, err := c.PTTL(t.Context(), lockKey(key)).Result()
	require.NoError(t, err)
	assert.Positive(t, left, "the holder's lock is in place before the kill")

	holder.kill()
	killedAt := time.Now()
	srv.SetTokenDelay(0)
	lockedAt, err := strconv.ParseInt(taker.expect("LOCKED", time.Minute), 10, 64)
	require.NoError(t, err, "the taker's lock time")
	var res killResult
	taker.result(&res, time.Minute)
	done := time.Since(killedAt)
	taker.wait()

	st := srv.Stats()
	t.Logf("LockTTL %v: the taker got the lock %v after the kill and all its requests were answered %v after it; refresh_token requests %v, reuse %d; taker: %d ok, failed %v",
		params.LockTTL, time.Unix(0, lockedAt).Sub(killedAt).Round(time.Millisecond), done.Round(time.Millisecond),
		st.TokenRequests["refresh_token"], st.RefreshTokenReuse, res.OK, res.Failed)
	assert.Equal(t, 1, st.TokenRequests["refresh_token"][authtest.OutcomeCanceled], "the killed holder's token request was dropped")
	assert.Equal(t, 1, st.Refreshes(), "the taker refreshed once")
	assert.Len(t, st.TokenRequests["refresh_token"], 2, "no other refresh-token outcome: %v", st.TokenRequests["refresh_token"])
	assert.Zero(t, st.RefreshTokenReuse, "refresh-token reuse detected")
	assert.Equal(t, params.Goroutines, res.OK, "every request of the taker succeeds")
	assert.Empty(t, res.Failed, "failed requests of the taker")
}

// printingStore tells the parent when the Transport waits for the lock and
// when it got it.
type printingStore struct{ *redisstore.Store }

func (p printingStore) Lock(ctx context.Context) (func(), error) {
	fmt.Println("LOCKING")
	unlock, err := p.Store.Lock(ctx)
	if err == nil {
		fmt.Println("LOCKED", time.Now().UnixNano())
	}
	return unlock, err
}

// killChild is the holder (one request, which refreshes and is killed
// meanwhile) or the taker (several requests at once, which wait for the
// lock).
func killChild(t *testing.T, part string) {
	var p killParams
	redisAddr, url, secret, key := childEnv(t, &p)
	c := newClient(t, redisAddr, nil)
	store := printingStore{&redisstore.Store{Client: c, Key: key, LockTTL: p.LockTTL}}
	api := newAPIClient(url, secret, store, func(tr *authtransport.Transport) {
		tr.OnEvent = func(ev authtransport.Event) {
			if ev.Kind == authtransport.EventRefreshStarted {
				fmt.Println("REFRESH STARTED")
			}
		}
	})
	defer api.close()
	fmt.Println("READY")
	waitForLine(t, bufio.NewScanner(os.Stdin), "GO")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if part == "holder" {
		_, _ = api.get(ctx, "holder") // killed before it returns
		return
	}
	res := killResult{Failed: map[string]int{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range p.Goroutines {
		wg.Go(func() {
			r := outcome(api.get(ctx, "taker/"+strconv.Itoa(i)))
			mu.Lock()
			defer mu.Unlock()
			if r == "ok" {
				res.OK++
			} else {
				res.Failed[r]++
			}
		})
	}
	wg.Wait()
	data, err := json.Marshal(res)
	require.NoError(t, err)
	fmt.Printf("RESULT %s\n", data)
}
