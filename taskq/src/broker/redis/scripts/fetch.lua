-- Moves up to `count` ready tasks into a worker's in-flight hash.
-- KEYS[1] workers zset, KEYS[2] the worker's in-flight hash,
-- KEYS[3] canceled-while-queued set, KEYS[4] dead-letter list,
-- then per queue 5 keys: list prio 0, list prio 1, list prio 2, delayed zset, wake list
-- ARGV[1] worker id, ARGV[2] now (ms), ARGV[3] count, ARGV[4] max delayed promotions per queue
-- Returns { frames, next due time ('' if nothing is delayed) }.
local now = tonumber(ARGV[2])
local deadline = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not deadline or tonumber(deadline) < now then
  return redis.error_reply('TASKQ_LEASE_LOST worker ' .. ARGV[1] .. ' is not registered or its lease expired')
end
local nq = (#KEYS - 4) / 5
local limit = tonumber(ARGV[4])

-- 1. Delayed tasks that are due join the back of their priority list.
for j = 0, nq - 1 do
  local b = 4 + j * 5
  local due = redis.call('ZRANGEBYSCORE', KEYS[b + 4], '-inf', now, 'LIMIT', 0, limit)
  if #due > 0 then
    for _, m in ipairs(due) do
      local p = tonumber(string.sub(m, 1, 1)) or 1
      redis.call('LPUSH', KEYS[b + 1 + p], string.sub(m, 2))
    end
    redis.call('ZREM', KEYS[b + 4], unpack(due))
  end
end

-- 2. Take tasks, most urgent priority first, then in queue order.
local want = tonumber(ARGV[3])
local got = {}
local check_canceled = redis.call('SCARD', KEYS[3]) > 0
for p = 0, 2 do
  for j = 0, nq - 1 do
    if want <= 0 then
      break
    end
    local items = redis.call('RPOP', KEYS[4 + j * 5 + 1 + p], want)
    if items then
      want = want - #items
      for _, f in ipairs(items) do
        local nl = string.find(f, '\n', 5, true)
        if string.sub(f, 1, 4) ~= 'tq1:' or not nl or nl == 5 then
          redis.call('LPUSH', KEYS[4], ARGV[2] .. ' malformed frame (not a taskq v1 message)\n' .. f)
        else
          local id = string.sub(f, 5, nl - 1)
          if not (check_canceled and redis.call('SREM', KEYS[3], id) == 1) then
            redis.call('HSET', KEYS[2], id, f)
            got[#got + 1] = f
          end
        end
      end
    end
  end
end

-- 3. If this worker took all it asked for and work remains, pass the wake
--    token on so that another idle worker fetches too.
if want <= 0 then
  for j = 0, nq - 1 do
    local b = 4 + j * 5
    if redis.call('LLEN', KEYS[b + 1]) + redis.call('LLEN', KEYS[b + 2]) + redis.call('LLEN', KEYS[b + 3]) > 0 then
      redis.call('LPUSH', KEYS[b + 5], '1')
      redis.call('LTRIM', KEYS[b + 5], 0, 0)
    end
  end
end

-- 4. Tell the worker when the next delayed task is due.
local next_due = nil
for j = 0, nq - 1 do
  local first = redis.call('ZRANGE', KEYS[4 + j * 5 + 4], 0, 0, 'WITHSCORES')
  if first[2] and (next_due == nil or tonumber(first[2]) < next_due) then
    next_due = tonumber(first[2])
  end
end
return { got, next_due and string.format('%d', next_due) or '' }
