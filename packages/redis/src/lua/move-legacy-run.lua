--[[
  Moves one run from the layout before shards (each run its own hash tag, the state as one JSON field)
  to its shard's keys, the state as one field per part. Only ever needed on a single Redis: the old
  layout was never supported on Redis Cluster, so this script may touch keys of several slots.

  KEYS[1..7]  the run's old keys: state, turns, ledger, events, cancel, approvals, webhook
  KEYS[8..14] its new keys, in the same order
  KEYS[15] the old tenant run index    KEYS[16] the tenant's run index of the run's shard
  ARGV[1] the old version the caller read (the move is refused if the run moved on since)
  ARGV[2] the run id   ARGV[3] its creation time
  ARGV[4] n, then n field/value pairs of the state in the new layout

  Returns 1 when it moved the run, 0 when the run is in the new layout already, -1 when the old run
  changed or vanished since the caller read it (read it again).
]]
if redis.call('EXISTS', KEYS[8]) == 1 then
  return 0
end
local version = redis.call('HGET', KEYS[1], 'version')
if version ~= ARGV[1] then
  return -1
end
for index = 2, 7 do
  if redis.call('EXISTS', KEYS[index]) == 1 then
    redis.call('RENAME', KEYS[index], KEYS[index + 7])
  end
end
local writeId = redis.call('HGET', KEYS[1], 'writeId') or ''
local pairCount = tonumber(ARGV[4])
redis.call('HSET', KEYS[8], 'version', version, 'writeId', writeId, unpack(ARGV, 5, 4 + pairCount * 2))
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then
  redis.call('PEXPIRE', KEYS[8], ttl)
end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[15], ARGV[2])
redis.call('ZADD', KEYS[16], ARGV[3], ARGV[2])
return 1
