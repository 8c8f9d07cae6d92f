-- Records the final state of a task a beat fired, once.
-- KEYS[1] pending outcomes hash (task id -> schedule name), KEYS[2] the schedule's hash, KEYS[3] due zset
-- ARGV[1] task id, ARGV[2] schedule name, ARGV[3] state ('succeeded'|'failed'|'canceled'|'unknown'),
-- ARGV[4] now (ms)
-- A success resets the failure count; a failure increments it and, at the
-- schedule's threshold, disables the schedule. Returns 1 if recorded, 0 if
-- another beat did already (or the schedule is gone), 2 if it disabled the schedule.
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then
  return 0
end
local h = KEYS[2]
if redis.call('EXISTS', h) == 0 then
  return 0
end
redis.call('HSET', h, 'last_outcome', ARGV[3], 'last_outcome_task', ARGV[1])
if ARGV[3] == 'succeeded' then
  redis.call('HSET', h, 'failures', 0)
elseif ARGV[3] == 'failed' then
  local failures = redis.call('HINCRBY', h, 'failures', 1)
  local threshold = tonumber(redis.call('HGET', h, 'threshold') or '')
  if threshold and threshold > 0 and failures >= threshold and redis.call('HGET', h, 'enabled') == '1' then
    redis.call('HSET', h, 'enabled', '0', 'disabled_reason',
      failures .. ' consecutive failures (threshold ' .. threshold .. ')', 'updated', ARGV[4])
    redis.call('HINCRBY', h, 'rev', 1)
    redis.call('ZREM', KEYS[3], ARGV[2])
    return 2
  end
end
return 1
