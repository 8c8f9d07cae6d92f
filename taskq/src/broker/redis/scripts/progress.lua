-- Stores a progress report on a task record that exists.
-- KEYS[1] task record; ARGV[1] the encoded report
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[1], 'progress', ARGV[1])
  return 1
end
return 0
