-- Cancels a task in any state.
-- KEYS[1..6] reservation keys, KEYS[7] task record, KEYS[8] canceled-while-queued set
-- ARGV[1] id, ARGV[2] now (ms), ARGV[3] done channel, ARGV[4] control channel
-- Returns { status, promoted waiters } where status is 'unknown', a final
-- state ('succeeded', 'failed', 'canceled' = already final), 'canceling'
-- (running: its worker was told) or 'canceled-now'.
local task = KEYS[7]
local st = redis.call('HGET', task, 'state')
if not st then
  return { 'unknown', {} }
end
if st == 'succeeded' or st == 'failed' or st == 'canceled' then
  return { st, {} }
end
if st == 'started' then
  redis.call('HSET', task, 'cancel', '1')
  redis.call('PUBLISH', ARGV[4], 'cancel ' .. ARGV[1])
  return { 'canceling', {} }
end
-- pending, retrying or waiting: it never runs.
redis.call('HSET', task, 'state', 'canceled', 'error', 'canceled before it started',
  'error_kind', 'canceled', 'finished', ARGV[2])
redis.call('EXPIRE', task, tonumber(redis.call('HGET', task, 'ttl')) or 86400)
if st ~= 'waiting' or redis.call('HEXISTS', RES_WAITING, ARGV[1]) == 0 then
  -- Its frame sits in a queue or the delayed set (a waiter queued by the
  -- release of its resource still says 'waiting'): fetch drops it.
  redis.call('SADD', KEYS[8], ARGV[1])
end
redis.call('PUBLISH', ARGV[3], 'canceled')
-- A worker may already hold it without having marked it started.
redis.call('PUBLISH', ARGV[4], 'cancel ' .. ARGV[1])
return { 'canceled-now', res_release(ARGV[1], nil, false) }
