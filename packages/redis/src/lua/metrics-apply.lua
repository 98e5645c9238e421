--[[
  Applies a batch of stream entries (each one or many run events) to the metrics process's aggregates
  and acknowledges them, atomically. An entry is applied only if this call is the one that acknowledges
  it (XACK returns 1), so an entry delivered twice (a restart re-reads its pending entries, a peer
  claims an idle one) counts once.

  KEYS[1] a shard's event stream   KEYS[2..] its aggregate hashes (totals, window, tenant cost)
  ARGV[1] the consumer group
  then per entry: its stream id, how many events it holds, n, and n triples (index into KEYS, field,
  increment)

  Returns how many events were applied.
]]
local applied = 0
local position = 2
while position <= #ARGV do
  local id = ARGV[position]
  local events = tonumber(ARGV[position + 1])
  local count = tonumber(ARGV[position + 2])
  position = position + 3
  local acknowledged = redis.call('XACK', KEYS[1], ARGV[1], id) == 1
  if acknowledged then applied = applied + events end
  for _ = 1, count do
    if acknowledged then
      redis.call('HINCRBYFLOAT', KEYS[tonumber(ARGV[position])], ARGV[position + 1], ARGV[position + 2])
    end
    position = position + 3
  end
end
return applied
