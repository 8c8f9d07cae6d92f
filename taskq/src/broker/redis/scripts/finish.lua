-- Acknowledges tasks and records their outcomes, each atomically.
-- KEYS[1..6] reservation keys, KEYS[7] the worker's in-flight hash,
-- KEYS[8] kill counts, KEYS[9] canceled-while-queued set,
-- then 5 keys per queue the worker serves (list prio 0, 1, 2, delayed zset, wake list),
-- then per outcome 2 keys: task record, delayed zset of its queue
-- ARGV[1] now (ms), ARGV[2] number of outcomes, ARGV[3] done-channel prefix, ARGV[4] worker id,
-- ARGV[5] room (how many more tasks the worker can start now), ARGV[6] number of queues,
-- then the queue names,
-- then per outcome 9 args: id, kind ('succeeded'|'failed'|'canceled'|'retry'|'defer'),
--   payload (result bytes, or error message), error kind, ttl (s),
--   due (ms, retry and defer only), delayed member (retry and defer only), attempt, started (ms)
-- 'defer' (rate limit reached, the task did not run) puts the frame back in
-- the delayed set unchanged: no attempt counted, state and reservations kept;
-- a task canceled meanwhile is dropped.
-- Waiters that a release makes ready and that belong to one of the worker's
-- queues (their keys are known here) are handled at once: up to `room` of
-- them are handed to this worker (moved into its in-flight hash and
-- returned, as a fetch would) when no more urgent task of their queue is
-- ready; the rest go to the front of their queue, in dispatch order. Their
-- records say 'waiting' until a worker starts them. Waiters of other queues
-- are returned for push_ready.
-- Returns { fenced positions, promoted waiters {id, queue, prio, ...}, handed frames }.
local now = ARGV[1]
local n = tonumber(ARGV[2])
local room = tonumber(ARGV[5])
local nq = tonumber(ARGV[6])
local first_outcome_key = 10 + nq * 5
local first_outcome_arg = 6 + nq
local queue_base = {}
for j = 0, nq - 1 do
  queue_base[ARGV[7 + j]] = 10 + j * 5
end
local handed = {}
-- list key index -> frames to put at its front, in dispatch order
local fronts = {}
local woken = {}
local function more_urgent_ready(base, prio)
  for p = 0, prio - 1 do
    if redis.call('LLEN', KEYS[base + p]) > 0 then
      return true
    end
  end
  return false
end
local function push(c, cm, frame)
  local base = queue_base[cm.queue]
  if not base or (cm.eta ~= '0' and tonumber(cm.eta) > tonumber(now)) then
    return false
  end
  redis.call('HDEL', RES_WAITING, c)
  local prio = tonumber(cm.prio)
  if room > 0 and not more_urgent_ready(base, prio) then
    redis.call('HSET', KEYS[7], c, frame)
    handed[#handed + 1] = frame
    room = room - 1
  else
    local list = base + prio
    fronts[list] = fronts[list] or {}
    table.insert(fronts[list], frame)
    woken[base] = true
  end
  return true
end
local has_kills = redis.call('EXISTS', KEYS[8]) == 1
local has_canceled = redis.call('SCARD', KEYS[9]) > 0
local fenced = {}
local promoted = {}
for i = 0, n - 1 do
  local task, delayed = KEYS[first_outcome_key + i * 2], KEYS[first_outcome_key + 1 + i * 2]
  local a = first_outcome_arg + i * 9
  local id, kind, payload, ekind = ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4]
  local ttl, due, member, attempt, started = ARGV[a + 5], ARGV[a + 6], ARGV[a + 7], ARGV[a + 8], ARGV[a + 9]
  if redis.call('HDEL', KEYS[7], id) == 0 then
    -- The worker lost the task to the reaper; the new owner's outcome counts.
    fenced[#fenced + 1] = i + 1
  else
    if has_kills then
      redis.call('HDEL', KEYS[8], id)
    end
    if has_canceled then
      redis.call('SREM', KEYS[9], id)
    end
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
      local fields
      if kind == 'succeeded' then
        fields = { 'state', 'succeeded', 'result', payload, 'finished', now, 'attempt', attempt, 'worker', ARGV[4] }
        if attempt ~= '1' then
          redis.call('HDEL', task, 'error', 'error_kind')
        end
      else
        fields = { 'state', kind, 'error', payload, 'error_kind', ekind, 'finished', now, 'attempt', attempt,
          'worker', ARGV[4] }
      end
      if started ~= '0' then
        fields[#fields + 1] = 'started'
        fields[#fields + 1] = started
      end
      redis.call('HSET', task, unpack(fields))
      redis.call('EXPIRE', task, ttl)
      redis.call('PUBLISH', ARGV[3] .. id, kind)
      for _, v in ipairs(res_release(id, push, true)) do
        promoted[#promoted + 1] = v
      end
    end
  end
end
-- RPOP takes from the right: the earliest waiter goes in last.
for list, frames in pairs(fronts) do
  for i = #frames, 1, -1 do
    redis.call('RPUSH', KEYS[list], frames[i])
  end
end
for base in pairs(woken) do
  redis.call('LPUSH', KEYS[base + 4], '1')
  redis.call('LTRIM', KEYS[base + 4], 0, 0)
end
return { fenced, promoted, handed }
