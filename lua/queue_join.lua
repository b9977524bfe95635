-- POST /events/{eventId}/queue, on the joiner's queue shard (`bo:{E~k~x}`, see lib.lua): a
-- place in the event's waiting room for A.user, one per user. Asking again returns the same
-- place; A.replace, the place whose turn has ended (its admission used or expired, or it
-- lapsed), gives a new one at the back instead. A.start: the sale's start (ms) as the replica
-- knows it; places given before it count as `pre` (the shuffle draws them).

local place = redis.call('HGET', K.shard_places, A.user)
if place and place ~= A.replace then
  return reply({ seq = tonumber(place), new = false })
end
local seq = redis.call('HINCRBY', K.shard_state, 'next', 1) - 1
redis.call('HSET', K.shard_places, A.user, seq)
if now_ms() < tonumber(A.start) then
  redis.call('HSET', K.shard_state, 'pre', seq + 1)
end
return reply({ seq = seq, new = true })
