--[[
  Commits the checkpoints of many runs in one call (group commit). Each write is fenced on its own: it
  lands only if its run is still at the version its writer read, and a write that is fenced out fails
  alone while the others land. A write carries everything its phase produced: the run's changed fields,
  turns to append, a cost ledger entry, and its events, which go to the run's stream and to its shard's
  stream in the same atomic step, so an event lands exactly when its checkpoint does.

  KEYS   the event streams of the shards the writes belong to (one on Redis Cluster: a script may only
         touch one slot there; each run's own keys share its shard's hash tag, so they are in that slot)
  ARGV[1] entries kept in a run's stream (approximate trim)
  ARGV[2] entries kept in a shard's stream (approximate trim)
  ARGV[3] the writes, one MessagePack array of them (one argument, not thousands: each argument costs
          the client and the server alike), each write an array of
            the run's state key (its other keys are that name plus :turns, :ledger, :events, :cancel,
              :approvals), the index in KEYS of its shard's stream, the version the writer read, a
              unique id of this write, seconds to keep the run's keys from now on (0: no expiry),
            the field/value pairs of the run's state hash to set (each a JSON value), the fields to
              delete, the transcript messages to append (JSON each),
            the ledger entry's call id and record ('' for none; HSETNX: a replay never counts twice),
            and the events (JSON each)

  Returns three numbers per write, in order: the outcome (1 written, 0 fenced out, -1 the run is gone),
  the run's version (the new one when written, the current one when fenced), and 1 when someone asked to
  cancel the run (so a worker whose pub/sub message was lost learns of it at no extra cost), else 0.
]]
local runStreamLength = tonumber(ARGV[1])
local shardStreamLength = tonumber(ARGV[2])
local writes = cmsgpack.unpack(ARGV[3])
local replies = {}
local shardEvents = {}

local function appendAll(key, values)
  -- In slices: unpack has a limit of a few thousand values.
  for from = 1, #values, 1000 do
    redis.call('RPUSH', key, unpack(values, from, math.min(from + 999, #values)))
  end
end

for _, write in ipairs(writes) do
  local key, stream, expected, writeId, keepSeconds, set, deleted, turns, callId, record, events =
    unpack(write)
  local current = redis.call('HGET', key, 'version')
  local reply = #replies
  if not current then
    replies[reply + 1], replies[reply + 2], replies[reply + 3] = -1, 0, 0
  elseif tonumber(current) ~= expected then
    -- A resend of a write whose reply was lost with the connection: if this very write is the one that
    -- landed, it succeeded, and must not be mistaken for another worker's.
    if tonumber(current) == expected + 1 and redis.call('HGET', key, 'writeId') == writeId then
      replies[reply + 1], replies[reply + 2] = 1, tonumber(current)
    else
      replies[reply + 1], replies[reply + 2] = 0, tonumber(current)
    end
    replies[reply + 3] = redis.call('EXISTS', key .. ':cancel')
  else
    local version = expected + 1
    redis.call('HSET', key, 'version', version, 'writeId', writeId, unpack(set))
    if #deleted > 0 then
      redis.call('HDEL', key, unpack(deleted))
    end
    if #turns > 0 then
      appendAll(key .. ':turns', turns)
    end
    if callId ~= '' then
      redis.call('HSETNX', key .. ':ledger', callId, record)
    end
    if #events > 0 then
      local runEvents = key .. ':events'
      local entries = shardEvents[stream]
      if not entries then
        entries = {}
        shardEvents[stream] = entries
      end
      for _, event in ipairs(events) do
        redis.call('XADD', runEvents, 'MAXLEN', '~', runStreamLength, '*', 'event', event)
        entries[#entries + 1] = event
      end
    end
    if keepSeconds > 0 then
      for _, suffix in ipairs({ '', ':turns', ':ledger', ':events', ':cancel', ':approvals' }) do
        redis.call('EXPIRE', key .. suffix, keepSeconds)
      end
    end
    replies[reply + 1], replies[reply + 2] = 1, version
    replies[reply + 3] = redis.call('EXISTS', key .. ':cancel')
  end
end

-- One entry per shard per call: the metrics process reads many events a read, and the shard's stream
-- costs one append per call instead of one per event.
for stream, entries in pairs(shardEvents) do
  redis.call('XADD', KEYS[stream], 'MAXLEN', '~', shardStreamLength, '*', 'events', table.concat(entries, '\n'))
end
return replies
