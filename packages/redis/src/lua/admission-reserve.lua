--[[
  Fleet-wide admission for one model: a sliding one-minute window of requests and of tokens, shared
  by every worker, so N workers together stay under the model's RPM and TPM instead of N times them.
  Reserves one request and the call's estimated tokens if both fit; otherwise says how long until they
  will. Times come from the Redis clock.

  KEYS[1] the window's requests (sorted set: reservation id by time)
  KEYS[2] the window's tokens (sorted set: "<reservation id>:<tokens>" by time)
  KEYS[3] the running token total of the window (string)
  KEYS[4] the model's cooldown (a key that lives as long as a provider asked everyone to wait)
  ARGV[1] requests per minute, 0 for no limit
  ARGV[2] tokens per minute, 0 for no limit
  ARGV[3] the reservation id
  ARGV[4] the estimated tokens of the call

  Returns {1, 0, tokens reserved} when admitted (the estimate, capped at the TPM), or
  {0, milliseconds to wait, 0} when not. A model without limits keeps no window: only its cooldown is
  asked, and nothing is reserved (0 tokens), so there is nothing to settle.
]]
local rpm = tonumber(ARGV[1])
local tpm = tonumber(ARGV[2])
if rpm == 0 and tpm == 0 then
  local cooldown = redis.call('PTTL', KEYS[4])
  if cooldown > 0 then
    return {0, cooldown, 0}
  end
  return {1, 0, 0}
end
local window = 60000
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local estimate = tonumber(ARGV[4])
if tpm > 0 and estimate > tpm then
  -- A call larger than the whole budget would wait for ever; it may go alone in an empty window.
  estimate = tpm
end

-- Forget what left the window, keeping the token total in step.
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local total = tonumber(redis.call('GET', KEYS[3]) or '0')
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now - window)
for _, member in ipairs(expired) do
  total = total - tonumber(string.match(member, ':(%-?%d+)$'))
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
if total < 0 then
  total = 0
end

local wait = math.max(0, redis.call('PTTL', KEYS[4]))
if rpm > 0 and redis.call('ZCARD', KEYS[1]) >= rpm then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  wait = math.max(wait, tonumber(oldest[2]) + window - now)
end
if tpm > 0 and total + estimate > tpm then
  -- Walk the window from its oldest entry until enough tokens would have left it.
  local freed = 0
  local entries = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
  for index = 1, #entries, 2 do
    freed = freed + tonumber(string.match(entries[index], ':(%-?%d+)$'))
    if total - freed + estimate <= tpm then
      wait = math.max(wait, tonumber(entries[index + 1]) + window - now)
      break
    end
  end
end
redis.call('SET', KEYS[3], total, 'PX', window * 2)
if wait > 0 then
  return {0, wait, 0}
end

redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('ZADD', KEYS[2], now, ARGV[3] .. ':' .. estimate)
redis.call('SET', KEYS[3], total + estimate, 'PX', window * 2)
redis.call('PEXPIRE', KEYS[1], window * 2)
redis.call('PEXPIRE', KEYS[2], window * 2)
return {1, 0, estimate}
