--[[
  Writes a run checkpoint if, and only if, the run is still at the version the writer read (fencing).
  A worker that lost the run to another one finds the version moved on and writes nothing.

  KEYS[1] the run's state hash     KEYS[2] its transcript list
  KEYS[3] its cost ledger hash     KEYS[4] its event stream
  ARGV[1] the version the writer read
  ARGV[2] the new state, JSON, carrying version ARGV[1] + 1
  ARGV[3] seconds to keep the run's keys from now on, 0 to keep them without expiry
  ARGV[4] a model call id to add to the ledger, '' for none (HSETNX: a replay never counts twice)
  ARGV[5] that call's ledger record, JSON
  ARGV[6..] transcript messages to append, JSON each

  Returns {1, new version} on success, {0, current version} when fenced out, {-1} when the run is gone.
]]
local current = redis.call('HGET', KEYS[1], 'version')
if not current then
  return {-1}
end
if current ~= ARGV[1] then
  return {0, tonumber(current)}
end
local nextVersion = tonumber(current) + 1
redis.call('HSET', KEYS[1], 'version', nextVersion, 'state', ARGV[2])
if ARGV[4] ~= '' then
  redis.call('HSETNX', KEYS[3], ARGV[4], ARGV[5])
end
if #ARGV > 5 then
  redis.call('RPUSH', KEYS[2], unpack(ARGV, 6))
end
local keepSeconds = tonumber(ARGV[3])
if keepSeconds > 0 then
  for index = 1, 4 do
    redis.call('EXPIRE', KEYS[index], keepSeconds)
  end
end
return {1, nextVersion}
