-- Creates or changes a beat schedule.
-- KEYS[1] the schedule's hash, KEYS[2] due zset (name -> next run), KEYS[3] set of schedule names
-- ARGV[1] name, ARGV[2] when ('cron:..' | 'every:<ms>' | 'iso:..'), ARGV[3] task (MessagePack),
-- ARGV[4] enabled ('1'/'0'), ARGV[5] failure threshold ('' = none), ARGV[6] now (ms),
-- ARGV[7] anchor for a fresh start (ms), ARGV[8] next run for a fresh start ('' = never),
-- ARGV[9] remaining runs for a fresh start ('' = unlimited), ARGV[10] expected rev ('' = any)
-- A fresh start (new schedule, changed timing, or enabled again) takes ARGV[7..9]
-- and clears the failure count; otherwise the timing state is kept.
-- Returns { 'ok', rev } or { 'conflict', rev }.
local h = KEYS[1]
local rev = redis.call('HGET', h, 'rev')
if ARGV[10] ~= '' and (rev or '0') ~= ARGV[10] then
  return { 'conflict', rev or '0' }
end
local was_enabled = redis.call('HGET', h, 'enabled')
local fresh = (not rev) or redis.call('HGET', h, 'when') ~= ARGV[2]
  or (was_enabled ~= '1' and ARGV[4] == '1')
if not rev then
  redis.call('HSET', h, 'created', ARGV[6], 'runs', 0, 'failures', 0)
end
redis.call('HSET', h, 'when', ARGV[2], 'task', ARGV[3], 'enabled', ARGV[4], 'updated', ARGV[6])
if ARGV[5] == '' then
  redis.call('HDEL', h, 'threshold')
else
  redis.call('HSET', h, 'threshold', ARGV[5])
end
if fresh then
  redis.call('HSET', h, 'anchor', ARGV[7], 'failures', 0)
  redis.call('HDEL', h, 'disabled_reason')
  if ARGV[8] == '' then
    redis.call('HDEL', h, 'next')
  else
    redis.call('HSET', h, 'next', ARGV[8])
  end
  if ARGV[9] == '' then
    redis.call('HDEL', h, 'remaining')
  else
    redis.call('HSET', h, 'remaining', ARGV[9])
  end
end
local next_run = redis.call('HGET', h, 'next')
if ARGV[4] == '1' and next_run then
  redis.call('ZADD', KEYS[2], next_run, ARGV[1])
else
  redis.call('ZREM', KEYS[2], ARGV[1])
end
redis.call('SADD', KEYS[3], ARGV[1])
return { 'ok', redis.call('HINCRBY', h, 'rev', 1) }
