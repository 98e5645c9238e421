--[[
  Puts a run in its thread's queue (once) and says whether it is the run's turn: runs of one thread
  go one at a time, in the order they entered.

  KEYS[1] the thread's queue (list of run ids)   ARGV[1] the run id   ARGV[2] seconds to keep the queue

  Returns the run id at the head of the queue.
]]
if not redis.call('LPOS', KEYS[1], ARGV[1]) then redis.call('RPUSH', KEYS[1], ARGV[1]) end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
return redis.call('LINDEX', KEYS[1], 0)
