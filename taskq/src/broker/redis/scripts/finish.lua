-- Acknowledges tasks and records their outcomes, each atomically.
-- KEYS[1..6] reservation keys, KEYS[7] the worker's in-flight hash,
-- KEYS[8] kill counts, KEYS[9] canceled-while-queued set,
-- then per outcome 2 keys: task record, delayed zset of its queue
-- ARGV[1] now (ms), ARGV[2] number of outcomes, ARGV[3] done-channel prefix, ARGV[4] worker id
-- then per outcome 9 args: id, kind ('succeeded'|'failed'|'canceled'|'retry'|'defer'),
--   payload (result bytes, or error message), error kind, ttl (s),
--   due (ms, retry and defer only), delayed member (retry and defer only), attempt, started (ms)
-- 'defer' (rate limit reached, the task did not run) puts the frame back in
-- the delayed set unchanged: no attempt counted, state and reservations kept;
-- a task canceled meanwhile is dropped.
-- Returns { fenced positions, promoted waiters {id, queue, prio, ...} }.
local now = ARGV[1]
local n = tonumber(ARGV[2])
local fenced = {}
local promoted = {}
for i = 0, n - 1 do
  local task, delayed = KEYS[10 + i * 2], KEYS[11 + i * 2]
  local a = 4 + i * 9
  local id, kind, payload, ekind = ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4]
  local ttl, due, member, attempt, started = ARGV[a + 5], ARGV[a + 6], ARGV[a + 7], ARGV[a + 8], ARGV[a + 9]
  if redis.call('HDEL', KEYS[7], id) == 0 then
    -- The worker lost the task to the reaper; the new owner's outcome counts.
    fenced[#fenced + 1] = i + 1
  else
    redis.call('HDEL', KEYS[8], id)
    redis.call('SREM', KEYS[9], id)
    if kind == 'defer' then
      if redis.call('HGET', task, 'state') ~= 'canceled' then
        redis.call('HSET', task, 'eta', due)
        redis.call('ZADD', delayed, due, member)
      end
    elseif kind == 'retry' then
      redis.call('HSET', task, 'state', 'retrying', 'error', payload, 'error_kind', ekind,
        'attempt', attempt, 'eta', due, 'worker', ARGV[4])
      redis.call('HDEL', task, 'cancel')
      redis.call('ZADD', delayed, due, member)
    else
      if kind == 'succeeded' then
        redis.call('HSET', task, 'state', 'succeeded', 'result', payload, 'finished', now,
          'attempt', attempt, 'worker', ARGV[4])
        redis.call('HDEL', task, 'error', 'error_kind')
      else
        redis.call('HSET', task, 'state', kind, 'error', payload, 'error_kind', ekind, 'finished', now,
          'attempt', attempt, 'worker', ARGV[4])
      end
      if started ~= '0' then
        redis.call('HSET', task, 'started', started)
      end
      redis.call('EXPIRE', task, ttl)
      redis.call('PUBLISH', ARGV[3] .. id, kind)
      for _, v in ipairs(res_release(id)) do
        promoted[#promoted + 1] = v
      end
    end
  end
end
return { fenced, promoted }
