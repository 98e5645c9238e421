--[[
  Creates a run if no run has its key yet, with the turns it starts from (a fork's replayed steps).

  KEYS[1] the run's state hash
  KEYS[2] the run's turns list
  ARGV[1] the initial state, JSON, with version 0
  ARGV[2..] messages the run starts with, JSON each (none for a new run)

  Returns {1, state} when it created the run, {0, existing state} when the run already existed.
]]
local existing = redis.call('HGET', KEYS[1], 'state')
if existing then
  return {0, existing}
end
-- The turns first, in slices (unpack has a limit of a few thousand values), and the state last: an
-- error part way leaves no run behind, only a list the next attempt replaces.
if #ARGV > 1 then
  redis.call('DEL', KEYS[2])
  for first = 2, #ARGV, 1000 do
    redis.call('RPUSH', KEYS[2], unpack(ARGV, first, math.min(first + 999, #ARGV)))
  end
end
redis.call('HSET', KEYS[1], 'version', 0, 'state', ARGV[1])
return {1, ARGV[1]}
