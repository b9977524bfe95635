-- PUT|DELETE /events/{eventId}/organizers/{userId}: adds A.user to (A.op 'add') or removes
-- them from (A.op 'remove') the organizers who manage the event; GET (A.op 'list') reads them.
-- Only whoever manages it may (may_manage in lib.lua). Replies with the organizers after.

if redis.call('EXISTS', K.event) == 0 then
  return refuse('EVENT_NOT_FOUND')
end
if not may_manage(K.organizers, A.actor, A.role) then
  return refuse('FORBIDDEN', { message = 'only the organizers of this event (and admins) may see or change who manages it' })
end
if A.op == 'add' then
  redis.call('SADD', K.organizers, A.user)
elseif A.op == 'remove' then
  redis.call('SREM', K.organizers, A.user)
end
local organizers = redis.call('SMEMBERS', K.organizers)
table.sort(organizers)
return reply({ organizers = organizers })
