--[[
  Takes or keeps a lease: succeeds when nobody holds it or the caller already does, and (re)starts its
  expiry either way. One holder at a time does the work the lease guards, and a holder that dies lets
  it go when the lease runs out.

  KEYS[1] the lease   ARGV[1] the caller's name   ARGV[2] how long the lease lasts, in milliseconds

  Returns 1 when the caller holds the lease, 0 when someone else does.
]]
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', tonumber(ARGV[2]))
return 1
