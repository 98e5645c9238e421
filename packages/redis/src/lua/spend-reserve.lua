--[[
  Reserves the estimated cost of a model call against a tenant's daily budget, before the call is made,
  so the fleet as a whole cannot overspend: a call that would take the day's spend, with every call
  still in flight, over the limit is refused. Reservations carry a lease: one whose worker died without
  settling it stops counting when the lease runs out. Amounts are integer nano-dollars.

  KEYS[1] the day's totals (hash: spent, reserved)
  KEYS[2] the day's open reservations (sorted set: "<id>:<amount>" by lease end)
  ARGV[1] the daily limit
  ARGV[2] the reservation id (the model call's id)
  ARGV[3] the estimated cost
  ARGV[4] the lease in milliseconds
  ARGV[5] seconds to keep the day's keys

  Returns {1, spent, reserved} when reserved, {0, spent, reserved} when the call would go over.
]]
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)
for _, member in ipairs(expired) do
  redis.call('HINCRBY', KEYS[1], 'reserved', -tonumber(string.match(member, ':(%d+)$')))
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local spent = tonumber(redis.call('HGET', KEYS[1], 'spent') or '0')
local reserved = math.max(0, tonumber(redis.call('HGET', KEYS[1], 'reserved') or '0'))
local amount = tonumber(ARGV[3])
if spent + reserved + amount > tonumber(ARGV[1]) then
  return {0, spent, reserved}
end
-- A resend of this very script (its reply lost with the connection) must not reserve twice.
if redis.call('ZADD', KEYS[2], 'NX', now + tonumber(ARGV[4]), ARGV[2] .. ':' .. ARGV[3]) == 1 then
  redis.call('HINCRBY', KEYS[1], 'reserved', amount)
end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[5]))
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[5]))
return {1, spent, reserved + amount}
