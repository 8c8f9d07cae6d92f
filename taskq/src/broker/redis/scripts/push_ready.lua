-- Queues waiters that became ready (see res_release).
-- KEYS[1..6] reservation keys, then per task 4 keys: task record, ready list, delayed zset, wake list
-- ARGV[1] now (ms), then per task 2 args: id, priority digit
-- Tasks come in dispatch order; they are processed last first, so that the
-- earliest ends up at the front (the right end, where RPOP takes).
-- Returns how many were queued.
local now = tonumber(ARGV[1])
local queued = 0
for i = (#KEYS - 6) / 4 - 1, 0, -1 do
  local task, list, delayed, wake = KEYS[7 + i * 4], KEYS[8 + i * 4], KEYS[9 + i * 4], KEYS[10 + i * 4]
  local id, prio = ARGV[2 + i * 2], ARGV[3 + i * 2]
  if redis.call('ZSCORE', RES_READY, id) then
    local frame = redis.call('HGET', RES_WAITING, id)
    local meta = redis.call('HGET', RES_TASKS, id)
    if frame and meta then
      local m = res_parse_meta(meta)
      if m.eta ~= '0' and tonumber(m.eta) > now then
        redis.call('ZADD', delayed, m.eta, prio .. frame)
      else
        -- It waited for its turn: put it at the front of its queue.
        redis.call('RPUSH', list, frame)
      end
      redis.call('LPUSH', wake, '1')
      redis.call('LTRIM', wake, 0, 0)
      redis.call('HDEL', RES_WAITING, id)
      if redis.call('HGET', task, 'state') == 'waiting' then
        redis.call('HSET', task, 'state', 'pending')
      end
      queued = queued + 1
    end
    redis.call('ZREM', RES_READY, id)
  end
end
return queued
