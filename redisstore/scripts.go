package redisstore

import "github.com/redis/go-redis/v9"

// The Lua scripts run atomically on the server. Every key a script touches
// is passed in KEYS, and a Store's keys share one hash tag, so each script
// runs on one node of a Redis Cluster.

// scripts are a Store's scripts, made once per Store: a [redis.Script]
// caches its digest, so none is shared at package level.
type scripts struct {
	save, lock, renew, release *redis.Script
}

func newScripts() scripts {
	return scripts{
		save:    redis.NewScript(currentLua + saveLua),
		lock:    redis.NewScript(currentLua + lockLua),
		renew:   redis.NewScript(renewLua),
		release: redis.NewScript(releaseLua),
	}
}

// currentLua defines current(key), the version of the token hash at key: 0
// when the key does not exist, -1 when it holds something that is not a
// token hash with a valid version (the next Save replaces it).
const currentLua = `
local function current(key)
	local kind = redis.call('TYPE', key)['ok']
	if kind == 'none' then return 0 end
	if kind ~= 'hash' then return -1 end
	local v = tonumber(redis.call('HGET', key, 'version'))
	if v == nil or v < 1 or v ~= math.floor(v) then return -1 end
	return v
end
`

// saveLua writes a token. KEYS[1] is the token key. ARGV[1] is the
// version the stored token must have, or "" to write whatever is stored;
// ARGV[2] the token's JSON; ARGV[3] the key's TTL in milliseconds (0: none);
// ARGV[4] the version of a token written where there was none (the client's
// clock in milliseconds, so that a key deleted and written again does not
// repeat a version). It returns {1, new version}, or {0, stored version}
// when the stored version is not the expected one. A token already stored
// byte for byte is saved (with the stored version): so the script is
// idempotent, and a Save resent after its reply was lost (go-redis
// resends on a reset, the Transport retries a failed save) is not taken
// for a conflict with itself.
const saveLua = `
local cur = current(KEYS[1])
if ARGV[1] ~= '' and cur ~= tonumber(ARGV[1]) then
	if cur > 0 and redis.call('HGET', KEYS[1], 'token') == ARGV[2] then return {1, cur} end
	return {0, cur}
end
local v = cur + 1
if cur < 1 then v = tonumber(ARGV[4]) end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'token', ARGV[2], 'version', v)
if tonumber(ARGV[3]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return {1, v}
`

// lockLua takes the lock. KEYS[1] is the lock key, KEYS[2] the token
// key; ARGV[1] the owner value, ARGV[2] the lock's TTL in milliseconds. It
// returns {1, version of the stored token} when the lock was free or is
// already this owner's (the script resent after its reply was lost), or
// {0, milliseconds the lock has left} when someone else holds it.
const lockLua = `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
	return {1, current(KEYS[2])}
end
if redis.call('GET', KEYS[1]) == ARGV[1] then
	redis.call('PEXPIRE', KEYS[1], ARGV[2])
	return {1, current(KEYS[2])}
end
return {0, redis.call('PTTL', KEYS[1])}
`

// renewLua extends the lock if ARGV[1] still owns it: KEYS[1] is the
// lock key, ARGV[2] the TTL in milliseconds. It returns 1 when extended, 0
// when the lock is gone or held by another owner.
const renewLua = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
	return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
`

// releaseLua deletes the lock KEYS[1] if ARGV[1] still owns it. It
// returns 1 when deleted, 0 otherwise.
const releaseLua = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
	return redis.call('DEL', KEYS[1])
end
return 0
`
