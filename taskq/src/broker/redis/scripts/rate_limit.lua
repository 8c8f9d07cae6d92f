-- Counts one start of a rate-limited task type in a fixed window.
-- KEYS[1] the task type's rate counter (HASH: w = window number, n = starts counted in it)
-- ARGV[1] now (ms), ARGV[2] window length (ms), ARGV[3] starts allowed per window
-- Returns 0 if the start is allowed, else when to try again (ms): the start
-- of window w + ceil(k / limit) for the k-th refused start of window w, so a
-- backlog spreads over the following windows.
local now = tonumber(ARGV[1])
local win = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local w = math.floor(now / win)
local cur = redis.call('HMGET', KEYS[1], 'w', 'n')
local n = 0
if tonumber(cur[1]) == w then
  n = tonumber(cur[2]) or 0
end
n = n + 1
redis.call('HSET', KEYS[1], 'w', string.format('%d', w), 'n', n)
redis.call('PEXPIREAT', KEYS[1], string.format('%d', (w + 1) * win + 1000))
if n <= limit then
  return 0
end
local k = n - limit
return (w + math.ceil(k / limit)) * win
