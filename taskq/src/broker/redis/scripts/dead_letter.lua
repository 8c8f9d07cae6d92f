-- Moves a frame a worker could not decode from its in-flight hash to the
-- dead-letter list and fails the task's record, if it has one.
-- KEYS[1..6] reservation keys, KEYS[7] the worker's in-flight hash,
-- KEYS[8] dead-letter list, KEYS[9] the task's record
-- ARGV[1] id, ARGV[2] now (ms), ARGV[3] reason, ARGV[4] done channel
-- Returns the promoted waiters.
local frame = redis.call('HGET', KEYS[7], ARGV[1])
if not frame then
  return {}
end
redis.call('LPUSH', KEYS[8], ARGV[2] .. ' ' .. ARGV[3] .. '\n' .. frame)
redis.call('HDEL', KEYS[7], ARGV[1])
if redis.call('EXISTS', KEYS[9]) == 1 then
  redis.call('HSET', KEYS[9], 'state', 'failed', 'error', ARGV[3], 'error_kind', 'undecodable', 'finished', ARGV[2])
  redis.call('EXPIRE', KEYS[9], tonumber(redis.call('HGET', KEYS[9], 'ttl')) or 86400)
  redis.call('PUBLISH', ARGV[4], 'failed')
end
return res_release(ARGV[1], nil, false)
