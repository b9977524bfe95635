-- GET /events/{eventId}/queue/{ticket}: A.user's standing, if A.ticket is their place. Asking
-- keeps the place (people who stop asking are skipped) and moves the queue on.

local room, now, off = room_now(K.event, K.sections)
if off then
  return off
end
local user = A.user
if redis.call('HGET', K.places, user) ~= A.ticket then
  return refuse('QUEUE_TICKET_NOT_FOUND')
end
-- QUEUE_POLL_RATE: how often one place may be asked about, whatever replica is asked.
local too_often = refuse_over_rate(K.poll_rate, A.poll_rate, A.poll_burst)
if too_often then
  return too_often
end
redis.call('ZADD', K.seen, now, user)
advance_queue(room, K.queue, K.queue_state, K.admissions, K.checkouts, K.seen, now, tonumber(A.abandon_ms),
  A.seed)
return reply_standing(room, K.queue, K.places, K.admissions, user, now)
