-- Grants a lock if it is free, with a new fencing token.
-- KEYS[1] the lock (STRING '<token> <owner>', with a TTL), KEYS[2] its fencing counter
-- ARGV[1] owner (unique per acquisition), ARGV[2] ttl (ms)
-- Returns { 1, token } when granted, { 0, ms until the holder's TTL ends } when held.
if redis.call('EXISTS', KEYS[1]) == 1 then
  return { 0, redis.call('PTTL', KEYS[1]) }
end
-- The token is drawn in the same step as the grant: every grant gets a
-- larger one than every earlier grant of this lock.
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], token .. ' ' .. ARGV[1], 'PX', ARGV[2])
return { 1, token }
