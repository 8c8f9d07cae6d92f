-- Removes a worker from the registry once it holds no task.
-- KEYS[1] workers zset, KEYS[2] the worker's in-flight hash, KEYS[3] its registry hash
-- Returns 1, or 0 if it still holds tasks (hand them back first).
if redis.call('HLEN', KEYS[2]) > 0 then
  return 0
end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[3])
return 1
