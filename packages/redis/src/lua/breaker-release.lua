--[[
  Gives a half-open breaker's probe back when the probe ended without telling anything about the
  model's health (it was aborted, refused by admission, or its worker lost the run), so the next caller
  may probe at once instead of waiting out the lease.

  KEYS[1] the breaker's hash

  Returns 1 when a probe was released, 0 otherwise.
]]
if redis.call('HGET', KEYS[1], 'state') ~= 'half_open' then
  return 0
end
redis.call('HSET', KEYS[1], 'probeUntil', 0)
return 1
