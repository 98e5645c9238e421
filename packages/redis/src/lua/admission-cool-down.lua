--[[
  Holds every worker off a model until a provider's advised wait is over. A cooldown only ever grows:
  a shorter wait advised later does not cut a longer one short.

  KEYS[1] the model's cooldown key
  ARGV[1] milliseconds to wait from now

  Returns the cooldown left, in milliseconds.
]]
local wanted = tonumber(ARGV[1])
local left = redis.call('PTTL', KEYS[1])
if left < wanted then
  redis.call('SET', KEYS[1], '1', 'PX', wanted)
  return wanted
end
return left
