--[[
  Appends a run's turns to its thread, once: the run's id is recorded with the turns, so a finish that
  is replayed after a crash appends nothing the second time. The thread's keys live as long as the
  thread is used.

  KEYS[1] the thread's turns (list)   KEYS[2] the runs appended (hash)   KEYS[3] the thread's memory (hash)
  KEYS[4] the facts (hash)   KEYS[5] the queue of runs (list)
  ARGV[1] the run id   ARGV[2] seconds to keep the thread after its last use   ARGV[3..] the turns (JSON)

  Returns 1 when the turns were appended, 0 when the run had appended them already.
]]
local trimmed = tonumber(redis.call('HGET', KEYS[3], 'trimmed') or '0')
local appended = 0
if redis.call('HSETNX', KEYS[2], ARGV[1], redis.call('LLEN', KEYS[1]) + trimmed) == 1 then
  if #ARGV > 2 then redis.call('RPUSH', KEYS[1], unpack(ARGV, 3)) end
  appended = 1
end
for index = 1, 5 do
  if redis.call('EXISTS', KEYS[index]) == 1 then redis.call('EXPIRE', KEYS[index], tonumber(ARGV[2])) end
end
return appended
