-- A poll whose turn has come, in the event's slot: A.user takes the turn A.turn of their place
-- A.place (the replica computed the turn from the signed place and the rounds). Once per
-- place: asking again answers the admission it gave, `admitted` until it ends, then `ended`.
-- A turn not released yet is `waiting`; one released longer than A.abandon_ms ago and never
-- taken lapsed (`ended`: joining again gives a new place at the back).

local room, now, off = room_now(K.event, K.sections)
if off then
  return off
end
local user, turn = A.user, tonumber(A.turn)
if redis.call('HGET', K.queue_taken, user) == A.place then
  local ends = tonumber(redis.call('ZSCORE', K.admissions, user))
  if ends and ends > now then
    return reply({ status = 'admitted', admittedUntil = ends })
  end
  return reply({ status = 'ended' })
end
local state = redis.call('HMGET', K.queue_state, 'served', 'outstanding')
if turn >= (tonumber(state[1]) or 0) then
  return reply({ status = 'waiting' })
end
local first = redis.call('ZRANGE', K.queue_releases, turn, '-inf', 'BYSCORE', 'REV', 'LIMIT', 0, 1)[1]
local batch = first and redis.call('HGET', K.queue_batches, first)
local stop, at = string.match(batch or '', '^(%d+):(%d+)$')
if not stop or turn >= tonumber(stop) or tonumber(at) < now - tonumber(A.abandon_ms) then
  return reply({ status = 'ended' })
end
local ends = now + room.ttl
redis.call('ZADD', K.admissions, ends, user)
redis.call('HSET', K.queue_taken, user, A.place)
redis.call('HINCRBY', K.queue_batches, first .. ':taken', 1)
redis.call('HSET', K.queue_state, 'outstanding', (tonumber(state[2]) or 1) - 1)
return reply({ status = 'admitted', admittedUntil = ends })
