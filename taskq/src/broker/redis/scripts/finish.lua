-- Acknowledges tasks and records their outcomes, each atomically.
-- KEYS[1..6] reservation keys, KEYS[7] the worker's in-flight hash,
-- KEYS[8] kill counts, KEYS[9] canceled-while-queued set,
-- then 5 keys per queue the worker serves (list prio 0, 1, 2, delayed zset, wake list),
-- then per outcome 3 keys: task record, delayed zset of its queue, record of
--   the task started right after it ('next'; any key if none)
-- ARGV[1] now (ms), ARGV[2] number of outcomes, ARGV[3] done-channel prefix, ARGV[4] worker id,
-- ARGV[5] room (how many more tasks the worker can start now), ARGV[6] number of queues,
-- ARGV[7] longest run to hand over (see below),
-- then the queue names,
-- then per outcome 12 args: id, kind ('succeeded'|'failed'|'canceled'|'retry'|'defer'),
--   payload (result bytes, or error message), error kind, ttl (s),
--   due (ms, retry and defer only), delayed member (retry and defer only), attempt, started (ms),
--   next id ('' if none), next started (ms), next attempt
-- 'next' is the following task of a run handed over earlier (below), which
-- the worker started as soon as this one ended: its start is recorded in
-- the same step as this outcome, so no reader ever sees both running.
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
-- A waiter handed to this worker comes as a run: the waiter, then up to
-- ARGV[7] - 1 tasks queued right behind it on its one exclusive resource
-- that need nothing else (same queue, due, no other resource). They cannot
-- start before it ends anyway; the worker runs them one after the other in
-- one slot, with no round trip in between. They stay in the resource's
-- queue (so nothing else can pass them) and leave the waiting set.
-- Returns { fenced positions, promoted waiters {id, queue, prio, ...},
--   handed runs {{frame, ...}, ...}, ids of 'next' tasks whose cancellation was requested }.
local now = ARGV[1]
local n = tonumber(ARGV[2])
local room = tonumber(ARGV[5])
local nq = tonumber(ARGV[6])
local run_max = tonumber(ARGV[7])
local first_outcome_key = 10 + nq * 5
local first_outcome_arg = 7 + nq
local queue_base = {}
for j = 0, nq - 1 do
  queue_base[ARGV[8 + j]] = 10 + j * 5
end
local handed = {}
-- handed (or run) ids and their frames, written in one HSET at the end
local owned = {}
-- list key index -> frames to put at its front, in dispatch order
local fronts = {}
local woken = {}
-- Lists hold what this script found; only its own RPUSHes (at the end)
-- add to them, so a length read once stays true.
local list_busy = {}
local function more_urgent_ready(base, prio)
  for p = 0, prio - 1 do
    local key = base + p
    if list_busy[key] == nil then
      list_busy[key] = redis.call('LLEN', KEYS[key]) > 0
    end
    if list_busy[key] then
      return true
    end
  end
  return false
end
local function due(m)
  return m.eta == '0' or tonumber(m.eta) <= tonumber(now)
end
-- The tasks queued right behind `c` (meta `cm`, ready, at the head of its
-- one exclusive resource) that may run after it in the same slot.
local function run_behind(c, cm)
  local run = {}
  if run_max <= 1 or #cm.res ~= 1 or cm.res[1].mode ~= 'x' then
    return run
  end
  local q = RES_Q .. cm.res[1].name
  for _, mem in ipairs(redis.call('ZRANGE', q, 1, run_max - 1)) do
    if string.sub(mem, 1, 1) ~= 'x' then
      break
    end
    local f = string.sub(mem, 2)
    local frame = redis.call('HGET', RES_WAITING, f)
    if not frame or (res_ready_maybe and redis.call('ZSCORE', RES_READY, f)) then
      break
    end
    local fm = res_parse_meta(redis.call('HGET', RES_TASKS, f))
    if #fm.res ~= 1 or fm.queue ~= cm.queue or not due(fm) then
      break
    end
    run[#run + 1] = { f, frame }
  end
  return run
end
local function push(c, cm, frame)
  local base = queue_base[cm.queue]
  if not base or not due(cm) then
    return false
  end
  local prio = tonumber(cm.prio)
  if room > 0 and not more_urgent_ready(base, prio) then
    local run = { frame }
    owned[#owned + 1] = c
    owned[#owned + 1] = frame
    redis.call('HDEL', RES_WAITING, c)
    for _, f in ipairs(run_behind(c, cm)) do
      redis.call('HDEL', RES_WAITING, f[1])
      owned[#owned + 1] = f[1]
      owned[#owned + 1] = f[2]
      run[#run + 1] = f[2]
    end
    handed[#handed + 1] = run
    room = room - 1
  else
    redis.call('HDEL', RES_WAITING, c)
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
local cancel = {}
for i = 0, n - 1 do
  local k = first_outcome_key + i * 3
  local task, delayed, next_task = KEYS[k], KEYS[k + 1], KEYS[k + 2]
  local a = first_outcome_arg + i * 12
  local id, kind, payload, ekind = ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4]
  local ttl, due_ms, member, attempt, started = ARGV[a + 5], ARGV[a + 6], ARGV[a + 7], ARGV[a + 8], ARGV[a + 9]
  local next_id, next_started, next_attempt = ARGV[a + 10], ARGV[a + 11], ARGV[a + 12]
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
        redis.call('HSET', task, 'eta', due_ms)
        redis.call('ZADD', delayed, due_ms, member)
      end
    elseif kind == 'retry' then
      redis.call('HSET', task, 'state', 'retrying', 'error', payload, 'error_kind', ekind,
        'attempt', attempt, 'eta', due_ms, 'worker', ARGV[4])
      redis.call('HDEL', task, 'cancel')
      redis.call('ZADD', delayed, due_ms, member)
    else
      -- Ended no later than the next task of its run started (the batch
      -- carrying this outcome may be sent a moment later).
      local finished = (next_id ~= '' and next_started) or now
      local fields
      if kind == 'succeeded' then
        fields = { 'state', 'succeeded', 'result', payload, 'finished', finished, 'attempt', attempt,
          'worker', ARGV[4] }
        if attempt ~= '1' then
          redis.call('HDEL', task, 'error', 'error_kind')
        end
      else
        fields = { 'state', kind, 'error', payload, 'error_kind', ekind, 'finished', finished, 'attempt', attempt,
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
    if next_id ~= '' then
      local st = redis.call('HGET', next_task, 'state')
      if st == 'pending' or st == 'retrying' or st == 'waiting' then
        redis.call('HSET', next_task, 'state', 'started', 'started', next_started, 'attempt', next_attempt,
          'worker', ARGV[4])
      end
      if st == 'canceled' or redis.call('HGET', next_task, 'cancel') == '1' then
        cancel[#cancel + 1] = next_id
      end
    end
  end
end
-- In slices: unpack is limited by Lua's stack.
for i = 1, #owned, 1000 do
  redis.call('HSET', KEYS[7], unpack(owned, i, math.min(i + 999, #owned)))
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
return { fenced, promoted, handed, cancel }
