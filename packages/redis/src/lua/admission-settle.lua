--[[
  Replaces a reservation's estimated tokens with what the call really used, once it is known, so the
  window counts real usage. A reservation that already left the window is ignored.

  KEYS[1] the window's tokens (sorted set)   KEYS[2] the running token total (string)
  ARGV[1] the reservation id   ARGV[2] the tokens it reserved   ARGV[3] the tokens it used

  Returns 1 when the reservation was found, 0 otherwise.
]]
local reserved = ARGV[1] .. ':' .. ARGV[2]
local score = redis.call('ZSCORE', KEYS[1], reserved)
if not score then
  return 0
end
redis.call('ZREM', KEYS[1], reserved)
redis.call('ZADD', KEYS[1], score, ARGV[1] .. ':' .. ARGV[3])
local total = tonumber(redis.call('GET', KEYS[2]) or '0') + tonumber(ARGV[3]) - tonumber(ARGV[2])
if total < 0 then
  total = 0
end
redis.call('SET', KEYS[2], total, 'KEEPTTL')
return 1
