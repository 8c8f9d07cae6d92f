-- Processes the in-flight tasks of a dead worker ('reap') or of a worker
-- handing its tasks back at shutdown ('handback'). A task handed over
-- after waiting for its resources that never started goes back in line;
-- if it must still wait for another task (it came in a run behind it), to
-- the waiting set instead of its queue.
-- KEYS[1..6] reservation keys, KEYS[7] workers zset, KEYS[8] the worker's in-flight hash,
-- KEYS[9] kill counts, KEYS[10] dead-letter list, KEYS[11] the worker's registry hash,
-- then per task 3 keys: task record, ready list, wake list
-- ARGV[1] worker id, ARGV[2] now (ms), ARGV[3] max kills, ARGV[4] mode,
-- ARGV[5] done-channel prefix, then per task 4 args: id, action ('requeue'|'fail'|'dead'),
--   message, error kind
-- Returns { requeued, failed, dead-lettered, promoted waiters }, or { -1 } if the
-- worker renewed its lease meanwhile (it is alive: nothing is touched).
local now = ARGV[2]
local mode = ARGV[4]
if mode == 'reap' then
  local s = redis.call('ZSCORE', KEYS[7], ARGV[1])
  if s and tonumber(s) >= tonumber(now) then
    return { -1 }
  end
end
local requeued, failed, dead = 0, 0, 0
local promoted = {}

local function finalize(task, id, state, message, ekind)
  redis.call('HSET', task, 'state', state, 'error', message, 'error_kind', ekind, 'finished', now)
  redis.call('EXPIRE', task, tonumber(redis.call('HGET', task, 'ttl')) or 86400)
  redis.call('PUBLISH', ARGV[5] .. id, state)
  redis.call('HDEL', KEYS[9], id)
  for _, v in ipairs(res_release(id, nil, false)) do
    promoted[#promoted + 1] = v
  end
end

for i = 0, (#KEYS - 11) / 3 - 1 do
  local task, list, wake = KEYS[12 + i * 3], KEYS[13 + i * 3], KEYS[14 + i * 3]
  local a = 5 + i * 4
  local id, action, message, ekind = ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4]
  local frame = redis.call('HGET', KEYS[8], id)
  if frame then
    if redis.call('HGET', task, 'cancel') == '1' then
      action = 'cancel'
    elseif action ~= 'dead' and redis.call('HGET', task, 'state') == 'waiting' then
      -- Handed over after waiting for its resources (alone, or in a run
      -- behind another task) and never recorded as started: back in line,
      -- whatever its policy; to the waiting set if a task before it still
      -- holds one of its resources.
      action = res_waits(id) and 'wait' or 'requeue'
    elseif action == 'requeue' and mode == 'reap' then
      local kills = redis.call('HINCRBY', KEYS[9], id, 1)
      if kills > tonumber(ARGV[3]) then
        action = 'dead'
        message = 'task killed its worker ' .. kills .. ' times'
        ekind = 'poison'
      end
    end
    if action == 'requeue' then
      redis.call('RPUSH', list, frame)
      redis.call('LPUSH', wake, '1')
      redis.call('LTRIM', wake, 0, 0)
      if redis.call('HGET', task, 'state') == 'started' then
        redis.call('HSET', task, 'state', 'pending')
      end
      requeued = requeued + 1
    elseif action == 'wait' then
      redis.call('HSET', RES_WAITING, id, frame)
      requeued = requeued + 1
    elseif action == 'cancel' then
      finalize(task, id, 'canceled', 'canceled while running; its worker stopped', 'canceled')
      failed = failed + 1
    elseif action == 'fail' then
      finalize(task, id, 'failed', message, ekind)
      failed = failed + 1
    else
      redis.call('LPUSH', KEYS[10], now .. ' ' .. message .. '\n' .. frame)
      finalize(task, id, 'failed', message, ekind)
      dead = dead + 1
    end
    redis.call('HDEL', KEYS[8], id)
  end
end
if mode == 'reap' and redis.call('HLEN', KEYS[8]) == 0 then
  redis.call('ZREM', KEYS[7], ARGV[1])
  redis.call('DEL', KEYS[11])
end
return { requeued, failed, dead, promoted }
