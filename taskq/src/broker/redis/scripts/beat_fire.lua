-- Fires one occurrence of a beat schedule: a compare-and-set on the
-- schedule's next run time, then (in the same atomic step) the enqueue of
-- the task. The body of enqueue.lua follows this prelude, so KEYS[1..11] and
-- ARGV[1..11] are enqueue.lua's, for exactly one message whose id is derived
-- from (schedule, due time) and sent with dedupe.
-- KEYS[12] the schedule's hash, KEYS[13] due zset, KEYS[14] pending outcomes hash (task id -> name)
-- ARGV[12] name, ARGV[13] the due time read (ms), ARGV[14] the schedule's rev read,
-- ARGV[15] the next run ('' = none left), ARGV[16] remaining runs after this one ('' = unlimited),
-- ARGV[17] the task id
-- Returns { 'stale' } if another beat fired it or the schedule changed;
-- otherwise enqueue.lua's answer ({ 'queued' }, { 'waiting' } or { 'duplicate' }).
local BEAT_SCHED, BEAT_DUE, BEAT_PENDING = KEYS[12], KEYS[13], KEYS[14]
local beat_score = redis.call('ZSCORE', BEAT_DUE, ARGV[12])
if (not beat_score) or tonumber(beat_score) ~= tonumber(ARGV[13])
    or redis.call('HGET', BEAT_SCHED, 'rev') ~= ARGV[14] then
  return { 'stale' }
end
if ARGV[15] == '' then
  redis.call('ZREM', BEAT_DUE, ARGV[12])
  redis.call('HDEL', BEAT_SCHED, 'next')
else
  redis.call('ZADD', BEAT_DUE, ARGV[15], ARGV[12])
  redis.call('HSET', BEAT_SCHED, 'next', ARGV[15])
end
if ARGV[16] ~= '' then
  redis.call('HSET', BEAT_SCHED, 'remaining', ARGV[16])
end
redis.call('HSET', BEAT_SCHED, 'last_run', ARGV[13], 'last_fired', ARGV[1], 'last_task', ARGV[17])
redis.call('HINCRBY', BEAT_SCHED, 'runs', 1)
redis.call('HSET', BEAT_PENDING, ARGV[17], ARGV[12])
