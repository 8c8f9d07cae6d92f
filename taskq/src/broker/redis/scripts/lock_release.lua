-- Releases a lock if the caller holds it (compare and delete), and wakes
-- waiters.
-- KEYS[1] the lock; ARGV[1] the holder's value ('<token> <owner>'), ARGV[2] release channel
-- Returns 1 if released, 0 if the caller did not hold it (any more).
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', ARGV[2], 'released')
  return 1
end
return 0
