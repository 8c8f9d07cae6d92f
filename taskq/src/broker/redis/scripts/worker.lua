-- Registers a worker or renews its lease.
-- KEYS[1] workers zset, KEYS[2] the worker's registry hash
-- ARGV[1] worker id, ARGV[2] lease deadline (ms), ARGV[3] registry TTL (s),
-- ARGV[4] 'register' or 'heartbeat', then field/value pairs for the registry hash
-- Returns 1, or 0 when a heartbeat finds the worker was declared dead.
if ARGV[4] == 'heartbeat' then
  if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then
    return 0
  end
  redis.call('ZADD', KEYS[1], 'XX', ARGV[2], ARGV[1])
else
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
end
if #ARGV > 4 then
  redis.call('HSET', KEYS[2], unpack(ARGV, 5))
end
redis.call('EXPIRE', KEYS[2], ARGV[3])
return 1
