--[[
  Writes a run checkpoint if, and only if, the run is still at the version the writer read (fencing).
  A worker that lost the run to another one finds the version moved on and writes nothing.

  KEYS[1] the run's state hash     KEYS[2] its transcript list
  KEYS[3] its cost ledger hash     KEYS[4] its event stream
  KEYS[5] its cancel request (present while someone asks to cancel it)
  KEYS[6] its approval decisions (expired with the rest when the run finishes)
  ARGV[1] the version the writer read
  ARGV[2] a unique id of this write
  ARGV[3] the new state, JSON, carrying version ARGV[1] + 1
  ARGV[4] seconds to keep the run's keys from now on, 0 to keep them without expiry
  ARGV[5] a model call id to add to the ledger, '' for none (HSETNX: a replay never counts twice)
  ARGV[6] that call's ledger record, JSON
  ARGV[7..] transcript messages to append, JSON each

  Returns {1, new version, 1 if a cancel is requested else 0} on success, {0, current version} when
  fenced out, {-1} when the run is gone. Telling the writer about a cancel here costs no extra round
  trip, and reaches a worker whose pub/sub message was lost.
]]
local current = redis.call('HGET', KEYS[1], 'version')
if not current then
  return {-1}
end
if current ~= ARGV[1] then
  -- The client resends a script whose reply was lost with the connection: if this very write is the
  -- one that landed, it succeeded, and must not be mistaken for another worker's.
  if tonumber(current) == tonumber(ARGV[1]) + 1 and redis.call('HGET', KEYS[1], 'writeId') == ARGV[2] then
    return {1, tonumber(current), redis.call('EXISTS', KEYS[5])}
  end
  return {0, tonumber(current)}
end
local nextVersion = tonumber(current) + 1
redis.call('HSET', KEYS[1], 'version', nextVersion, 'state', ARGV[3], 'writeId', ARGV[2])
if ARGV[5] ~= '' then
  redis.call('HSETNX', KEYS[3], ARGV[5], ARGV[6])
end
if #ARGV > 6 then
  redis.call('RPUSH', KEYS[2], unpack(ARGV, 7))
end
local keepSeconds = tonumber(ARGV[4])
if keepSeconds > 0 then
  for index = 1, 6 do
    redis.call('EXPIRE', KEYS[index], keepSeconds)
  end
end
return {1, nextVersion, redis.call('EXISTS', KEYS[5])}
