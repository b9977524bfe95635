-- POST /events/{eventId}/queue: a place in the event's waiting room for A.user, one per user:
-- asking again returns the same place, or the admission it led to. Someone whose admission was
-- used or expired, or who was skipped for not asking, gets a new place at the back. Then the
-- queue moves on (advance_queue in lib.lua) and the user's standing is the reply.

local room, now, off = room_now(K.event, K.sections)
if off then
  return off
end
local user = A.user
redis.call('ZADD', K.seen, now, user)
local standing = queue_standing(K.queue, K.places, K.admissions, user, now)
if standing.status == 'ended' then
  local place = redis.call('HINCRBY', K.queue_state, 'next', 1)
  redis.call('HSET', K.places, user, place)
  redis.call('ZADD', K.queue, place, user)
end
advance_queue(room, K.queue, K.queue_state, K.admissions, K.checkouts, K.seen, now, tonumber(A.abandon_ms),
  A.seed)
return reply_standing(room, K.queue, K.places, K.admissions, user, now)
