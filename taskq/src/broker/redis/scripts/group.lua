-- Records how a chord member ended.
-- KEYS[1] the group's hash (field '<index>' = member output, 'failed' = '<index> <reason>'),
-- KEYS[2] the callback's task record
-- ARGV[1] member index, ARGV[2] group size, ARGV[3] ttl (s), ARGV[4] 'ok' or 'fail',
-- ARGV[5] output (ok) or reason (fail)
-- Returns { 'pending', done } | { 'complete', {index, output, ...} } | { 'sent' } |
--   { 'failed', '<index> <reason>' }.
local group = KEYS[1]
local failed = redis.call('HGET', group, 'failed')
if ARGV[4] == 'fail' then
  -- A member that already succeeded (and runs again) cannot fail the group.
  if not failed and redis.call('HEXISTS', group, ARGV[1]) == 0 then
    failed = ARGV[1] .. ' ' .. ARGV[5]
    redis.call('HSET', group, 'failed', failed)
  end
  redis.call('EXPIRE', group, ARGV[3])
  if failed then
    return { 'failed', failed }
  end
  return { 'pending', redis.call('HLEN', group) }
end
if failed then
  return { 'failed', failed }
end
-- Each index counts once, whatever how often its member runs.
redis.call('HSETNX', group, ARGV[1], ARGV[5])
redis.call('EXPIRE', group, ARGV[3])
local done = redis.call('HLEN', group)
if done < tonumber(ARGV[2]) then
  return { 'pending', done }
end
if redis.call('EXISTS', KEYS[2]) == 1 then
  return { 'sent' }
end
return { 'complete', redis.call('HGETALL', group) }
