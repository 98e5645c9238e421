--[[
  Rolls a thread's summary forward over its turns up to (not including) an absolute index, with the
  facts the summary found, and trims raw turns that are summarized once more than `keep` turns are kept.
  A summary that does not go further than the one already there is ignored, so a summary step
  replayed after a crash never rolls the thread back. A fact found in the folded turns replaces a
  fact of the same key only if that one was learned no later (its `position`, the thread's length when
  it was written): the summary of old turns never overwrites what the conversation settled since.

  KEYS[1] the thread's memory (hash: summary, summarizedThrough, trimmed)   KEYS[2] the facts (hash)
  KEYS[3] the turns (list)
  ARGV[1] the absolute index the new summary covers up to   ARGV[2] the summary
  ARGV[3] raw turns to keep at most (0: keep all)   ARGV[4..] pairs: fact key, fact JSON (with `position`)

  Returns 1 when the summary was applied, 0 when it was not newer.
]]
local through = tonumber(ARGV[1])
if through <= tonumber(redis.call('HGET', KEYS[1], 'summarizedThrough') or '0') then return 0 end
redis.call('HSET', KEYS[1], 'summary', ARGV[2], 'summarizedThrough', through)
for index = 4, #ARGV, 2 do
  local existing = redis.call('HGET', KEYS[2], ARGV[index])
  if not existing or (cjson.decode(existing).position or 0) <= through then
    redis.call('HSET', KEYS[2], ARGV[index], ARGV[index + 1])
  end
end
local keep = tonumber(ARGV[3])
if keep > 0 then
  local trimmed = tonumber(redis.call('HGET', KEYS[1], 'trimmed') or '0')
  local excess = math.min(redis.call('LLEN', KEYS[3]) - keep, through - trimmed)
  if excess > 0 then
    redis.call('LTRIM', KEYS[3], excess, -1)
    redis.call('HSET', KEYS[1], 'trimmed', trimmed + excess)
  end
end
return 1
