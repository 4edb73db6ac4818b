package redisstore_test

import (
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/d5c4ca72/authtransport/redisstore"
)

// TestStoreOnCluster runs a Store through a cluster client against a Redis
// Cluster of one node that serves every slot: the scripts that touch the
// token and the lock together would fail with CROSSSLOT if the keys were in
// different slots.
func TestStoreOnCluster(t *testing.T) {
	r := ownRedis(t, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf")
	answer, err := r.command("CLUSTER ADDSLOTSRANGE 0 16383")
	require.NoError(t, err)
	require.Equal(t, "+OK", answer, "assigning every slot to the node")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		info, _ := r.command("CLUSTER INFO")
		if strings.Contains(info, "cluster_state:ok") {
			break
		}
		require.True(t, time.Now().Before(deadline), "the cluster did not become ready: %q", info)
	}
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{r.Addr}, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = c.Close() })
	ctx := t.Context()
	key := newKey(t)

	tokenSlot, err := c.ClusterKeySlot(ctx, tokenKey(key)).Result()
	require.NoError(t, err)
	lockSlot, err := c.ClusterKeySlot(ctx, lockKey(key)).Result()
	require.NoError(t, err)
	assert.Equal(t, tokenSlot, lockSlot, "the token and the lock are in one hash slot")

	a := &redisstore.Store{Client: c, Key: key}
	b := &redisstore.Store{Client: c, Key: key}
	require.NoError(t, a.Save(ctx, testToken("first", time.Hour)), "saving through the cluster client")
	unlock, err := a.Lock(ctx)
	require.NoError(t, err, "locking through the cluster client")
	_, err = a.Load(ctx)
	require.NoError(t, err, "loading through the cluster client")
	require.NoError(t, b.Save(ctx, testToken("login", time.Hour)), "another writer saves")
	err = a.Save(ctx, testToken("refreshed", time.Hour))
	assert.ErrorAs(t, err, new(*redisstore.ConflictError), "the version check works on a cluster")
	unlock()
	n, err := c.Exists(ctx, lockKey(key)).Result()
	require.NoError(t, err)
	assert.Zero(t, n, "unlock released the lock")
}
