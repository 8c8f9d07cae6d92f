-- Accepts a batch of messages, each atomically.
-- KEYS[1..6]  reservation keys (see reservations.lua)
-- KEYS[7]     SET of queue names
-- then per message 4 keys: task record, ready list, delayed zset, wake list
-- ARGV[1] now (ms), ARGV[2] number of messages,
-- then per message 9 args: id, frame, queue, priority digit, eta ('' = now),
--   name, dedupe ('1' = ignore if the id is known), ttl (s), resources
--   ('x:name' / 's:name' lines, '' for none)
-- Returns one status per message: 'queued', 'waiting' or 'duplicate'.
local now = ARGV[1]
local n = tonumber(ARGV[2])
local out = {}
local woken = {}
for i = 0, n - 1 do
  local k = 7 + i * 4
  local task, list, delayed, wake = KEYS[k + 1], KEYS[k + 2], KEYS[k + 3], KEYS[k + 4]
  local a = 2 + i * 9
  local id, frame, queue, prio = ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4]
  local eta, name, dedupe, ttl, res = ARGV[a + 5], ARGV[a + 6], ARGV[a + 7], ARGV[a + 8], ARGV[a + 9]
  if dedupe == '1' and redis.call('EXISTS', task) == 1 then
    out[#out + 1] = 'duplicate'
  else
    if not woken[queue] then
      redis.call('SADD', KEYS[7], queue)
      woken[queue] = true
    end
    local ready = true
    if res ~= '' then
      ready = res_reserve(id, queue, prio, (eta == '' and '0') or eta, res)
    end
    local fields = { 'name', name, 'queue', queue, 'created', now, 'attempt', 0, 'ttl', ttl }
    if res ~= '' then
      fields[#fields + 1] = 'resources'
      fields[#fields + 1] = res
    end
    if eta ~= '' then
      fields[#fields + 1] = 'eta'
      fields[#fields + 1] = eta
    end
    if not ready then
      redis.call('HSET', RES_WAITING, id, frame)
      redis.call('HSET', task, 'state', 'waiting', unpack(fields))
      out[#out + 1] = 'waiting'
    else
      redis.call('HSET', task, 'state', 'pending', unpack(fields))
      if eta ~= '' then
        redis.call('ZADD', delayed, eta, prio .. frame)
      else
        redis.call('LPUSH', list, frame)
      end
      out[#out + 1] = 'queued'
    end
    if not woken[wake] then
      redis.call('LPUSH', wake, '1')
      redis.call('LTRIM', wake, 0, 0)
      woken[wake] = true
    end
  end
end
return out
