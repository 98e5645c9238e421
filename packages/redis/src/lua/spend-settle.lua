--[[
  Settles a reservation against a tenant's daily budget with what the call really cost. The spend is
  keyed by call id (HSETNX), so a settle replayed after a crash never counts a call twice.

  KEYS[1] the day's totals (hash)   KEYS[2] the day's open reservations   KEYS[3] the day's ledger (hash)
  ARGV[1] the call id   ARGV[2] the amount it reserved   ARGV[3] what it cost (0 when it failed)
  ARGV[4] seconds to keep the day's keys

  Returns the day's spend after the settle.
]]
if redis.call('ZREM', KEYS[2], ARGV[1] .. ':' .. ARGV[2]) == 1 then
  redis.call('HINCRBY', KEYS[1], 'reserved', -tonumber(ARGV[2]))
end
local cost = tonumber(ARGV[3])
if cost > 0 and redis.call('HSETNX', KEYS[3], ARGV[1], cost) == 1 then
  redis.call('HINCRBY', KEYS[1], 'spent', cost)
end
for index = 1, 3 do
  redis.call('EXPIRE', KEYS[index], tonumber(ARGV[4]))
end
return tonumber(redis.call('HGET', KEYS[1], 'spent') or '0')
