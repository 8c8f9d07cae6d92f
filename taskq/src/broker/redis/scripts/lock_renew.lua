-- Extends a lock's TTL if the caller still holds it.
-- KEYS[1] the lock; ARGV[1] the holder's value ('<token> <owner>'), ARGV[2] ttl (ms)
-- Returns 1 if renewed, 0 if the lock is gone or held by someone else.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
