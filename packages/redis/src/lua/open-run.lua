--[[
  Opens a run: creates it if no run has its key yet (with the turns it starts from, a fork's replayed
  steps, and its first event), and returns it as stored, with its transcript when asked. One call is
  all a worker needs to take a run up, and all a producer needs to create one.

  KEYS[1] the run's state hash       KEYS[2] its transcript list
  KEYS[3] its event stream           KEYS[4] its shard's event stream
  KEYS[5] the tenant's run index of the shard
  ARGV[1] the run's creation time (its score in the index)
  ARGV[2] the run id
  ARGV[3] entries kept in a run's stream   ARGV[4] entries kept in a shard's stream
  ARGV[5] '1' to return the transcript, '' not to
  ARGV[6] an event to append when the run is created (JSON), '' for none
  ARGV[7] n, then n field/value pairs of the new run's state hash (version 0; each a JSON value); 0 to
          only read a run that exists (a worker taking a run up almost always finds it)
  then the messages the run starts with (JSON each)

  Returns {1 when it created the run, 0 when it existed, -1 when it does not and no state was given;
  the state hash as field/value pairs; the transcript}.
]]
local created = 0
if redis.call('EXISTS', KEYS[1]) == 0 then
  if ARGV[7] == '0' then
    return { -1, {}, {} }
  end
  created = 1
  local pairCount = tonumber(ARGV[7])
  local turnsFrom = 8 + pairCount * 2
  -- The turns first, in slices (unpack has a limit of a few thousand values), and the state last: an
  -- error part way leaves no run behind, only a list the next attempt replaces.
  if #ARGV >= turnsFrom then
    redis.call('DEL', KEYS[2])
    for first = turnsFrom, #ARGV, 1000 do
      redis.call('RPUSH', KEYS[2], unpack(ARGV, first, math.min(first + 999, #ARGV)))
    end
  end
  redis.call('HSET', KEYS[1], 'version', 0, unpack(ARGV, 8, 7 + pairCount * 2))
  redis.call('ZADD', KEYS[5], ARGV[1], ARGV[2])
  if ARGV[6] ~= '' then
    redis.call('XADD', KEYS[3], 'MAXLEN', '~', tonumber(ARGV[3]), '*', 'event', ARGV[6])
    redis.call('XADD', KEYS[4], 'MAXLEN', '~', tonumber(ARGV[4]), '*', 'events', ARGV[6])
  end
end
local turns = {}
if ARGV[5] == '1' then
  turns = redis.call('LRANGE', KEYS[2], 0, -1)
end
return { created, redis.call('HGETALL', KEYS[1]), turns }
