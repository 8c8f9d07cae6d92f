-- Resource reservations: a library prepended to the scripts that need it.
--
-- Every task that names resources gets a dispatch sequence number and one
-- entry per resource in RES_ALL (and, for exclusive ones, in RES_EXCL).
-- Entries are members `<resource>\0<seq as 16 hex digits><x|s><task id>` of
-- sorted sets with score 0, so ZRANGEBYLEX over `[<resource>\0` .. `(<resource>\1`
-- walks one resource's entries in dispatch order (FIFO).
--
-- A task is ready when, for each of its resources, no conflicting entry
-- stands before its own: for an exclusive entry it must be the first entry;
-- for a shared one, no exclusive entry may come before it. All entries of a
-- task are added in one atomic step, so any two tasks are ordered the same
-- way in every list they share and no waiting cycle (deadlock) can form.
--
-- These keys are fixed and come first in KEYS of every script that includes
-- this file:
local RES_ALL = KEYS[1]      -- ZSET of every entry
local RES_EXCL = KEYS[2]     -- ZSET of exclusive entries
local RES_SEQ = KEYS[3]      -- STRING dispatch counter
local RES_TASKS = KEYS[4]    -- HASH task id -> meta (seq, queue, prio, eta, resources)
local RES_WAITING = KEYS[5]  -- HASH task id -> frame, for tasks not ready yet
local RES_READY = KEYS[6]    -- ZSET task id -> seq, became ready, not yet queued

local function res_parse_meta(meta)
  local lines = {}
  for line in string.gmatch(meta, '[^\n]+') do
    lines[#lines + 1] = line
  end
  local m = { seq = lines[1], queue = lines[2], prio = lines[3], eta = lines[4], res = {} }
  for i = 5, #lines do
    m.res[#m.res + 1] = { mode = string.sub(lines[i], 1, 1), name = string.sub(lines[i], 3) }
  end
  return m
end

local function res_member(name, seq, mode, id)
  return name .. '\0' .. seq .. mode .. id
end

local function res_parse_member(member)
  local p = string.find(member, '\0', 1, true)
  return {
    name = string.sub(member, 1, p - 1),
    seq = string.sub(member, p + 1, p + 16),
    mode = string.sub(member, p + 17, p + 17),
    id = string.sub(member, p + 18),
  }
end

-- The first entry of `name` in `zset`, or nil.
local function res_head(zset, name)
  local r = redis.call('ZRANGEBYLEX', zset, '[' .. name .. '\0', '(' .. name .. '\1', 'LIMIT', 0, 1)
  return r[1]
end

-- Whether task `id` (meta `m`) may run: no conflicting entry before its
-- own on any of its resources. `clear` (optional) names a resource already
-- known to be clear for it, which is not looked up again.
local function res_is_ready(id, m, clear)
  for _, r in ipairs(m.res) do
    if r.name ~= clear then
      local mine = res_member(r.name, m.seq, r.mode, id)
      if r.mode == 'x' then
        if res_head(RES_ALL, r.name) ~= mine then
          return false
        end
      else
        local ex = res_head(RES_EXCL, r.name)
        if ex and ex < mine then
          return false
        end
      end
    end
  end
  return true
end

-- Appends task `id` to the lists of its resources; returns whether it is ready.
local function res_reserve(id, queue, prio, eta, resources)
  local seq = string.format('%016x', redis.call('INCR', RES_SEQ))
  local meta = seq .. '\n' .. queue .. '\n' .. prio .. '\n' .. eta .. '\n' .. resources
  redis.call('HSET', RES_TASKS, id, meta)
  local m = res_parse_meta(meta)
  for _, r in ipairs(m.res) do
    local mine = res_member(r.name, seq, r.mode, id)
    redis.call('ZADD', RES_ALL, 0, mine)
    if r.mode == 'x' then
      redis.call('ZADD', RES_EXCL, 0, mine)
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
    local mine = res_member(r.name, m.seq, r.mode, id)
    redis.call('ZREM', RES_ALL, mine)
    if r.mode == 'x' then
      redis.call('ZREM', RES_EXCL, mine)
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
    local head = res_head(RES_ALL, r.name)
    if head then
      local h = res_parse_member(head)
      local cands = {}
      if h.mode == 'x' then
        cands[1] = h.id
      elseif r.mode == 'x' then
        local ex = res_head(RES_EXCL, r.name)
        local upto = ex and ('(' .. ex) or ('(' .. r.name .. '\1')
        for _, mem in ipairs(redis.call('ZRANGEBYLEX', RES_ALL, '[' .. r.name .. '\0', upto)) do
          cands[#cands + 1] = res_parse_member(mem).id
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
              redis.call('ZADD', RES_READY, tonumber(cm.seq, 16), c)
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
