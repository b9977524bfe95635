-- A replica's refresh of a waiting room reads each queue shard: how many places it gave
-- (`next`), how many of them before the sale's start (`pre`), and its clock. Reads only.

local counts = redis.call('HMGET', K.shard_state, 'next', 'pre')
return reply({ next = tonumber(counts[1]) or 0, pre = tonumber(counts[2]) or 0, now = now_ms() })
