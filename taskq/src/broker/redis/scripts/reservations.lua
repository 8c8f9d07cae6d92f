-- Resource reservations: a library prepended to the scripts that need it.
--
-- Every task that names resources gets a dispatch sequence number `seq`
-- and one entry per resource in that resource's queue: the sorted set
-- RES_Q .. <resource>, member `<x|s><task id>`, score seq, so that the set
-- lists the resource's tasks in dispatch order (FIFO). Exclusive entries are
-- also in RES_X .. <resource> (member task id, score seq), so that the first
-- exclusive entry of a resource is one lookup away.
--
-- A task is ready when, for each of its resources, no conflicting entry
-- stands before its own: for an exclusive entry it must be the first entry;
-- for a shared one, no exclusive entry may come before it. All entries of a
-- task are added in one atomic step, so any two tasks are ordered the same
-- way in every queue they share and no waiting cycle (deadlock) can form.
--
-- The per-resource keys are built here from two declared prefixes; they
-- carry the namespace's hash tag like every key, so they live in the same
-- Redis Cluster slot as the declared ones. Per-resource sets stay small
-- (Redis keeps sets of up to 128 entries as compact listpacks) and vanish
-- when their last entry goes.
--
-- These keys are fixed and come first in KEYS of every script that includes
-- this file:
local RES_Q = KEYS[1]        -- key prefix: ZSET per resource, its entries
local RES_X = KEYS[2]        -- key prefix: ZSET per resource, its exclusive entries
local RES_SEQ = KEYS[3]      -- STRING dispatch counter
local RES_TASKS = KEYS[4]    -- HASH task id -> meta (seq, queue, prio, eta, resources)
local RES_WAITING = KEYS[5]  -- HASH task id -> frame, for tasks not ready yet
local RES_READY = KEYS[6]    -- ZSET task id -> seq, became ready, not yet queued

-- Meta is `seq\nqueue\nprio\neta\n` then one `x:<resource>` or
-- `s:<resource>` line per resource; split with plain finds (no patterns:
-- this runs twice per release).
local function res_parse_meta(meta)
  local p1 = string.find(meta, '\n', 1, true)
  local p2 = string.find(meta, '\n', p1 + 1, true)
  local p3 = string.find(meta, '\n', p2 + 1, true)
  local p4 = string.find(meta, '\n', p3 + 1, true)
  local m = {
    seq = string.sub(meta, 1, p1 - 1),
    queue = string.sub(meta, p1 + 1, p2 - 1),
    prio = string.sub(meta, p2 + 1, p3 - 1),
    eta = string.sub(meta, p3 + 1, p4 - 1),
    res = {},
  }
  local pos = p4 + 1
  local len = #meta
  while pos <= len do
    local nl = string.find(meta, '\n', pos, true) or (len + 1)
    if nl > pos + 1 then
      m.res[#m.res + 1] = { mode = string.sub(meta, pos, pos), name = string.sub(meta, pos + 2, nl - 1) }
    end
    pos = nl + 1
  end
  return m
end

-- The first entry (`<x|s><task id>`) of resource `name`, or nil.
local function res_head(name)
  return redis.call('ZRANGE', RES_Q .. name, 0, 0)[1]
end

-- The seq (a decimal string) of the first exclusive entry of resource
-- `name`, or nil.
local function res_first_exclusive(name)
  return redis.call('ZRANGE', RES_X .. name, 0, 0, 'WITHSCORES')[2]
end

-- Whether task `id` (meta `m`) may run: no conflicting entry before its
-- own on any of its resources. `clear` (optional) names a resource already
-- known to be clear for it, which is not looked up again.
local function res_is_ready(id, m, clear)
  for _, r in ipairs(m.res) do
    if r.name ~= clear then
      if r.mode == 'x' then
        if res_head(r.name) ~= 'x' .. id then
          return false
        end
      else
        local ex = res_first_exclusive(r.name)
        if ex and tonumber(ex) < tonumber(m.seq) then
          return false
        end
      end
    end
  end
  return true
end

-- Whether task `id` holds reservations and must wait for others before
-- it may run (a task handed over behind another, taken back unrun).
local function res_waits(id)
  local meta = redis.call('HGET', RES_TASKS, id)
  return meta and not res_is_ready(id, res_parse_meta(meta))
end

-- Appends task `id` to the queues of its resources; returns whether it is ready.
local function res_reserve(id, queue, prio, eta, resources)
  -- Kept as a decimal string: Lua would print large numbers in exponent form.
  local seq = string.format('%d', redis.call('INCR', RES_SEQ))
  local meta = seq .. '\n' .. queue .. '\n' .. prio .. '\n' .. eta .. '\n' .. resources
  redis.call('HSET', RES_TASKS, id, meta)
  local m = res_parse_meta(meta)
  for _, r in ipairs(m.res) do
    redis.call('ZADD', RES_Q .. r.name, seq, r.mode .. id)
    if r.mode == 'x' then
      redis.call('ZADD', RES_X .. r.name, seq, id)
    end
  end
  return res_is_ready(id, m)
end

-- Whether RES_READY may hold members (read once per script, then kept up
-- to date by res_release), so that most releases skip a ZSCORE per waiter.
local res_ready_maybe = nil

-- Removes task `id`'s entries and hands on the waiters that became ready:
-- `push(c, meta, frame)` (optional) may queue a waiter at once and return
-- true; the others are marked in RES_READY and returned as a flat list
-- {id, queue, prio, ...} for the caller to queue (script push_ready).
-- `running` says the task ran (so it is neither waiting nor marked ready).
--
-- Only entries that this release can unblock are examined: the new first
-- entry of each resource if it is exclusive, and, when an exclusive entry
-- went away, the run of shared entries before the first exclusive one.
-- Candidates are examined in dispatch order.
local function res_release(id, push, running)
  local meta = redis.call('HGET', RES_TASKS, id)
  if not meta then
    return {}
  end
  local m = res_parse_meta(meta)
  for _, r in ipairs(m.res) do
    redis.call('ZREM', RES_Q .. r.name, r.mode .. id)
    if r.mode == 'x' then
      redis.call('ZREM', RES_X .. r.name, id)
    end
  end
  redis.call('HDEL', RES_TASKS, id)
  if not running then
    redis.call('HDEL', RES_WAITING, id)
    redis.call('ZREM', RES_READY, id)
  end
  if res_ready_maybe == nil then
    res_ready_maybe = redis.call('ZCARD', RES_READY) > 0
  end

  local seen = {}
  local ready = {}
  for _, r in ipairs(m.res) do
    local head = res_head(r.name)
    if head then
      local cands = {}
      if string.sub(head, 1, 1) == 'x' then
        cands[1] = string.sub(head, 2)
      elseif r.mode == 'x' then
        local ex = res_first_exclusive(r.name)
        local upto = ex and ('(' .. ex) or '+inf'
        for _, mem in ipairs(redis.call('ZRANGEBYSCORE', RES_Q .. r.name, '-inf', upto)) do
          cands[#cands + 1] = string.sub(mem, 2)
        end
      end
      -- Every candidate is clear on r.name: the head, or a shared entry
      -- before the first exclusive one.
      for _, c in ipairs(cands) do
        if not seen[c] then
          seen[c] = true
          local frame = redis.call('HGET', RES_WAITING, c)
          if frame and not (res_ready_maybe and redis.call('ZSCORE', RES_READY, c)) then
            local cm = res_parse_meta(redis.call('HGET', RES_TASKS, c))
            if res_is_ready(c, cm, r.name) and not (push and push(c, cm, frame)) then
              redis.call('ZADD', RES_READY, cm.seq, c)
              res_ready_maybe = true
              ready[#ready + 1] = c
              ready[#ready + 1] = cm.queue
              ready[#ready + 1] = cm.prio
            end
          end
        end
      end
    end
  end
  return ready
end
