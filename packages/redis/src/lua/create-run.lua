--[[
  Creates a run if no run has its key yet.

  KEYS[1] the run's state hash
  ARGV[1] the initial state, JSON, with version 0

  Returns {1, state} when it created the run, {0, existing state} when the run already existed.
]]
local existing = redis.call('HGET', KEYS[1], 'state')
if existing then
  return {0, existing}
end
redis.call('HSET', KEYS[1], 'version', 0, 'state', ARGV[1])
return {1, ARGV[1]}
