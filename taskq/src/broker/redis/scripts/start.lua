-- Marks tasks as started; reports those whose cancellation was requested.
-- KEYS[1] canceled-while-queued set, then one task record per task
-- ARGV[1] worker id, then per task 3 args: id, started (ms), attempt
-- Returns the 1-based positions of tasks to cancel.
local out = {}
for i = 2, #KEYS do
  local a = 1 + (i - 2) * 3
  local st = redis.call('HGET', KEYS[i], 'state')
  if st == 'pending' or st == 'retrying' or st == 'waiting' then
    redis.call('HSET', KEYS[i], 'state', 'started', 'started', ARGV[a + 2], 'attempt', ARGV[a + 3], 'worker', ARGV[1])
  end
  if st == 'canceled' or redis.call('HGET', KEYS[i], 'cancel') == '1' then
    redis.call('SREM', KEYS[1], ARGV[a + 1])
    out[#out + 1] = i - 1
  end
end
return out
