-- PUT /events/{eventId}/waiting-room and POST /events with a waitingRoom: the event's waiting
-- room settings (see lib.lua), all at once. Turning it off lets everyone book; people in line
-- keep their places for when it is on again.

if redis.call('EXISTS', K.event) == 0 then
  return refuse('EVENT_NOT_FOUND')
end
if not may_manage(K.organizers, A.actor, A.role) then
  return refuse('FORBIDDEN', { message = 'only the organizers of this event (and admins) may change its waiting room' })
end
redis.call('HSET', K.sections, 'wr:enabled', A.enabled, 'wr:rate', A.rate, 'wr:max', A.max,
  'wr:ttl', A.ttl_ms, 'wr:order', A.order, 'wr:start', A.start_ms)
return reply({ ok = true })
