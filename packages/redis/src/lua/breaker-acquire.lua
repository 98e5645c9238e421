--[[
  Asks a model's fleet-wide circuit breaker whether a call may go now. Closed: yes. Open: no until the
  cooldown has passed; then the breaker half-opens and this caller is its one probe (with a lease, so a
  probe that dies does not keep the breaker half-open for ever). Half-open: no while the probe's lease
  runs. Times come from the Redis clock, the same for every worker.

  KEYS[1] the breaker's hash
  ARGV[1] cooldown in milliseconds
  ARGV[2] probe lease in milliseconds

  Returns {1 if allowed else 0, state after the call, milliseconds until it may be asked again}.
]]
local state = redis.call('HGET', KEYS[1], 'state') or 'closed'
if state == 'closed' then
  return {1, 'closed', 0}
end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
if state == 'open' then
  local reopensAt = tonumber(redis.call('HGET', KEYS[1], 'openedAt')) + tonumber(ARGV[1])
  if now < reopensAt then
    return {0, 'open', reopensAt - now}
  end
  redis.call('HSET', KEYS[1], 'state', 'half_open', 'probeUntil', now + tonumber(ARGV[2]))
  return {1, 'half_open', 0}
end
local probeUntil = tonumber(redis.call('HGET', KEYS[1], 'probeUntil') or '0')
if now >= probeUntil then
  redis.call('HSET', KEYS[1], 'probeUntil', now + tonumber(ARGV[2]))
  return {1, 'half_open', 0}
end
-- A probe that is slow to report still should not hold the others back for its whole lease.
return {0, 'half_open', math.min(probeUntil - now, tonumber(ARGV[1]))}
