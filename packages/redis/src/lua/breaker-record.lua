--[[
  Records the outcome of a call on a model's fleet-wide circuit breaker. A success closes it. A failure
  counts towards the threshold of consecutive failures; reaching it (or failing as the half-open probe)
  opens the breaker.

  KEYS[1] the breaker's hash
  ARGV[1] 'success' or 'failure'
  ARGV[2] consecutive failures that open the breaker

  Returns {transition: 'opened', 'closed' or '', consecutive failures now}.
]]
local fields = redis.call('HMGET', KEYS[1], 'state', 'failures')
local state = fields[1] or 'closed'
if ARGV[1] == 'success' then
  -- The common case, a healthy model: nothing to change, nothing written.
  if state == 'closed' and tonumber(fields[2] or '0') == 0 then
    return {'', 0}
  end
  redis.call('HSET', KEYS[1], 'state', 'closed', 'failures', 0)
  if state ~= 'closed' then
    return {'closed', 0}
  end
  return {'', 0}
end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
if state == 'half_open' or (state == 'closed' and failures >= tonumber(ARGV[2])) then
  redis.call('HSET', KEYS[1], 'state', 'open', 'openedAt', now)
  return {'opened', failures}
end
return {'', failures}
