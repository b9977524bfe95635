-- GET /events/{eventId}/seats in one call, reading only: the ETag (event_tag in lib.lua) and,
-- unless A.if_none_match names it, what the map is made of, all as of one instant: the event
-- document (empty when A.with_document is '0': the replica has it, it never changes), the
-- booked-seats bitmap, the lock index (seat, expiry) and Redis's clock.
-- Replies {'not_modified', tag} or {'ok', tag, event, booked, locks, now}.

local tag, now, done = read_tag(K.event, K.version, K.lock_index, K.holds, A.if_none_match)
if done then
  return done
end
local document = A.with_document == '1' and redis.call('GET', K.event) or ''
return { 'ok', tag, document, redis.call('GET', K.booked_seats) or '',
  redis.call('ZRANGE', K.lock_index, 0, -1, 'WITHSCORES'), now }
