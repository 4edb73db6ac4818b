// Package redisstore is an [authtransport.LockingStore] on Redis, for a fleet
// of processes, on any number of machines, that share one OAuth grant. Each
// process's [authtransport.Transport] refreshes under one Redis lock, so the
// grant's refresh token is presented once per expiry however many replicas
// find the token due at the same moment; with rotating refresh tokens and
// reuse detection at the authorization server, that is what keeps the grant
// from being revoked.
//
//	rdb := redis.NewClient(&redis.Options{Addr: "redis:6379", ContextTimeoutEnabled: true})
//	client := &http.Client{Transport: &authtransport.Transport{
//		Store:     &redisstore.Store{Client: rdb, Key: "crm-integration"},
//		Refresher: authtransport.NewOAuth2Refresher(cfg),
//	}}
//
// # Keys
//
// A Store with Key "crm" and the default Prefix uses two keys:
//
//	authtransport:{crm}:token   a hash: "token" (JSON) and "version" (integer)
//	authtransport:{crm}:lock    a string: the lock holder's random value, with an expiry
//
// The braces make Key the keys' hash tag, so both keys live in one hash slot,
// and the Lua scripts that touch both run on one node of a Redis Cluster. Any
// [redis.UniversalClient] works: a plain client, a Sentinel failover client,
// a cluster client. The token's JSON has the field names of
// [authtransport.Token]. A value that is not a token (another type, a hash
// without a valid version, JSON that does not decode) is reported by Load as
// a [*CorruptError], which wraps [authtransport.ErrNoToken] and says why
// without quoting the value; the next Save replaces it.
//
// # Versions
//
// Every Save writes a new version: one more than the stored one, or the
// client's clock in milliseconds when there is none, so that a token deleted
// and written again does not repeat an old version. When the lock is taken,
// the stored version is read in the same atomic step and kept with the hold.
// A Save made while this Store holds the lock is a compare-and-set against
// that version (and, after a first Save, against the version it wrote): if
// another writer has saved or deleted meanwhile, nothing is written and Save
// returns a [*ConflictError]. The Transport then keeps its token in memory
// and adopts the newer stored one on its next load. Loads do not move the
// version a Save compares against: the optimistic loads that a Transport
// makes without the lock, concurrently with a refresh of another Transport
// sharing the Store, cannot make a stale holder's Save succeed.
//
// A Save without the lock (a login storing a new grant) and a deletion
// (Save(ctx, nil), a logout) write whatever is stored. Within one process,
// the goroutines that share a Store share its hold: a Save made by any of
// them while the lock is held counts as the holder's, so an application
// that stores a new login in a process whose Transport may be refreshing
// takes the lock around its Save, as [authtransport.Transport.Logout] does.
//
// # The lock
//
// Lock sets the lock key to a random value if it is absent, with LockTTL
// (default 10 s) as its expiry. The holder extends it every LockTTL/3 on a
// goroutine that unlock stops, so a slow token endpoint does not let a second
// process in, and a holder that dies keeps the others waiting at most
// LockTTL; if the server had already answered the dead holder's token
// request, the rotated refresh token died with it, which no store can
// prevent. Only the holder, identified by its value, extends or deletes it.
// Waiters poll with a short jittered delay and give up when their context
// ends. A holder whose renewal fails for a whole LockTTL, or finds another
// owner, has lost the lock: it is logged to Store.Logger, and the holder's
// Save still succeeds unless someone else has saved since (then the
// [*ConflictError] has LockLost set).
//
// # When Redis fails
//
// A Redis that cannot be reached, or that answers with an error, gives a
// [*RedisError] that wraps the go-redis error (and the context's error when
// the context ended). A Transport treats it as a failure of the store: it
// goes on serving a token it holds that is still valid, retries the store
// after a backoff, fails with an [*authtransport.RefreshError] wrapping the
// *RedisError once its token has expired, and resumes by itself when Redis
// is back. It does not refresh without the lock. A Redis that loses the key
// (a restart without persistence, an eviction) is an empty store, which every
// Transport takes for a logout.
//
// Store.AllowUnlockedRefresh changes that for availability: while Redis
// cannot be reached, Load returns the last token this Store saw and Lock
// returns an unlock without the Redis lock, so the Transport refreshes and
// keeps the new token in memory (and saves it once Redis is back, if no one
// else has saved meanwhile). Every process may then refresh the same token,
// and with reuse detection the grant is revoked: the option gives up the
// single refresh for the chance to go on serving.
//
// # What a lock with a TTL cannot promise
//
// No lock with an expiry rules out a double refresh under a network
// partition or a long pause: a holder cut off from Redis, or stopped for
// longer than LockTTL (a GC pause, a frozen VM), may still be inside its
// token request when its lock expires and another process takes it. The
// version check keeps the later Save from overwriting the newer token, but it
// cannot take back a refresh token already presented twice. Make LockTTL
// longer than such pauses; the renewal keeps a live holder's lock however
// long its refresh takes.
package redisstore
