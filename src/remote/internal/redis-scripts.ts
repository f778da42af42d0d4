/**
 * The Lua scripts of the Redis backend: each step of the protocol as one atomic script, so that no
 * other client's command runs in the middle of it.
 *
 * Layout, every key under the hash tag `{name}` so that a resource lives on one cluster slot:
 * - `state` (hash): `state` (`live` when absent, `revoking`, `revoked`), `epoch`, `fence`,
 *   `revoker`, `startedAt`;
 * - `holders` (sorted set): holder id scored by its lease expiry, in the server's milliseconds;
 * - `tokens` (hash): holder id → its token, so a renewal from an older attachment is refused;
 * - `counter`: tokens and epochs, one counter, so every token before a begin is below its epoch;
 * - `revoker` (string with a TTL): the current revoker's id, on its own lease (takeover);
 * - `cutoff` (set): holders cut off during the revoke in progress;
 * - the channel (ARGV[1]): `state`, `holders`, `revoker` events.
 *
 * Invariants:
 * 1. Time is the server's (`TIME`), read inside the script: expiry never depends on a client clock.
 * 2. A holder is expired when its score is <= now; a renewal of an expired holder removes it and
 *    answers lost, so a late renewal cannot resurrect a holder that a revoke has cut off.
 * 3. Scripts that change the state publish on the channel in the same script.
 */

const PRELUDE = `
local state, holders, tokens, counter, revoker, cutoff = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local channel = ARGV[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function status() return redis.call('HGET', state, 'state') or 'live' end
local function epoch() return redis.call('HGET', state, 'epoch') or '0' end
local function drop(id) redis.call('ZREM', holders, id); redis.call('HDEL', tokens, id) end
local function prune(record)
  local expired = redis.call('ZRANGEBYSCORE', holders, '-inf', now)
  for _, id in ipairs(expired) do
    drop(id)
    if record then redis.call('SADD', cutoff, id) end
  end
  return #expired
end
`;

/** ARGV: channel, holderId, leaseMs → {1, token} | {0, state} | {2} (id in use). */
const attach = `
local s = status()
if s ~= 'live' then return {0, s} end
prune(false)
if redis.call('HEXISTS', tokens, ARGV[2]) == 1 then return {2} end
local token = redis.call('INCR', counter)
redis.call('ZADD', holders, now + tonumber(ARGV[3]), ARGV[2])
redis.call('HSET', tokens, ARGV[2], token)
return {1, token}
`;

/** ARGV: channel, holderId, token, leaseMs → {1, state, epoch} | {0} (lost). */
const renew = `
local s = status()
if redis.call('HGET', tokens, ARGV[2]) ~= ARGV[3] then return {0} end
local expiry = redis.call('ZSCORE', holders, ARGV[2])
if (not expiry) or tonumber(expiry) <= now then
  drop(ARGV[2])
  if s ~= 'live' then
    redis.call('SADD', cutoff, ARGV[2])
    redis.call('PUBLISH', channel, 'holders')
  end
  return {0}
end
redis.call('ZADD', holders, now + tonumber(ARGV[4]), ARGV[2])
return {1, s, epoch()}
`;

/** ARGV: channel, holderId, token → 1. */
const detach = `
if redis.call('HGET', tokens, ARGV[2]) == ARGV[3] then
  drop(ARGV[2])
  if status() ~= 'live' then redis.call('PUBLISH', channel, 'holders') end
end
return 1
`;

/** ARGV: channel, revokerId, leaseMs → {'begun', epoch, tookOver} | {'busy', epoch, pttl} | {'revoked', epoch, fence}. */
const begin = `
local s = status()
if s == 'revoked' then return {'revoked', epoch(), redis.call('HGET', state, 'fence') or '0'} end
if s == 'live' then
  local e = redis.call('INCR', counter)
  redis.call('HSET', state, 'state', 'revoking', 'epoch', e, 'revoker', ARGV[2], 'startedAt', now)
  redis.call('SET', revoker, ARGV[2], 'PX', ARGV[3])
  redis.call('PUBLISH', channel, 'state')
  return {'begun', e, 0}
end
local r = redis.call('GET', revoker)
if r == ARGV[2] then
  redis.call('PEXPIRE', revoker, ARGV[3])
  return {'begun', epoch(), 0}
end
if r then return {'busy', epoch(), redis.call('PTTL', revoker)} end
redis.call('SET', revoker, ARGV[2], 'PX', ARGV[3])
redis.call('HSET', state, 'revoker', ARGV[2])
return {'begun', epoch(), 1}
`;

/** ARGV: channel, revokerId, leaseMs → 1 (kept) | 0 (another revoker has it, or it is over). */
const renewRevoker = `
if status() ~= 'revoking' then return 0 end
local r = redis.call('GET', revoker)
if r == ARGV[2] then
  redis.call('PEXPIRE', revoker, ARGV[3])
  return 1
end
if r then return 0 end
redis.call('SET', revoker, ARGV[2], 'PX', ARGV[3])
redis.call('HSET', state, 'revoker', ARGV[2])
return 1
`;

/** ARGV: channel → {holders, ms to the next expiry or -1}. */
const poll = `
prune(status() ~= 'live')
local count = redis.call('ZCARD', holders)
local first = redis.call('ZRANGE', holders, 0, 0, 'WITHSCORES')
local nextIn = -1
if first[2] then nextIn = tonumber(first[2]) - now end
return {count, nextIn}
`;

/** ARGV: channel, revokerId, epoch → {1, fence, cutOff[]} | {0}. */
const raiseFence = `
if status() ~= 'revoking' or epoch() ~= ARGV[3] then return {0} end
local r = redis.call('GET', revoker)
if r ~= ARGV[2] then return {0} end
redis.call('HSET', state, 'fence', ARGV[3])
return {1, ARGV[3], redis.call('SMEMBERS', cutoff)}
`;

/** ARGV: channel, revokerId, epoch → 1 (this call revoked) | 0. */
const finish = `
if status() ~= 'revoking' or epoch() ~= ARGV[3] then return 0 end
if redis.call('HGET', state, 'revoker') ~= ARGV[2] or redis.call('HGET', state, 'fence') ~= ARGV[3] then return 0 end
local r = redis.call('GET', revoker)
if r and r ~= ARGV[2] then return 0 end
redis.call('HSET', state, 'state', 'revoked', 'revokedAt', now)
redis.call('DEL', revoker, cutoff, holders, tokens)
redis.call('PUBLISH', channel, 'state')
return 1
`;

/** ARGV: channel, revokerId → 1. */
const abandon = `
if redis.call('GET', revoker) == ARGV[2] then
  redis.call('DEL', revoker)
  redis.call('PUBLISH', channel, 'revoker')
end
return 1
`;

export const scripts = { attach, renew, detach, begin, renewRevoker, poll, raiseFence, finish, abandon } as const;
export type ScriptName = keyof typeof scripts;

/** The full source of a script, prelude included. */
export function source(script: ScriptName): string {
  return PRELUDE + scripts[script];
}
